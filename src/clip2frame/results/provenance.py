"""Provenance of a tagged file's outputs: which model made them, from which bytes. This module owns the
contract; the batch (resume), the writers (NPZ, JAMS), the index (ingest) and the viewer read and write it
only through here.

What is recorded (:class:`Provenance`, the ``provenance`` object)::

    {"model": {"name": "default-model-v2",       the model file's ``name``
               "version": "0.1.0",               the model file's ``version`` (a trainer writes the clip2frame
                                                 release it ran: read it with ``created``)
               "created": "2026-...Z",           when the model was trained (its provenance), or ""
               "kind": "music",                  music | sound | object | action | video (a detector) | ""
               "weights_sha256": "3f2a...",      models.io.tensors_sha256: the identity resume compares
               "file": "/.../model.safetensors"} the file loaded, or "" for a model built in memory
     "source": "/data/in/live/a.wav",            the input as the batch found it
     "content_sha256": "9b1c...",                SHA-256 of the input file's bytes (streamed), or null
     "source_bytes": 123456,                     its size in bytes, or null
     "clip2frame_version": "0.1.0",              the package that wrote the outputs
     "settings": {"resolution": "model",         how the batch asked for them (OutputSettings): the frame
                  "min_duration": 0.0,           resolution asked of predict, the event post-processing in
                  "merge_gap": 0.0}}             seconds; null when not recorded (a clip2frame before it)

No timestamp: the same input and model give byte-identical outputs, the sidecar included (when a file was
tagged is its outputs' modification time, which the index keeps as ``tagged_at``).

Where it is stored:

* ``<stem>.meta.json`` (:data:`SIDECAR_SUFFIX`), one per tagged file, written atomically and *last*, after the
  file's other outputs: ``{"format": "clip2frame-result", "format_version": 1, "source_name", "labels",
  "kinds", "thresholds" {tag: t}, "duration_s", "outputs" [file names], "provenance" {...}}``. The scores and
  events TSVs stay plain sed_scores_eval / DCASE files (no comment lines);
* the NPZ: key ``provenance``, the object as a JSON string (a 0-d unicode array; ``allow_pickle=False``);
* the JAMS: ``annotation_metadata.annotator`` ``{name, version, weights_sha256}`` and ``sandbox.provenance``.

Resume (:func:`compare`): a file whose sidecar names another model (another ``weights_sha256``; for models
without one, another name or version) is re-tagged; so is one made by the same network with other settings:
other decision thresholds (the sidecar's ``thresholds`` against the model's, e.g. after ``clip2frame
thresholds``) or other :class:`OutputSettings` (``--resolution``, ``--min-event``, ``--merge-gap``; a sidecar
that records none counts as other settings). Outputs without a readable sidecar (written by a clip2frame
before provenance, or a run killed between the outputs and the sidecar) are of an *unknown model* and are
re-tagged too. Nothing is kept silently.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._version import __version__
from ..errors import OutputError
from ..fileio import atomic_write_bytes, file_sha256

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".meta.json"
SIDECAR_FORMAT = "clip2frame-result"
SIDECAR_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelIdentity:
    """The model of a result (see the module doc for each field)."""

    name: str = ""
    version: str = ""
    weights_sha256: str = ""
    kind: str = ""
    created: str = ""
    file: str = ""

    @property
    def known(self) -> bool:
        """Whether the model is identified at all (a weights hash or a name)."""
        return bool(self.weights_sha256 or self.name)

    def same_as(self, other: "ModelIdentity") -> bool:
        """Same network: equal weight hashes when both have one, else equal name and version."""
        if self.weights_sha256 and other.weights_sha256:
            return self.weights_sha256 == other.weights_sha256
        return (self.name, self.version) == (other.name, other.version) and not (
            self.weights_sha256 or other.weights_sha256)

    def describe(self) -> str:
        """``name version (sha256 3f2a9c1d0e4b)`` for log lines."""
        text = " ".join(x for x in (self.name or "unnamed model", self.version) if x)
        return f"{text} (sha256 {self.weights_sha256[:12]})" if self.weights_sha256 else text

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelIdentity":
        """The identity of a provenance record's ``model`` field."""
        return cls(**{k: str(d.get(k) or "") for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class OutputSettings:
    """How a batch asked for a file's outputs, beside its model: the frame ``resolution`` asked of ``predict``
    (:data:`clip2frame.timebase.RESOLUTIONS`) and the event post-processing, seconds (``merge_gap``: gaps merged
    first; ``min_duration``: shorter events dropped). Two runs with equal settings and the same model write
    the same outputs."""

    resolution: str = "model"
    min_duration: float = 0.0
    merge_gap: float = 0.0

    @classmethod
    def from_dict(cls, d: Any) -> "OutputSettings | None":
        """The settings of a provenance record's ``settings`` field; ``None`` when it has none or a malformed one."""
        if not isinstance(d, Mapping):
            return None
        try:
            return cls(str(d["resolution"]), float(d["min_duration"]), float(d["merge_gap"]))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Provenance:
    """The provenance object of one tagged file (see the module doc)."""

    model: ModelIdentity
    source: str | None = None
    content_sha256: str | None = None
    source_bytes: int | None = None
    clip2frame_version: str = ""
    settings: OutputSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (the sidecar's ``provenance``)."""
        return asdict(self)

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON (the NPZ's ``provenance`` field)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Any) -> "Provenance":
        """Read a ``provenance`` object; raises ``ValueError`` when it is not one."""
        if not isinstance(d, Mapping) or not isinstance(d.get("model"), Mapping):
            raise ValueError("not a provenance object (no 'model' mapping)")
        size = d.get("source_bytes")
        return cls(ModelIdentity.from_dict(d["model"]),
                   str(d["source"]) if d.get("source") is not None else None,
                   str(d["content_sha256"]) if d.get("content_sha256") else None,
                   int(size) if isinstance(size, int) and not isinstance(size, bool) else None,
                   str(d.get("clip2frame_version") or ""), OutputSettings.from_dict(d.get("settings")))


def model_identity(model: Any) -> ModelIdentity:
    """The identity of a loaded model: a :class:`~clip2frame.models.io.TaggerModel` / ``VisualModel`` (its
    weights hash computed once if it was built in memory), a video detector (``weights_sha256`` attribute),
    or any object with ``name`` / ``version`` (a test double: no hash). A model that can hash its weights
    has ``ensure_weights_sha256()`` (:mod:`clip2frame.models.io`); ``results`` imports no ``models`` module."""
    ensure = getattr(model, "ensure_weights_sha256", None)
    digest = str(ensure()) if callable(ensure) else str(getattr(model, "weights_sha256", "") or "")
    prov = getattr(model, "provenance", None)
    created = str(prov.get("created") or "") if isinstance(prov, Mapping) else ""
    path = getattr(model, "path", None)
    return ModelIdentity(name=str(getattr(model, "name", "") or ""), version=str(getattr(model, "version", "") or ""),
                         weights_sha256=digest, kind=str(getattr(model, "kind", "") or ""), created=created,
                         file=str(path) if path else "")


def source_provenance(model: ModelIdentity, source: str | Path | None, *, content_sha256: str | None = None,
                      source_bytes: int | None = None, settings: OutputSettings | None = None) -> Provenance:
    """The provenance of outputs made by ``model`` from ``source`` (hashed here, streamed, unless the caller
    hashed it already) with ``settings``."""
    if source is not None and content_sha256 is None:
        try:
            content_sha256 = file_sha256(source)
            source_bytes = os.stat(source).st_size
        except OSError as e:
            log.warning("%s: content not hashed (%s)", source, e.strerror or e)
    return Provenance(model, str(source) if source is not None else None, content_sha256, source_bytes,
                      __version__, settings)


def sidecar_path(out_dir: str | Path, stem: str) -> Path:
    """Where the sidecar of ``<out_dir>/<stem>.*`` is."""
    return Path(out_dir) / f"{stem}{SIDECAR_SUFFIX}"


def sidecar_thresholds(labels: Iterable[str], thresholds: Iterable[float]) -> dict[str, float]:
    """``{tag: threshold}`` as the sidecar stores it (6 decimals), the form :func:`compare` expects."""
    return {str(lab): round(float(t), 6) for lab, t in zip(labels, thresholds)}


def render_sidecar(acts: Any, prov: Provenance, *, source_name: str, outputs: Iterable[str | Path]) -> bytes:
    """The sidecar's JSON (``acts``: the :class:`~clip2frame.results.activations.FrameActivations` written)."""
    kinds = getattr(acts, "kinds", None) or {}
    doc = {"format": SIDECAR_FORMAT, "format_version": SIDECAR_FORMAT_VERSION, "source_name": source_name,
           "labels": list(acts.labels), "kinds": {lab: str(kinds[lab]) for lab in acts.labels if lab in kinds},
           "thresholds": sidecar_thresholds(acts.labels, acts.thresholds),
           "duration_s": round(float(acts.duration), 6), "outputs": [Path(p).name for p in outputs],
           "provenance": prov.to_dict()}
    return (json.dumps(doc, indent=1, ensure_ascii=True) + "\n").encode("ascii")


def write_sidecar(path: str | Path, acts: Any, prov: Provenance, *, source_name: str,
                  outputs: Iterable[str | Path]) -> Path:
    """Write ``<stem>.meta.json`` atomically (call it after the file's other outputs)."""
    atomic_write_bytes(path, render_sidecar(acts, prov, source_name=source_name, outputs=outputs))
    return Path(path)


def from_meta(meta: Mapping[str, Any] | None) -> Provenance | None:
    """The provenance of a parsed ``meta.json`` (a tag sidecar or a viewer upload's), ``None`` when it has none
    or an unreadable one (logged)."""
    if not meta or "provenance" not in meta:
        return None
    try:
        return Provenance.from_dict(meta["provenance"])
    except (ValueError, TypeError) as e:
        log.warning("meta.json: provenance ignored (%s)", e)
        return None


def read_sidecar(path: str | Path) -> Provenance | None:
    """The provenance in a sidecar; ``None`` when the file is missing.

    Raises
    ------
    OutputError
        The file exists but is not a readable sidecar with a provenance object.
    """
    found = _read_sidecar_doc(path)
    return None if found is None else found[0]


def _read_sidecar_doc(path: str | Path) -> tuple[Provenance, dict[str, Any]] | None:
    """The provenance and the whole document of a sidecar; ``None`` when the file is missing (errors as
    :func:`read_sidecar`)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise OutputError(f"{p}: unreadable provenance sidecar ({e})") from None
    try:
        return Provenance.from_dict(doc.get("provenance") if isinstance(doc, dict) else None), doc
    except (ValueError, TypeError) as e:
        raise OutputError(f"{p}: not a provenance sidecar ({e})") from None


def compare(path: str | Path, model: ModelIdentity, *, thresholds: Mapping[str, float] | None = None,
            settings: OutputSettings | None = None) -> tuple[str, ModelIdentity | None, str]:
    """How the outputs whose sidecar is ``path`` stand against a run of ``model`` with ``settings`` and the
    model's decision ``thresholds`` (:func:`sidecar_thresholds`; ``None``: not compared, e.g. a video detector's threshold
    is part of its identity).

    Returns ``(state, old model, why)``: ``("same", old, "")``; ``("other", old, "")`` (another model made
    them); ``("settings", old, why)`` (the same model with other thresholds or settings; ``why`` says which);
    ``("unknown", None, "")`` (no readable sidecar)."""
    try:
        found = _read_sidecar_doc(path)
    except OutputError as e:
        log.warning("%s", e)
        return "unknown", None, ""
    if found is None:
        return "unknown", None, ""
    prov, doc = found
    if not prov.model.same_as(model):
        return "other", prov.model, ""
    why = []
    if thresholds is not None and doc.get("thresholds") != thresholds:
        why.append("other thresholds")
    if settings is not None and prov.settings != settings:
        why.append("settings not recorded" if prov.settings is None else
                   "other settings (" + ", ".join(f"{k} {getattr(prov.settings, k)!r} -> {v!r}" for k, v in
                                                  asdict(settings).items() if getattr(prov.settings, k) != v) + ")")
    return ("settings", prov.model, "; ".join(why)) if why else ("same", prov.model, "")


def npz_field(prov: Provenance) -> str:
    """The NPZ's ``provenance`` value: the object as JSON."""
    return prov.to_json()


def from_npz_field(value: Any) -> Provenance:
    """Inverse of :func:`npz_field` (``value``: the array ``np.load`` returns). Raises ``ValueError``."""
    return Provenance.from_dict(json.loads(str(value[()] if hasattr(value, "shape") else value)))
