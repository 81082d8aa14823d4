"""Per-recording output files written from :class:`~clip2frame.results.activations.FrameActivations`
(read back by :mod:`clip2frame.results.readers`).

Formats (``<stem>`` defaults to the input's file stem)::

    scores    <stem>.scores.tsv    onset<TAB>offset<TAB><tag1>...<tagK>, one row per output frame;
                                   seconds %.3f, probabilities %.4f (the sed_scores_eval format)
    events    <stem>.events.tsv    filename<TAB>onset<TAB>offset<TAB>event_label (DCASE), thresholded with
                                   the per-tag thresholds stored in the activations (i.e. the model);
                                   text columns escaped with :func:`escape_field` (``\\t \\n \\r \\\\``)
    audacity  <stem>.audacity.txt  Audacity label track: start<TAB>end<TAB>label, no header, %.6f
    npz       <stem>.npz           probs [T, K] float32, boundaries [T+1] float64, labels [K] str,
                                   thresholds [K] float32; ``provenance`` (JSON string) when known
    jams      <stem>.jams          JAMS, one ``tag_open`` annotation (needs the optional ``jams`` package);
                                   provenance in its annotation metadata and sandbox
    heatmaps  <stem>.heatmaps.npz  a detection with spatial maps (``clip2frame detect``): ``times`` [T] (frame
                                   onsets), ``boundaries`` [T+1], ``labels`` [K], ``probs`` [T, K] float32 (the
                                   frame scores the events threshold), ``thresholds`` [K], every map of
                                   ``acts.maps`` as float16 (``action``/``object``/``fused`` [T, K, h, w],
                                   ``sound`` [T, K]), ``frame_size`` (H, W), ``fusion``
    overlay   <stem>.overlay.mp4   the source video's frames at the output frame rate with the fused heat map
                                   of the top label blended in: its writer is video inference's
                                   (:mod:`clip2frame.video.inference.overlay` registers it with
                                   :func:`register_writer`; ``clip2frame detect`` imports it)

Every file is rendered in memory and written atomically (temp file + rename), so a killed process never
leaves a half-written output; if one format of a call fails, the files that call already wrote are removed
again so that a recording never has a partial set of outputs. With ``provenance`` (what ``clip2frame tag``
passes) the file's ``<stem>.meta.json`` sidecar is written last (:mod:`clip2frame.results.provenance`).

File names in TSV columns: any name the file system allows round-trips. :func:`escape_field` writes a
backslash as ``\\\\``, tab ``\\t``, newline ``\\n``, carriage return ``\\r`` and an undecodable byte
(Python's surrogate escape) as ``\\xNN``; :func:`clip2frame.results.readers.read_events_tsv`, the one
reader, undoes it. A name without
those characters is written as is, so ordinary files stay byte-identical DCASE files.
"""
from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from .._version import __version__
from ..data.manifest import EVENTS_HEADER
from ..errors import Clip2FrameError, ConfigError, OutputError
from ..fileio import atomic_write_bytes
from .formats import DEFAULT_FORMATS, SUFFIXES, parse_formats
from .provenance import Provenance, sidecar_path, write_sidecar

if TYPE_CHECKING:  # annotations only: activations imports this module (FrameActivations.save)
    from .activations import FrameActivations

log = logging.getLogger(__name__)

SCORES_HEADER = ("onset", "offset")


# --------------------------------------------------------------------------------------------- helpers
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_NEEDS_ESCAPE = re.compile("[\\\\\t\n\r\udc80-\udcff]")
_ESCAPED = re.compile(r"\\(\\|t|n|r|x[89a-fA-F][0-9a-fA-F])")


def escape_field(text: str) -> str:
    """A TSV field from any string: backslash, tab, newline, CR and surrogate-escaped bytes become
    ``\\\\ \\t \\n \\r \\xNN``; everything else (quotes, spaces, unicode) is kept as is."""
    def one(m: re.Match) -> str:
        c = m.group(0)
        return _ESCAPES.get(c) or f"\\x{ord(c) - 0xDC00:02x}"

    return _NEEDS_ESCAPE.sub(one, text)


def unescape_field(text: str) -> str:
    """Inverse of :func:`escape_field` (a backslash before anything else is kept literally)."""
    def one(m: re.Match) -> str:
        e = m.group(1)
        return chr(0xDC00 + int(e[1:], 16)) if e[0] == "x" else _UNESCAPES[e]

    return _ESCAPED.sub(one, text) if "\\" in text else text


def default_stem(acts: FrameActivations) -> str:
    """The input file's stem, or ``"activations"`` for in-memory audio."""
    return Path(acts.source).stem if acts.source else "activations"


def output_paths(out_dir: str | Path, stem: str, formats: Iterable[str]) -> dict[str, Path]:
    """Where :func:`write_outputs` puts each format: ``{format: out_dir / (stem + suffix)}``."""
    return {f: Path(out_dir) / f"{stem}{SUFFIXES[f]}" for f in parse_formats(formats)}


def _boundary_strings(boundaries: np.ndarray) -> list[str]:
    """Boundaries as ``%.3f`` strings, strictly increasing after rounding.

    The last boundary is clipped to the audio duration, which can fall within a millisecond of the last
    onset; rounding would then give a zero-length frame, which sed_scores_eval rejects, so such a
    boundary is pushed to the next millisecond."""
    ms = np.round(np.asarray(boundaries, dtype=np.float64) * 1000.0).astype(np.int64)
    i = np.arange(len(ms))
    ms = np.maximum.accumulate(ms - i) + i  # ms[i] = max(ms[i], ms[i-1] + 1)
    return ["%.3f" % x for x in (ms / 1000.0).tolist()]


def _source_name(acts: FrameActivations, stem: str) -> str:
    return Path(acts.source).name if acts.source else stem


def _model_info(acts: FrameActivations) -> tuple[str, str]:
    meta = acts.meta or {}
    name = meta.get("model_name", meta.get("model", "unknown"))
    version = meta.get("model_version", meta.get("version", ""))
    return str(name), str(version)


# --------------------------------------------------------------------------------------------- renderers
def render_scores_tsv(acts: FrameActivations) -> bytes:
    """``onset offset <tags...>``, one row per frame, seconds %.3f, probabilities %.4f."""
    for lab in acts.labels:
        if "\t" in lab or "\n" in lab:
            raise OutputError(f"label {lab!r}: tabs and newlines cannot be written to scores.tsv")
    bounds = _boundary_strings(acts.boundaries)
    probs = np.clip(np.nan_to_num(acts.probs, nan=0.0), 0.0, 1.0)
    row_fmt = "%s\t%s" + "\t%.4f" * len(acts.labels)
    rows = probs.tolist()
    lines = ["\t".join((*SCORES_HEADER, *acts.labels))]
    lines += [row_fmt % (bounds[t], bounds[t + 1], *rows[t]) for t in range(acts.n_frames)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def events_line(filename: str, onset: float, offset: float, label: str) -> str:
    """One row of an events TSV (no newline): text columns escaped, seconds %.3f."""
    return f"{escape_field(filename)}\t{onset:.3f}\t{offset:.3f}\t{escape_field(label)}"


def render_events_tsv(acts: FrameActivations, *, filename: str, min_duration: float = 0.0,
                      merge_gap: float = 0.0) -> bytes:
    """DCASE ``filename onset offset event_label`` from ``acts.to_events(...)``, seconds %.3f."""
    lines = ["\t".join(EVENTS_HEADER)]
    for ev in acts.to_events(min_duration=min_duration, merge_gap=merge_gap):
        lines.append(events_line(filename, ev.onset, ev.offset, ev.label))
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_audacity(acts: FrameActivations, *, min_duration: float = 0.0, merge_gap: float = 0.0) -> bytes:
    """Audacity label track ``start end label`` (no header, %.6f): File > Import > Labels."""
    lines = [f"{ev.onset:.6f}\t{ev.offset:.6f}\t{ev.label}"
             for ev in acts.to_events(min_duration=min_duration, merge_gap=merge_gap)]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def render_npz(acts: FrameActivations, *, provenance: Provenance | None = None) -> bytes:
    """Compressed NPZ with ``probs`` [T, K] float32, ``boundaries`` [T+1], ``labels`` [K], ``thresholds``
    and, when given, ``provenance`` (the provenance object as a JSON string, 0-d)."""
    buf = io.BytesIO()
    extra = {"provenance": np.asarray(provenance.to_json())} if provenance is not None else {}
    np.savez_compressed(
        buf,
        probs=acts.probs.astype(np.float32),
        boundaries=acts.boundaries.astype(np.float64),
        labels=np.asarray(acts.labels, dtype=str),
        thresholds=acts.thresholds.astype(np.float32),
        **extra,  # type: ignore[arg-type]
    )
    return buf.getvalue()


def render_jams(acts: FrameActivations, *, min_duration: float = 0.0, merge_gap: float = 0.0,
                provenance: Provenance | None = None) -> bytes:
    """A JAMS document with one ``tag_open`` annotation: one observation per event, its confidence the
    mean probability of the tag over the event; model name, version (and weights hash) in the annotation
    metadata, the whole ``provenance`` object in the annotation's sandbox when given."""
    try:
        import jams
    except ImportError:
        raise Clip2FrameError("format jams: the jams package is missing; install clip2frame[jams]") from None

    name, version = _model_info(acts)
    annotator = {"name": name, "version": version}
    if provenance is not None:
        name, version = provenance.model.name or name, provenance.model.version or version
        annotator = {"name": name, "version": version, "weights_sha256": provenance.model.weights_sha256}
    jam = jams.JAMS()
    jam.file_metadata.duration = max(acts.duration, 1e-3)
    if acts.source:
        jam.file_metadata.title = Path(acts.source).name
    ann = jams.Annotation(namespace="tag_open", time=0, duration=jam.file_metadata.duration)
    ann.annotation_metadata = jams.AnnotationMetadata(
        annotator=annotator,
        version=version,
        annotation_tools=f"clip2frame {__version__}",
        data_source="automatic (clip2frame frame-level tagger)",
        annotation_rules="per-tag thresholds stored in the model; "
                         f"min_duration={min_duration:g} s, merge_gap={merge_gap:g} s",
    )
    ann.sandbox.update(model_name=name, model_version=version, labels=list(acts.labels),
                       thresholds=[float(x) for x in acts.thresholds])
    if provenance is not None:
        ann.sandbox.update(provenance=provenance.to_dict())
    index = {lab: k for k, lab in enumerate(acts.labels)}
    times = acts.times
    for ev in acts.to_events(min_duration=min_duration, merge_gap=merge_gap):
        k = index[ev.label]
        sel = (times >= ev.onset - 1e-6) & (times < ev.offset - 1e-6)
        conf = float(acts.probs[sel, k].mean()) if sel.any() else None
        ann.append(time=ev.onset, duration=round(ev.offset - ev.onset, 6), value=ev.label, confidence=conf)
    jam.annotations.append(ann)
    buf = io.StringIO()
    jam.save(buf, strict=True)
    return buf.getvalue().encode("utf-8")


def render_heatmaps_npz(acts: FrameActivations) -> bytes:
    """Compressed NPZ of a detection with spatial maps (see the module doc for its keys)."""
    if not any(m.ndim == 4 for m in acts.maps.values()):
        raise OutputError(f"{acts.source or 'activations'}: format heatmaps needs spatial maps (a video detection)")
    buf = io.BytesIO()
    arrays = {"times": acts.times.astype(np.float64), "boundaries": acts.boundaries.astype(np.float64),
              "labels": np.asarray(acts.labels, dtype=str), "probs": acts.probs.astype(np.float32),
              "thresholds": acts.thresholds.astype(np.float32),
              **{name: np.asarray(m, dtype=np.float16) for name, m in acts.maps.items()}}
    meta = acts.meta or {}
    if "frame_size" in meta:
        arrays["frame_size"] = np.asarray(meta["frame_size"], dtype=np.int32)
    if "fusion" in meta:
        arrays["fusion"] = np.asarray(str(meta["fusion"]))
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


# --------------------------------------------------------------------------------------------- writing
def write_scores(acts: FrameActivations, path: Path, **_: object) -> None:
    """Write ``<stem>.scores.tsv`` (:func:`render_scores_tsv`), atomically."""
    atomic_write_bytes(path, render_scores_tsv(acts))


def write_events(acts: FrameActivations, path: Path, *, filename: str, min_duration: float = 0.0,
                 merge_gap: float = 0.0, **_: object) -> None:
    """Write ``<stem>.events.tsv`` (:func:`render_events_tsv`), atomically."""
    atomic_write_bytes(path, render_events_tsv(acts, filename=filename, min_duration=min_duration,
                                               merge_gap=merge_gap))


def write_audacity(acts: FrameActivations, path: Path, *, min_duration: float = 0.0, merge_gap: float = 0.0,
                   **_: object) -> None:
    """Write the Audacity label track (:func:`render_audacity`), atomically."""
    atomic_write_bytes(path, render_audacity(acts, min_duration=min_duration, merge_gap=merge_gap))


def write_npz(acts: FrameActivations, path: Path, *, provenance: Provenance | None = None, **_: object) -> None:
    """Write ``<stem>.npz`` (:func:`render_npz`, with the provenance fields), atomically."""
    atomic_write_bytes(path, render_npz(acts, provenance=provenance))


def write_jams(acts: FrameActivations, path: Path, *, min_duration: float = 0.0, merge_gap: float = 0.0,
               provenance: Provenance | None = None, **_: object) -> None:
    """Write ``<stem>.jams`` (:func:`render_jams`), atomically."""
    atomic_write_bytes(path, render_jams(acts, min_duration=min_duration, merge_gap=merge_gap,
                                         provenance=provenance))


def write_heatmaps(acts: FrameActivations, path: Path, **_: object) -> None:
    """Write ``<stem>.heatmaps.npz`` (:func:`render_heatmaps_npz`), atomically."""
    atomic_write_bytes(path, render_heatmaps_npz(acts))


WRITERS: dict[str, Callable[..., None]] = {
    "scores": write_scores,
    "events": write_events,
    "audacity": write_audacity,
    "npz": write_npz,
    "jams": write_jams,
    "heatmaps": write_heatmaps,
}
#: Formats whose writer lives in a higher layer, which registers it (:func:`register_writer`): format ->
#: the module that does.
REGISTERED_ELSEWHERE: dict[str, str] = {"overlay": "clip2frame.video.inference.overlay"}


def register_writer(fmt: str, writer: Callable[..., None]) -> None:
    """Register the writer of format ``fmt`` (one of :data:`REGISTERED_ELSEWHERE`), called as
    ``writer(acts, path, *, filename, min_duration, merge_gap, provenance)`` and writing ``path`` atomically."""
    if fmt not in REGISTERED_ELSEWHERE:
        raise ValueError(f"format {fmt!r}: not a format registered from outside clip2frame.results.writers")
    WRITERS[fmt] = writer


def _writer(fmt: str) -> Callable[..., None]:
    try:
        return WRITERS[fmt]
    except KeyError:
        raise ConfigError(f"format {fmt}: its writer is not loaded (import {REGISTERED_ELSEWHERE[fmt]}; "
                          "clip2frame detect does)") from None


def write_outputs(acts: FrameActivations, out_dir: Path, *, formats: Iterable[str] = DEFAULT_FORMATS,
                  stem: str | None = None, min_duration: float = 0.0, merge_gap: float = 0.0,
                  provenance: Provenance | None = None) -> dict[str, Path]:
    """Write ``acts`` in each of ``formats`` as ``<out_dir>/<stem><suffix>``, atomically.

    Parameters
    ----------
    acts : FrameActivations
        probs [T, K], boundaries [T+1], per-tag thresholds [K] (used for events).
    out_dir : Path
        Created if missing.
    formats : iterable of str
        Any of :data:`~clip2frame.results.formats.FORMATS` (or a comma-separated string).
    stem : str, optional
        File name stem; default the stem of ``acts.source`` (``"activations"`` without one).
    min_duration, merge_gap : float
        Seconds; event post-processing for ``events``, ``audacity`` and ``jams`` (gaps up to
        ``merge_gap`` are merged first, then events shorter than ``min_duration`` dropped).
    provenance : Provenance, optional
        Which model made ``acts`` from which bytes: stored in the NPZ and JAMS, and in the
        ``<stem>.meta.json`` sidecar written after every other file (returned as ``"meta"``).

    Returns
    -------
    dict[str, Path]
        format -> written file.

    Raises
    ------
    OutputError
        A file cannot be written (the files this call already wrote are removed again).
    ConfigError
        Unknown format or negative durations.
    """
    fmts = parse_formats(formats)
    if min_duration < 0 or merge_gap < 0:
        raise ConfigError(f"min_duration={min_duration}, merge_gap={merge_gap}: must be >= 0 seconds")
    stem = stem or default_stem(acts)
    paths = output_paths(out_dir, stem, fmts)
    writers = [_writer(f) for f in paths]
    filename = _source_name(acts, stem)
    written: list[Path] = []
    fmt = ""
    try:
        for (fmt, path), write in zip(paths.items(), writers):
            write(acts, path, filename=filename, min_duration=min_duration, merge_gap=merge_gap,
                         provenance=provenance)
            written.append(path)
        if provenance is not None:
            fmt, meta = "meta", sidecar_path(out_dir, stem)
            paths = {**paths, "meta": meta}
            write_sidecar(meta, acts, provenance, source_name=filename, outputs=written)
    except BaseException as e:
        for p in written:
            try:
                p.unlink()
            except OSError:
                pass
        if isinstance(e, OSError):
            raise OutputError(f"{getattr(e, 'filename', None) or paths[fmt]}: cannot write "
                              f"({e.strerror or e})") from e
        raise
    return paths
