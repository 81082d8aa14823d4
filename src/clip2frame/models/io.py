"""The self-describing model file: ``model.safetensors`` with JSON metadata.

Tensors: the network's ``state_dict`` under ``net.`` plus ``feature.mean`` / ``feature.std`` [S, M].
Metadata key ``clip2frame``: JSON with ``format_version``, ``name``, ``version``, ``model_config``,
``feature_spec``, ``labels``, ``kinds``, ``thresholds``, ``provenance`` (command, config, data, seed,
versions, created) and, optionally, ``card`` (the model card, :data:`CARD_FIELDS`; files without one
load as before). Everything needed to run the model and to trace any result back to its settings.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .._version import __version__
from ..config import from_dict, to_dict
from ..errors import ConfigError, ModelFileError
from ..fileio import atomic_write_bytes
from .config import AudioModelConfig
from .fcn import Clip2FrameNet

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_KEY = "clip2frame"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "assets" / "default_model.safetensors"


#: The model card: what the model is for, what it learned from, how it did on data it never saw, and
#: where it fails. ``held_out_results`` is a list of ``{"data": str, "metrics": {name: number},
#: "source": str}`` (``source``: the command or report and the date the figures were measured).
CARD_FIELDS = ("intended_use", "training_data", "held_out_results", "known_limits")


def check_card(card: Any, *, where: str = "card") -> dict[str, Any]:
    """``card`` checked against :data:`CARD_FIELDS` (``ConfigError`` naming ``where`` and the problem)."""
    if not isinstance(card, dict):
        raise ConfigError(f"{where}: a model card is a mapping with {', '.join(CARD_FIELDS)}")
    missing = [k for k in CARD_FIELDS if not card.get(k)]
    if missing:
        raise ConfigError(f"{where}: model card lacks {', '.join(missing)}")
    for k in ("intended_use", "training_data"):
        if not isinstance(card[k], str):
            raise ConfigError(f"{where}: {k} must be text")
    limits = card["known_limits"]
    if not (isinstance(limits, list) and all(isinstance(x, str) for x in limits)):
        raise ConfigError(f"{where}: known_limits must be a list of sentences")
    results = card["held_out_results"]
    if not isinstance(results, list):
        raise ConfigError(f"{where}: held_out_results must be a list")
    for i, r in enumerate(results):
        ok = (isinstance(r, dict) and isinstance(r.get("data"), str) and isinstance(r.get("source"), str)
              and isinstance(r.get("metrics"), dict) and r["metrics"]
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r["metrics"].values()))
        if not ok:
            raise ConfigError(f"{where}: held_out_results[{i}] needs data (text), source (text) and metrics "
                              "(name: number)")
    return card


def runtime_versions() -> dict[str, str]:
    return {"clip2frame": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


@dataclass
class TaggerModel:
    """A trained network with everything needed to go from a waveform to frame activations."""

    net: Clip2FrameNet
    feature_spec: Any  # clip2frame.audio.features.FeatureSpec
    standardizer: Any  # clip2frame.audio.features.Standardizer
    labels: list[str]
    kinds: dict[str, str]
    thresholds: np.ndarray
    name: str = "clip2frame"
    version: str = __version__
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    card: dict[str, Any] | None = None

    @property
    def total_stride(self) -> int:
        return self.net.total_stride

    @property
    def frame_seconds(self) -> float:
        """Duration of one output frame (0.512 s for stride 16 at 16 kHz, hop 512)."""
        return self.total_stride * self.feature_spec.hop_length / self.feature_spec.sr

    def metadata(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "model_config": to_dict(self.net.cfg),
            "feature_spec": to_dict(self.feature_spec),
            "labels": list(self.labels),
            "kinds": dict(self.kinds),
            "thresholds": [round(float(t), 6) for t in self.thresholds],
            "provenance": self.provenance,
            **({"card": self.card} if self.card else {}),
        }

    def with_thresholds(self, thresholds: Sequence[float] | np.ndarray, *, source: str) -> "TaggerModel":
        prov = dict(self.provenance)
        prov.setdefault("threshold_history", []).append(
            {"source": source, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        return TaggerModel(self.net, self.feature_spec, self.standardizer, list(self.labels), dict(self.kinds),
                           np.asarray(thresholds, dtype=np.float32), self.name, self.version, prov, self.path,
                           self.card)


def save_model(path: str | Path, model: TaggerModel) -> Path:
    """Write ``model`` to ``path`` (atomically)."""
    from safetensors.torch import save

    path = Path(path)
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    tensors.update(model.standardizer.to_tensors())
    meta = model.metadata()
    meta["provenance"] = {**meta["provenance"], "versions": meta["provenance"].get("versions") or runtime_versions()}
    data = save(tensors, metadata={META_KEY: json.dumps(meta)})
    atomic_write_bytes(path, data)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a model file, without loading the weights."""
    from safetensors import safe_open

    path = Path(path)
    _check_exists(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(f"{path}: not a readable safetensors model file ({_first_line(e)})") from None
    if raw is None:
        raise ModelFileError(f"{path}: safetensors file has no '{META_KEY}' metadata (not a clip2frame model)")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{path}: model metadata is not valid JSON ({e})") from None
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format {meta.get('format_version')} is newer than this clip2frame "
                             f"({FORMAT_VERSION}); upgrade clip2frame")
    return meta


def load_model(path: str | Path | None = None, *, device: str | torch.device = "cpu") -> TaggerModel:
    """Load a model file (the packaged default model when ``path`` is None or ``"default"``)."""
    from safetensors.torch import load_file

    from ..audio.features import FeatureSpec, Standardizer

    path = DEFAULT_MODEL_PATH if path in (None, "default") else Path(path)
    if path == DEFAULT_MODEL_PATH and not path.is_file():
        raise ModelFileError(f"{path}: the default model is not installed with this copy of clip2frame")
    meta = read_metadata(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as e:
        raise ModelFileError(f"{path}: model weights are truncated or corrupted ({_first_line(e)})") from None
    try:
        cfg = from_dict(AudioModelConfig, meta["model_config"])
        spec = FeatureSpec.from_dict(meta["feature_spec"])
        labels = list(meta["labels"])
        net = Clip2FrameNet(cfg, len(labels))
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        net.load_state_dict(state, strict=True)
        std = Standardizer.from_tensors(tensors)
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: model file is inconsistent ({_first_line(e)})") from None
    thresholds = np.asarray(meta.get("thresholds") or [0.5] * len(labels), dtype=np.float32)
    if thresholds.shape != (len(labels),):
        raise ModelFileError(f"{path}: {thresholds.shape[0]} thresholds for {len(labels)} labels")
    net.eval().to(device)
    card = meta.get("card")
    if card is not None and not isinstance(card, dict):
        raise ModelFileError(f"{path}: model card is not a mapping")
    return TaggerModel(net, spec, std, labels, dict(meta.get("kinds", {})), thresholds,
                       meta.get("name", path.stem), meta.get("version", "?"), meta.get("provenance", {}), path,
                       card)


def write_card(path: str | Path, card: dict[str, Any], *, out: str | Path | None = None) -> Path:
    """Store ``card`` (checked by :func:`check_card`) in the model file ``path``, or in a copy ``out``.

    Only the metadata changes: the tensors are copied as they are, and the file is replaced atomically.
    """
    from safetensors.torch import load_file, save

    src = DEFAULT_MODEL_PATH if str(path) == "default" else Path(path)
    meta = read_metadata(src)
    check_card(card)
    try:
        tensors = load_file(str(src), device="cpu")
    except Exception as e:
        raise ModelFileError(f"{src}: model weights are truncated or corrupted ({_first_line(e)})") from None
    meta["card"] = card
    dest = Path(out) if out is not None else src
    atomic_write_bytes(dest, save(tensors, metadata={META_KEY: json.dumps(meta)}))
    return dest


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, expected a .safetensors model file")
    if path.stat().st_size < 8:
        raise ModelFileError(f"{path}: model file is empty or truncated")


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]
