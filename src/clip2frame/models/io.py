"""The self-describing model file of every model kind: ``*.safetensors`` with JSON metadata.

Kinds (resolved by :mod:`clip2frame.models.registry`, :data:`~clip2frame.models.registry.KINDS`): ``music`` (the clip-to-frame tagger of ch. 3) and ``sound`` (the same network
on a video's audio track) load as :class:`TaggerModel`; ``object`` and ``action`` (the visual FCNs of
ch. 4) load as :class:`VisualModel`.

Tensors: the network's ``state_dict`` under ``net.``, plus ``feature.mean`` / ``feature.std`` [S, M] for
the audio kinds. Metadata key ``clip2frame``: JSON with ``format_version``, ``kind``, ``name``,
``version``, ``model_config``, ``labels``, ``kinds``, ``thresholds``, ``provenance`` (command, config,
data, seed, versions, created), for audio kinds ``feature_spec``, for an action model its ``target``, and,
optionally, ``card`` (the model card, :data:`CARD_FIELDS`; files without one load as before). Everything
needed to run the model and to trace any result back to its settings.

Identity: :func:`tensors_sha256` — the hex SHA-256 of the model's tensors (every tensor of the file, in
sorted name order: name, dtype, shape, then its raw little-endian bytes as stored), computed once when a
file is loaded (``TaggerModel.weights_sha256`` / ``VisualModel.weights_sha256``). Metadata (name, card,
thresholds) does not enter it: two files with the same weights are the same network. Every output of
``clip2frame tag`` records it (:mod:`clip2frame.results.provenance`).

Older files load too: format 1 has no ``kind`` (a tagger: ``sound`` when its labels are the video
instruments, else ``music``), and the video models of format 1 (``format: clip2frame-video-fcn``) keep
their tensors without the ``net.`` prefix. A file of a newer format than this copy knows is refused.
Labels spelled otherwise when the file was written are read in today's spelling (:data:`LABEL_RENAMES`: the
video models' ``drum`` is ``drums``, the music vocabulary's spelling, since issue #26); the packaged video
models were written before and are read through it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, cast

import numpy as np
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save

from .._version import __version__
from ..audio.features import FeatureSpec, Standardizer
from ..config import to_dict
from ..errors import ConfigError, ModelFileError
from ..fileio import atomic_write_bytes
from ..rundir import utc_timestamp
from ..tags import VIDEO_INSTRUMENTS
from ..timebase import frame_seconds
from .fcn import Clip2FrameNet
from .registry import AUDIO_KINDS, DEFAULT_MODEL_PATH, MODEL_KINDS, VISUAL_KINDS, default_model_path, model_kind
from .visual import VisualFCN

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
#: Video-model labels renamed since files were written: old spelling -> today's (:data:`clip2frame.tags.VIDEO_INSTRUMENTS`).
#: Music models keep their labels as written (a MagnaTagATune model may have a tag ``drum`` of its own).
LABEL_RENAMES: dict[str, str] = {"drum": "drums"}
META_KEY = "clip2frame"
#: ``format`` of the object/action files of format 1 (written by the video trainer before the kinds).
LEGACY_VISUAL_FORMAT = "clip2frame-video-fcn"


#: The model card: what the model is for, what it learned from, how it did on data it never saw, and
#: where it fails. ``held_out_results`` is a list of ``{"data": str, "metrics": {name: number},
#: "source": str}`` (``source``: the command or report and the date the figures were measured).
CARD_FIELDS = ("intended_use", "training_data", "held_out_results", "known_limits")


def read_card(card_path: str | Path, *, where: str = "card") -> dict[str, Any]:
    """A model card from a YAML (or JSON) file, checked by :func:`check_card`; an unreadable file, bad YAML or a
    bad card is a ``ConfigError`` naming ``where``, the file and the problem."""
    try:
        card = yaml.safe_load(Path(card_path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{where}: {card_path}: cannot read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: {card_path}: not YAML/JSON ({' '.join(str(e).split())})") from None
    return check_card(card, where=f"{where}: {card_path}")


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
    """Versions recorded in a model's provenance: clip2frame, torch, numpy, Python."""
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
    kind: str = "music"
    #: :func:`tensors_sha256` of the weights ("" until known: :func:`weights_sha256` computes it)
    weights_sha256: str = ""

    def ensure_weights_sha256(self) -> str:
        """:func:`weights_sha256` of this model (the identity :mod:`clip2frame.results.provenance` records)."""
        return weights_sha256(self)

    @property
    def total_stride(self) -> int:
        """Input frames per output frame of the network."""
        return self.net.total_stride

    @property
    def frame_seconds(self) -> float:
        """Duration of one output frame (0.512 s for stride 16 at 16 kHz, hop 512)."""
        return frame_seconds(self.total_stride, hop_length=self.feature_spec.hop_length, sr=self.feature_spec.sr)

    def metadata(self) -> dict[str, Any]:
        """The model file's ``clip2frame`` metadata of this model."""
        return _metadata(self, feature_spec=to_dict(self.feature_spec))

    def with_thresholds(self, thresholds: Sequence[float] | np.ndarray, *, source: str) -> "TaggerModel":
        """A copy with new thresholds [K], ``source`` recorded in the provenance's threshold history."""
        prov = dict(self.provenance)
        prov.setdefault("threshold_history", []).append(
            {"source": source, "created": utc_timestamp()})
        return TaggerModel(self.net, self.feature_spec, self.standardizer, list(self.labels), dict(self.kinds),
                           np.asarray(thresholds, dtype=np.float32), self.name, self.version, prov, self.path,
                           self.card, self.kind, self.weights_sha256)


@dataclass
class VisualModel:
    """An object or action FCN (:class:`clip2frame.models.visual.VisualFCN`) with its labels and settings.

    ``target`` (action models) is the training target (``{"kind", "sound_threshold", "object_threshold",
    "name"}``); ``thresholds`` [K] are the event thresholds on the frame score."""

    net: VisualFCN
    kind: str
    labels: list[str]
    thresholds: np.ndarray
    kinds: dict[str, str] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    name: str = "clip2frame-video"
    version: str = __version__
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    card: dict[str, Any] | None = None
    #: :func:`tensors_sha256` of the weights ("" until known: :func:`weights_sha256` computes it)
    weights_sha256: str = ""

    def ensure_weights_sha256(self) -> str:
        """:func:`weights_sha256` of this model (the identity :mod:`clip2frame.results.provenance` records)."""
        return weights_sha256(self)

    def metadata(self) -> dict[str, Any]:
        """The model file's ``clip2frame`` metadata of this model."""
        return _metadata(self, target=self.target)


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Hex SHA-256 identifying a set of tensors: for each name in sorted order, the name, dtype and shape
    (one line, NUL-terminated), then the tensor's raw bytes (little-endian, C order).

    Parameters
    ----------
    tensors : dict[str, torch.Tensor]
        A model file's tensors as stored (``net.*`` and, for audio kinds, ``feature.mean``/``feature.std``).
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}\t{str(t.dtype).removeprefix('torch.')}\t{list(t.shape)}\0".encode("utf-8"))
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_tensors(model: TaggerModel | VisualModel, *, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The tensors a model file of ``model`` holds (what :func:`save_model` writes): the network's state dict
    under ``net.`` (floating-point ones cast to ``dtype`` when given) plus the standardiser of a tagger."""
    def cast(v: torch.Tensor) -> torch.Tensor:
        v = v.detach().cpu()
        return (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous()

    tensors = {f"net.{k}": cast(v) for k, v in model.net.state_dict().items()}
    if isinstance(model, TaggerModel):
        tensors.update(model.standardizer.to_tensors())
    return tensors


def weights_sha256(model: TaggerModel | VisualModel) -> str:
    """``model.weights_sha256``, computed from the in-memory tensors (and kept) when the model was not loaded
    from a file; equal to the file's when the model is saved without a ``dtype`` cast."""
    if not model.weights_sha256:
        model.weights_sha256 = tensors_sha256(model_tensors(model))
    return model.weights_sha256


def _metadata(model: TaggerModel | VisualModel, **specific: Any) -> dict[str, Any]:
    """The model file's metadata: the fields every kind has, ``specific`` ones after the model config."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "name": model.name,
        "version": model.version,
        "model_config": to_dict(model.net.cfg),
        **specific,
        "labels": list(model.labels),
        "kinds": dict(model.kinds),
        "thresholds": [round(float(t), 6) for t in model.thresholds],
        "provenance": model.provenance,
        **({"card": model.card} if model.card else {}),
    }


def save_model(path: str | Path, model: TaggerModel | VisualModel, *, dtype: torch.dtype | None = None) -> Path:
    """Write ``model`` to ``path`` (atomically); ``dtype`` (e.g. ``torch.float16``) stores the network's
    floating-point weights at that precision (loading casts them back to float32)."""
    path = Path(path)
    model_kind(model.kind)  # ConfigError for a kind the registry does not know

    tensors = model_tensors(model, dtype=dtype)
    meta = model.metadata()
    meta["provenance"] = {**meta["provenance"], "versions": meta["provenance"].get("versions") or runtime_versions()}
    data = save(tensors, metadata={META_KEY: json.dumps(meta)})
    atomic_write_bytes(path, data)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a model file, without loading the weights."""
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
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: model metadata is not a JSON object")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{path}: model format version {version!r} is not a number")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format {version} is newer than this clip2frame "
                             f"({FORMAT_VERSION}); upgrade clip2frame")
    meta["kind"] = _kind_of(meta, path)
    if meta["kind"] != "music":
        _rename_labels(meta)
    return meta


def _rename_labels(meta: dict[str, Any]) -> None:
    """A video model's labels (and the keys of its ``kinds``) in today's spelling (:data:`LABEL_RENAMES`)."""
    if isinstance(meta.get("labels"), list):
        meta["labels"] = [LABEL_RENAMES.get(lab, lab) if isinstance(lab, str) else lab for lab in meta["labels"]]
    if isinstance(meta.get("kinds"), dict):
        meta["kinds"] = {LABEL_RENAMES.get(k, k): v for k, v in meta["kinds"].items()}


def _kind_of(meta: dict[str, Any], path: Path) -> str:
    """The file's kind; format-1 files, which have none, by what they hold."""
    kind = meta.get("kind")
    if kind is None and meta.get("format_version", 0) <= 1:
        labels = [LABEL_RENAMES.get(lab, lab) for lab in meta.get("labels") or []]
        kind = "sound" if labels == list(VIDEO_INSTRUMENTS) else "music"
    if kind not in MODEL_KINDS:
        raise ModelFileError(f"{path}: unknown model kind {kind!r} (known: {', '.join(MODEL_KINDS)})")
    return str(kind)


def _check_kind(path: Path, meta: dict[str, Any], allowed: Sequence[str], kind: str | None) -> None:
    want = (kind,) if kind is not None else tuple(allowed)
    if meta["kind"] not in want:
        raise ModelFileError(f"{path}: is a{'n' if meta['kind'][0] in 'aeiou' else ''} {meta['kind']} model, "
                             f"expected {' or '.join(want)}")


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except Exception as e:
        raise ModelFileError(f"{path}: model weights are truncated or corrupted ({_first_line(e)})") from None


def _net_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The network's state dict (float32): ``net.`` tensors, or every tensor of a format-1 video file."""
    if meta.get("format") == LEGACY_VISUAL_FORMAT:
        state = dict(tensors)
    else:
        state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def resolve_model_path(path: str | Path | None, kind: str) -> Path:
    """``None``/``"default"`` -> the packaged model of ``kind``; a run directory -> its ``model.safetensors``."""
    if path is None or str(path) == "default":
        p = default_model_path(kind)
        if not p.is_file():
            raise ModelFileError(f"{p}: the default {kind} model is not installed with this copy of clip2frame")
        return p
    p = Path(path)
    return p / "model.safetensors" if p.is_dir() and (p / "model.safetensors").is_file() else p


def load_model(path: str | Path | None = None, *, device: str | torch.device = "cpu",
               kind: str | None = None) -> TaggerModel:
    """Load a music or sound model file (the packaged default model of ``kind``, music unless given, when
    ``path`` is None or ``"default"``; a run directory means its ``model.safetensors``).

    ``kind`` (``music`` or ``sound``) refuses a file of another kind; without it either loads."""
    path = resolve_model_path(path, kind or "music")
    meta = read_metadata(path)
    _check_kind(path, meta, AUDIO_KINDS, kind)
    tensors = _load_tensors(path)
    try:
        net_kind = model_kind(meta["kind"])
        cfg = net_kind.config(meta["model_config"])
        spec = FeatureSpec.from_dict(meta["feature_spec"])
        labels = list(meta["labels"])
        net = cast(Clip2FrameNet, net_kind.network_type(cfg, len(labels)))
        net.load_state_dict(_net_state(tensors, meta), strict=True)
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
                       card, meta["kind"], tensors_sha256(tensors))


def load_visual_model(path: str | Path | None = None, *, device: str | torch.device = "cpu",
                      kind: str | None = None) -> VisualModel:
    """Load an object or action model file (the packaged one of ``kind`` for None/``"default"``; a run
    directory means its ``model.safetensors``). ``kind`` refuses a file of another kind."""
    if path is None or str(path) == "default":
        if kind is None:
            raise ConfigError("load_visual_model: the default model needs a kind (object or action)")
    path = resolve_model_path(path, kind or "action")
    meta = read_metadata(path)
    _check_kind(path, meta, VISUAL_KINDS, kind)
    tensors = _load_tensors(path)
    try:
        labels = list(meta["labels"])
        net_kind = model_kind(meta["kind"])
        net = cast(VisualFCN, net_kind.network_type(net_kind.config(meta["model_config"]), len(labels)))
        net.load_state_dict(_net_state(tensors, meta), strict=True)
    except (KeyError, RuntimeError, ValueError, TypeError, ConfigError) as e:
        raise ModelFileError(f"{path}: model file is inconsistent ({_first_line(e)})") from None
    if net.cfg.kind != meta["kind"]:
        raise ModelFileError(f"{path}: kind {meta['kind']} but a network for {net.cfg.kind}")
    thresholds = np.asarray(meta.get("thresholds") or [0.5] * len(labels), dtype=np.float32)
    if thresholds.shape != (len(labels),):
        raise ModelFileError(f"{path}: {thresholds.shape[0]} thresholds for {len(labels)} labels")
    card = meta.get("card")
    if card is not None and not isinstance(card, dict):
        raise ModelFileError(f"{path}: model card is not a mapping")
    net.eval().to(device)
    return VisualModel(net, meta["kind"], labels, thresholds, dict(meta.get("kinds", {})), meta.get("target"),
                       meta.get("name", path.stem), meta.get("version", "?"), meta.get("provenance", {}), path,
                       card, tensors_sha256(tensors))


def write_card(path: str | Path, card: dict[str, Any], *, out: str | Path | None = None) -> Path:
    """Store ``card`` (checked by :func:`check_card`) in the model file ``path``, or in a copy ``out``.

    Only the metadata changes: the tensors are copied as they are, and the file is replaced atomically.
    """
    src = DEFAULT_MODEL_PATH if str(path) == "default" else Path(path)
    meta = read_metadata(src)
    if meta.get("format") == LEGACY_VISUAL_FORMAT:
        raise ModelFileError(f"{src}: a format-1 video model; retrain it (or load and save it) before adding a card")
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
