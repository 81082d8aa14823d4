"""The four training targets of the action model (thesis §4.1.2, Figs. 4.1–4.2).

Shapes: ``A`` action heat map [N, K, h, w] (probabilities), ``O`` object heat map [N, K, h, w],
``S`` sound activations [N, K], ``V`` video tags [N, K] (0/1, one row per frame). ``N`` runs over frames.

* VT        ``BCE(max_ij A, V)``
* OT(u)     ``BCE(A, Ô^u)``                    Ô^u = [O ≥ u]
* ST(v)     ``BCE(max_ij A, Ŝ^v)``             Ŝ^v = [S ≥ v]
* SOT(v,u)  ``BCE(A, Ŝ^v · Ô^u)``

Names: ``VT``, ``OT03`` (u = 0.3), ``ST05`` (v = 0.5), ``SOT0503`` (v = 0.5, u = 0.3).

``pos_weight`` w (not in the thesis, which has w = 1): every BCE term with target 1 counts w times,
``-(w q log p + (1-q) log(1-p))``. The dense targets are sparse — with SOT0503 on the embedded corpus about
0.8% of the cells are positive — so at w = 1 a from-scratch net learns little beyond "low everywhere".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F

from ...errors import ConfigError

TargetKind = Literal["VT", "OT", "ST", "SOT"]
_EPS = 1e-7


def binarise(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """``1`` where ``x ≥ threshold`` else ``0`` (Eqs. 4.1–4.2), same shape, float."""
    return (x >= threshold).to(torch.float32)


def _bce(p: torch.Tensor, q: torch.Tensor, pos_weight: float = 1.0) -> torch.Tensor:
    """Mean binary cross-entropy ``-(w q log p + (1-q) log(1-p))`` on probabilities (w = ``pos_weight``)."""
    p = p.clamp(_EPS, 1 - _EPS)
    q = q.to(p.dtype)
    if pos_weight == 1.0:
        return F.binary_cross_entropy(p, q)
    return F.binary_cross_entropy(p, q, weight=1.0 + (pos_weight - 1.0) * q)


def _match(O: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    if O.shape[-2:] != A.shape[-2:]:
        O = F.interpolate(O, size=A.shape[-2:], mode="nearest")
    return O


def vt_loss(A: torch.Tensor, V: torch.Tensor, pos_weight: float = 1.0) -> torch.Tensor:
    """Video tag as target: ``BCE(max_ij A [N,K], V [N,K])``."""
    return _bce(A.amax(dim=(-2, -1)), V, pos_weight)


def ot_target(O: torch.Tensor, u: float) -> torch.Tensor:
    """Ô^u [N, K, h, w]."""
    return binarise(O, u)


def ot_loss(A: torch.Tensor, O: torch.Tensor, u: float, pos_weight: float = 1.0) -> torch.Tensor:
    """Object as target: ``BCE(A, [O ≥ u])`` over every cell."""
    return _bce(A, ot_target(_match(O, A), u), pos_weight)


def st_target(S: torch.Tensor, v: float) -> torch.Tensor:
    """Ŝ^v [N, K]."""
    return binarise(S, v)


def st_loss(A: torch.Tensor, S: torch.Tensor, v: float, pos_weight: float = 1.0) -> torch.Tensor:
    """Sound as target: ``BCE(max_ij A, [S ≥ v])``."""
    return _bce(A.amax(dim=(-2, -1)), st_target(S, v), pos_weight)


def sot_target(S: torch.Tensor, O: torch.Tensor, v: float, u: float) -> torch.Tensor:
    """Ŝ^v · Ô^u [N, K, h, w]."""
    return binarise(S, v)[..., None, None] * binarise(O, u)


def sot_loss(A: torch.Tensor, S: torch.Tensor, O: torch.Tensor, v: float, u: float,
             pos_weight: float = 1.0) -> torch.Tensor:
    """Sound × Object as target: ``BCE(A, [S ≥ v]·[O ≥ u])`` over every cell."""
    return _bce(A, sot_target(S, _match(O, A), v, u), pos_weight)


@dataclass(frozen=True)
class TargetSpec:
    """Which target and its thresholds (``sound_threshold`` v, ``object_threshold`` u)."""

    kind: TargetKind = "VT"
    sound_threshold: float | None = None
    object_threshold: float | None = None

    def __post_init__(self) -> None:
        needs_v = self.kind in ("ST", "SOT")
        needs_u = self.kind in ("OT", "SOT")
        if needs_v != (self.sound_threshold is not None):
            raise ConfigError(f"target {self.kind}: sound threshold {'required' if needs_v else 'not used'}")
        if needs_u != (self.object_threshold is not None):
            raise ConfigError(f"target {self.kind}: object threshold {'required' if needs_u else 'not used'}")
        for t in (self.sound_threshold, self.object_threshold):
            if t is not None and not 0.0 <= t <= 1.0:
                raise ConfigError(f"target {self.kind}: threshold {t} outside [0, 1]")

    @property
    def name(self) -> str:
        """The target's name on the command line (:func:`target_name`)."""
        return target_name(self)

    @property
    def needs_sound(self) -> bool:
        """Whether the target reads the sound model's activations (ST, SOT)."""
        return self.kind in ("ST", "SOT")

    @property
    def needs_object(self) -> bool:
        """Whether the target reads the object model's maps (OT, SOT)."""
        return self.kind in ("OT", "SOT")

    def loss(self, A: torch.Tensor, *, V: torch.Tensor | None = None, S: torch.Tensor | None = None,
             O: torch.Tensor | None = None, pos_weight: float = 1.0) -> torch.Tensor:
        """The loss of this target for action maps ``A`` and whichever of V, S, O it needs."""
        w = pos_weight
        if self.kind == "VT":
            return vt_loss(A, _given(V, "V"), w)
        if self.kind == "OT":
            return ot_loss(A, _given(O, "O"), _given(self.object_threshold, "object_threshold"), w)
        if self.kind == "ST":
            return st_loss(A, _given(S, "S"), _given(self.sound_threshold, "sound_threshold"), w)
        return sot_loss(A, _given(S, "S"), _given(O, "O"), _given(self.sound_threshold, "sound_threshold"),
                        _given(self.object_threshold, "object_threshold"), w)


_T = TypeVar("_T")


def _given(x: _T | None, name: str) -> _T:
    if x is None:
        raise ValueError(f"target: {name} is needed and was not given")
    return x


def _fmt(t: float | None) -> str:
    t = _given(t, "threshold")
    d = round(t * 10)
    if abs(d - t * 10) < 1e-9 and 0 <= d <= 10:
        return f"{d:02d}"
    raise ConfigError(f"threshold {t}: target names encode multiples of 0.1 only")


def target_name(spec: TargetSpec) -> str:
    """``VT``, ``OT03``, ``ST05``, ``SOT0503``."""
    if spec.kind == "VT":
        return "VT"
    if spec.kind == "OT":
        return "OT" + _fmt(spec.object_threshold)
    if spec.kind == "ST":
        return "ST" + _fmt(spec.sound_threshold)
    return "SOT" + _fmt(spec.sound_threshold) + _fmt(spec.object_threshold)


_NAME = re.compile(r"^(VT|OT|ST|SOT)(\d\d)?(\d\d)?$")


def parse_target(name: str) -> TargetSpec:
    """``"SOT0503"`` -> ``TargetSpec("SOT", 0.5, 0.3)``; raises :class:`ConfigError` on a bad name."""
    m = _NAME.match(name.strip().upper())
    if not m:
        raise ConfigError(f"target '{name}': expected VT, OTuu, STvv or SOTvvuu (e.g. SOT0503)")
    kind, a, b = m.groups()
    try:
        if kind == "VT" and a is None:
            return TargetSpec("VT")
        if kind == "OT" and a is not None and b is None:
            return TargetSpec("OT", object_threshold=int(a) / 10)
        if kind == "ST" and a is not None and b is None:
            return TargetSpec("ST", sound_threshold=int(a) / 10)
        if kind == "SOT" and a is not None and b is not None:
            return TargetSpec("SOT", sound_threshold=int(a) / 10, object_threshold=int(b) / 10)
    except ConfigError as e:
        raise ConfigError(f"target '{name}': {e}") from None
    raise ConfigError(f"target '{name}': expected VT, OTuu, STvv or SOTvvuu (e.g. SOT0503)")


def make_target(kind: str, *, sound_threshold: float | None = None,
                object_threshold: float | None = None) -> TargetSpec:
    """A spec from a kind (``VT``/``OT``/``ST``/``SOT``) and the thresholds it needs (others ignored)."""
    k = kind.strip().upper()
    if k not in ("VT", "OT", "ST", "SOT"):
        return parse_target(kind)
    return TargetSpec(k,  # type: ignore[arg-type]
                      sound_threshold if k in ("ST", "SOT") else None,
                      object_threshold if k in ("OT", "SOT") else None)
