"""MedleyDB v1 / v2 (Bittner et al. 2014, 2016): mixes with per-stem instrument activation confidences.

Accepted layouts (searched in this order; the first hit per track wins)::

    metadata   <metadata_dir>/<T>_METADATA.yaml                      (option ``metadata_dir``)
               <root>/Metadata/<T>_METADATA.yaml  (or metadata/)       medleydb python package layout
               <root>/medleydb/data/Metadata/<T>_METADATA.yaml         a clone of the medleydb repository
               <root>/Audio/<T>/<T>_METADATA.yaml                      the published download
               <root>/<T>/<T>_METADATA.yaml                            Audio/ folder given as root
    mix        <audio_dir>/<T>/<mix_filename>  or <audio_dir>/<mix_filename>     (option ``audio_dir``)
               <root>/Audio/<T>/<mix_filename>, <root>/<T>/<mix_filename>, beside the metadata file
               (``mix_filename`` from the YAML, default ``<T>_MIX.wav``)
    activation <annotation_dir>/<T>_ACTIVATION_CONF.lab                   (option ``annotation_dir``)
               <root>/Annotations/Instrument_Activations/ACTIVATION_CONF/<T>_ACTIVATION_CONF.lab
               <root>/Annotations/Activation_Confidence/[v2/|v1/]<T>_ACTIVATION_CONF.lab  (package)
               <root>/Annotations/<T>_ANNOTATIONS/<T>_ACTIVATION_CONF.lab (old per-track folders)
               <root>/medleydb/data/Annotations/Activation_Confidence/<T>_ACTIVATION_CONF.lab
               beside the metadata file or the mix

The activation file is CSV with header ``time,S01,S02,...``: one row per hop of 2048 samples at 44.1 kHz
(46.4 ms), a confidence in [0, 1] per stem. Stems map to instruments through the YAML ``stems`` section
(``instrument`` is a string, or a list in v2). YAML files that are not UTF-8 are decoded as Latin-1.
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import yaml

from ...errors import DatasetError
from ...tags import VIDEO_INSTRUMENTS
from ...timebase import frame_boundaries
from ..events import binary_to_events
from ..manifest import ClipRecord, Event, Manifest
from ._common import Issues, check_root, numbered_rows, parse_float, read_text, rel
from .magnatagatune import tag_kind

log = logging.getLogger(__name__)

ACTIVATION_HOP_S = 2048 / 44100
DEFAULT_THRESHOLD = 0.5

#: Thesis ch. 3: the 9 MedleyDB instruments evaluated, mapped to MagnaTagATune tags (this order).
MTT9_MAP: dict[str, str] = {
    "drum set": "drums",
    "electric bass": "bass",
    "piano": "piano",
    "male singer": "male",
    "clean electric guitar": "electric guitar",
    "synthesizer": "synthesizer",
    "vocalists": "vocal",
    "female singer": "female",
    "acoustic guitar": "acoustic guitar",
}
#: Thesis ch. 4: the nine video instruments; guitars and saxophones aggregated (footnote 8 of ch. 4).
CH4_MAP: dict[str, str] = {
    "accordion": "accordion",
    "cello": "cello",
    "drum set": "drums",
    "flute": "flute",
    "acoustic guitar": "guitar",
    "clean electric guitar": "guitar",
    "distorted electric guitar": "guitar",
    "piano": "piano",
    "alto saxophone": "saxophone",
    "baritone saxophone": "saxophone",
    "soprano saxophone": "saxophone",
    "tenor saxophone": "saxophone",
    "trumpet": "trumpet",
    "violin": "violin",
}
LABEL_MAPS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "mtt9": (MTT9_MAP, tuple(dict.fromkeys(MTT9_MAP.values()))),
    "ch4": (CH4_MAP, VIDEO_INSTRUMENTS),
}


@dataclass(frozen=True)
class TrackFiles:
    """The files of one MedleyDB track: its metadata YAML, its mix and its activation file (None when missing)."""

    track_id: str
    metadata: Path
    mix: Path | None
    activation: Path | None


@dataclass(frozen=True)
class Activations:
    """Activation confidences of one track: ``times`` [T] (s), ``conf`` [T, S], ``stems`` (S ids)."""

    times: np.ndarray
    conf: np.ndarray
    stems: tuple[str, ...]

    @property
    def hop_s(self) -> float:
        """Seconds between activation frames (median spacing; the MedleyDB hop for a single frame)."""
        if len(self.times) > 1:
            return float(np.median(np.diff(self.times)))
        return ACTIVATION_HOP_S

    @property
    def end_s(self) -> float:
        """End (s) of the last activation frame; 0 when there is none."""
        return float(self.times[-1] + self.hop_s) if len(self.times) else 0.0


# ---------------------------------------------------------------------------------------------- discovery

def _metadata_dirs(root: Path, metadata_dir: Path | None) -> list[Path]:
    dirs = [metadata_dir] if metadata_dir else []
    dirs += [root / "Metadata", root / "metadata", root / "medleydb" / "data" / "Metadata"]
    return [d for d in dirs if d.is_dir()]


def find_tracks(root: str | Path, *, metadata_dir: str | Path | None = None,
                audio_dir: str | Path | None = None,
                annotation_dir: str | Path | None = None) -> tuple[list[TrackFiles], list[Path]]:
    """Locate every track's metadata, mix and activation file.

    Returns ``(tracks, orphans)``: ``orphans`` are track folders with a ``*_MIX.wav`` but no metadata.
    """
    root = Path(root)
    md_dir = Path(metadata_dir) if metadata_dir else None
    au_dir = Path(audio_dir) if audio_dir else None
    an_dir = Path(annotation_dir) if annotation_dir else None
    meta: dict[str, Path] = {}
    for d in _metadata_dirs(root, md_dir):
        for p in sorted(d.glob("*_METADATA.yaml")):
            meta.setdefault(p.name[: -len("_METADATA.yaml")], p)
    track_parents = [d for d in (au_dir, root / "Audio", root) if d is not None and d.is_dir()]
    for parent in track_parents:
        for p in sorted(parent.glob("*/*_METADATA.yaml")):
            tid = p.name[: -len("_METADATA.yaml")]
            if p.parent.name == tid:
                meta.setdefault(tid, p)
    orphans = []
    for parent in track_parents:
        for d in sorted(x for x in parent.iterdir() if x.is_dir()):
            if d.name not in meta and (d / f"{d.name}_MIX.wav").is_file():
                orphans.append(d / f"{d.name}_METADATA.yaml")
    ann_dirs = [d for d in (
        an_dir,
        root / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF",
        root / "Annotations" / "Activation_Confidence" / "v2",
        root / "Annotations" / "Activation_Confidence" / "v1",
        root / "Annotations" / "Activation_Confidence",
        root / "Annotations" / "Activation_Condifence",  # sic: an early medleydb commit
        root / "medleydb" / "data" / "Annotations" / "Activation_Confidence",
    ) if d is not None and d.is_dir()]
    tracks = []
    for tid, mpath in sorted(meta.items()):
        mix_name = f"{tid}_MIX.wav"
        mix_dirs = [d / tid for d in track_parents] + list(track_parents) + [mpath.parent]
        mix = next((d / mix_name for d in mix_dirs if (d / mix_name).is_file()), None)
        act_name = f"{tid}_ACTIVATION_CONF.lab"
        act_dirs = ann_dirs + [root / "Annotations" / f"{tid}_ANNOTATIONS", mpath.parent]
        if mix is not None:
            act_dirs.append(mix.parent)
        act = next((d / act_name for d in act_dirs if (d / act_name).is_file()), None)
        tracks.append(TrackFiles(tid, mpath, mix, act))
    return tracks, orphans


# ---------------------------------------------------------------------------------------------- parsing

def read_metadata(path: str | Path) -> dict[str, Any]:
    """Load one ``<T>_METADATA.yaml`` (UTF-8, else Latin-1); check it has a ``stems`` mapping."""
    path = Path(path)
    text, _ = read_text(path)
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DatasetError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a YAML mapping with 'artist', 'title', 'stems'")
    stems = meta.get("stems")
    if stems is not None and not isinstance(stems, dict):
        raise DatasetError(f"{path}: 'stems' must be a mapping S01: {{instrument: ...}}")
    return meta


def stem_instruments(meta: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``{"S01": ("electric bass",), "S02": ("male singer", "vocalists"), ...}`` (v2 lists kept whole)."""
    out = {}
    for sid, stem in (meta.get("stems") or {}).items():
        inst = (stem or {}).get("instrument") if isinstance(stem, dict) else None
        if inst is None:
            continue
        names = inst if isinstance(inst, list) else [inst]
        out[str(sid)] = tuple(str(n).strip() for n in names if str(n).strip())
    return out


def read_activation_conf(path: str | Path, *, issues: Issues | None = None) -> Activations:
    """Parse ``<T>_ACTIVATION_CONF.lab``. Malformed rows are skipped (recorded in ``issues``) when given,
    else raise :class:`DatasetError`; a bad header always raises."""
    path = Path(path)
    text, _ = read_text(path)
    rows = numbered_rows(csv.reader(io.StringIO(text)))
    if not rows:
        raise DatasetError(f"{path}: empty activation file")
    header = [h.strip() for h in rows[0][1]]
    if header[0].lower() != "time" or len(header) < 2:
        raise DatasetError(f"{path}: header must be 'time,S01,S02,...', got {','.join(header[:4])}")
    times, values = [], []
    for line, r in rows[1:]:
        problem = None
        if len(r) != len(header):
            problem = f"expected {len(header)} comma-separated values, got {len(r)}"
        else:
            try:
                nums = [parse_float(c) for c in r]
            except ValueError:
                problem = f"non-numeric value in {','.join(r)[:60]!r}"
            else:
                if any(not 0.0 <= v <= 1.0 for v in nums[1:]):
                    problem = "confidence outside [0, 1]"
        if problem:
            if issues is None:
                raise DatasetError(f"{path}:{line}: {problem}")
            issues.bad_row(path, line, problem)
            continue
        times.append(nums[0])
        values.append(nums[1:])
    t = np.asarray(times, dtype=np.float64)
    conf = np.asarray(values, dtype=np.float64).reshape(len(times), len(header) - 1)
    if len(t) > 1 and np.any(np.diff(t) <= 0):
        order = np.argsort(t, kind="stable")
        t, conf = t[order], conf[order]
    return Activations(t, conf, tuple(header[1:]))


def label_curves(act: Activations, stem_labels: Mapping[str, Sequence[str]],
                 labels: Sequence[str]) -> np.ndarray:
    """Per-label confidence [T, K]: the max over the stems carrying that label (0 when none)."""
    out = np.zeros((len(act.times), len(labels)), dtype=np.float64)
    index = {lab: k for k, lab in enumerate(labels)}
    for s, sid in enumerate(act.stems):
        for lab in stem_labels.get(sid, ()):
            k = index.get(lab)
            if k is not None:
                out[:, k] = np.maximum(out[:, k], act.conf[:, s])
    return out


def resample_to_frames(act_times: np.ndarray, curves: np.ndarray, *, frame_rate_hz: float,
                       end_s: float) -> np.ndarray:
    """Confidence curves [T, K] sampled every ~46 ms → frames [F, K] at ``frame_rate_hz``.

    Frame ``j`` spans ``[j/fr, (j+1)/fr)``; its value is the max of the samples whose time falls in it,
    or — when none does (frames shorter than the hop) — the sample in force at the frame start.
    """
    if frame_rate_hz <= 0:
        raise ValueError("frame_rate_hz must be > 0")
    n_frames = max(int(np.ceil(end_s * frame_rate_hz - 1e-9)), 0)
    out = np.full((n_frames, curves.shape[1]), -1.0)
    if n_frames == 0 or len(act_times) == 0:
        return np.zeros((n_frames, curves.shape[1]))
    idx = np.floor(act_times * frame_rate_hz + 1e-9).astype(np.int64)
    ok = (idx >= 0) & (idx < n_frames)
    np.maximum.at(out, idx[ok], curves[ok])
    empty = out[:, 0] < 0
    if empty.any():
        starts = np.flatnonzero(empty) / frame_rate_hz
        held = np.clip(np.searchsorted(act_times, starts + 1e-9, side="right") - 1, 0, len(act_times) - 1)
        out[empty] = curves[held]
    return out


def activation_events(act: Activations, stem_labels: Mapping[str, Sequence[str]], labels: Sequence[str], *,
                      threshold: float = DEFAULT_THRESHOLD, frame_rate_hz: float | None = None) -> list[Event]:
    """Events per label from activation confidences ≥ ``threshold``.

    With ``frame_rate_hz=None`` each sample spans ``[t_i, t_i + hop)`` (native 46 ms resolution); else the
    curves are first brought to that frame grid (:func:`resample_to_frames`), so event boundaries fall on
    frame boundaries. The last boundary is clipped to the end of the annotation.
    """
    curves = label_curves(act, stem_labels, labels)
    end = act.end_s
    if frame_rate_hz is None:
        bounds = np.append(act.times, end)
    else:
        curves = resample_to_frames(act.times, curves, frame_rate_hz=frame_rate_hz, end_s=end)
        bounds = frame_boundaries(curves.shape[0], 1.0 / frame_rate_hz, duration_s=end)
    events: list[Event] = []
    for k, lab in enumerate(labels):
        events += binary_to_events(curves[:, k] >= threshold, bounds, lab)
    return sorted(events, key=lambda e: (e.onset, e.label))


# ---------------------------------------------------------------------------------------------- split

def artist_split(track_artists: Mapping[str, str], *, seed: int = 0,
                 names: tuple[str, str] = ("validation", "test")) -> dict[str, str]:
    """Artist-disjoint two-way split: artists in a seeded random order, each given to the half that has
    fewer tracks so far (ties: fewer artists, then the first half) — about 50/50 in artists and tracks."""
    by_artist: dict[str, list[str]] = {}
    for tid, artist in sorted(track_artists.items()):
        by_artist.setdefault(artist, []).append(tid)
    artists = sorted(by_artist)
    rng = np.random.default_rng(seed)
    rng.shuffle(artists)
    n_tracks = [0, 0]
    n_artists = [0, 0]
    out = {}
    for a in artists:
        side = 0 if (n_tracks[0], n_artists[0]) <= (n_tracks[1], n_artists[1]) else 1
        n_tracks[side] += len(by_artist[a])
        n_artists[side] += 1
        for tid in by_artist[a]:
            out[tid] = names[side]
    return out


def _read_split_file(path: Path) -> dict[str, str]:
    text, _ = read_text(path)
    out = {}
    for line, r in enumerate(csv.reader(io.StringIO(text), delimiter="\t"), 1):
        if not r or not r[0].strip() or r[0].startswith("#") or (line == 1 and r[0].strip() == "track_id"):
            continue
        if len(r) < 2:
            raise DatasetError(f"{path}:{line}: expected 'track_id<TAB>split'")
        out[r[0].strip()] = r[1].strip()
    return out


# ---------------------------------------------------------------------------------------------- reader

def read(root: str | Path, *, label_map: Literal["mtt9", "ch4"] | Mapping[str, str] | None = "mtt9",
         threshold: float = DEFAULT_THRESHOLD, frame_rate_hz: float | None = None,
         split: Literal["artist", "none"] | Mapping[str, str] | str | Path = "artist", seed: int = 0,
         drop_unlabelled: bool = True, keep_missing: bool = False,
         metadata_dir: str | Path | None = None, audio_dir: str | Path | None = None,
         annotation_dir: str | Path | None = None, read_durations: bool = True) -> Manifest:
    """Read MedleyDB into a :class:`Manifest` with frame truth as events.

    Parameters
    ----------
    root : the MedleyDB folder (see the module docstring for the layouts accepted).
    label_map : ``"mtt9"`` (thesis ch. 3: 9 instruments → MTT tags), ``"ch4"`` (the nine video instruments,
        guitars and saxophones aggregated), a mapping MedleyDB instrument → label, or ``None`` (every
        MedleyDB instrument is its own label). Instruments outside the map are ignored.
    threshold : activation confidence at or above which an instrument is active.
    frame_rate_hz : quantise events on this frame grid (e.g. ``1 / 0.512``); ``None`` keeps the native hop.
    split : ``"artist"`` (seeded artist-disjoint ``validation`` / ``test`` halves, thesis protocol),
        ``"none"`` (all ``test``), a mapping track id → split, or a TSV file ``track_id<TAB>split``.
    drop_unlabelled : drop (and count) tracks with no label of the map, before splitting.
    keep_missing : keep tracks whose mix is missing (default: drop them; they are listed either way).
    read_durations : read each mix's duration from its header (soundfile).

    Clip tags are the labels active somewhere in the track (from the activations; from the stems' metadata
    when the activation file is missing, then ``events=None``). ``extra["artists"]`` maps track → artist.
    """
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    root_p = Path(root).expanduser()
    for opt, val in (("metadata_dir", metadata_dir), ("audio_dir", audio_dir), ("annotation_dir", annotation_dir)):
        if val is not None and not Path(val).is_dir():
            raise DatasetError(f"{val}: {opt} is not a directory")
    root_p = check_root(root_p, dataset="MedleyDB")
    if not 0.0 <= threshold <= 1.0:
        raise DatasetError(f"threshold: must lie in [0, 1], got {threshold}")
    if isinstance(label_map, str):
        if label_map not in LABEL_MAPS:
            raise DatasetError(f"label_map: expected 'mtt9', 'ch4', a mapping or None, got {label_map!r}")
        mapping, fixed_labels = LABEL_MAPS[label_map]
    elif label_map is None:
        mapping, fixed_labels = None, None
    else:
        mapping = dict(label_map)
        fixed_labels = tuple(dict.fromkeys(mapping.values()))
    tracks, orphans = find_tracks(root_p, metadata_dir=metadata_dir, audio_dir=audio_dir,
                                  annotation_dir=annotation_dir)
    if not tracks:
        raise DatasetError(
            f"{root_p}: no MedleyDB metadata found — expected <Track>/<Track>_METADATA.yaml, "
            f"Audio/<Track>/<Track>_METADATA.yaml or Metadata/<Track>_METADATA.yaml")
    issues = Issues(root_p)
    for o in orphans:
        near = next((p for p in sorted(o.parent.iterdir()) if p.suffix.lower() in (".yaml", ".yml")), None)
        issues.missing_file(o, near=near)

    def to_labels(names: Sequence[str]) -> tuple[str, ...]:
        if mapping is None:
            return tuple(names)
        return tuple(dict.fromkeys(mapping[n] for n in names if n in mapping))

    loaded = []  # (track_id, artist, mix, stem_labels, activations | None, duration)
    for tf in tracks:
        try:
            meta = read_metadata(tf.metadata)
        except DatasetError as e:
            issues.bad_file(tf.metadata, str(e).split(": ", 1)[-1])
            continue
        stem_labels = {sid: to_labels(names) for sid, names in stem_instruments(meta).items()}
        mix_name = str(meta.get("mix_filename") or f"{tf.track_id}_MIX.wav")
        mix = tf.mix
        if mix is None or mix.name != mix_name:
            alt = next((p for p in (tf.metadata.parent / mix_name,
                                    (tf.mix.parent / mix_name) if tf.mix else None) if p and p.is_file()), None)
            mix = alt or mix
        if mix is None:
            guess = (root_p / "Audio" if (root_p / "Audio").is_dir() else root_p) / tf.track_id / mix_name
            issues.missing_file(guess)
            if not keep_missing:
                continue
            mix = guess
        act = None
        if tf.activation is None:
            issues.missing_file(root_p / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF"
                                / f"{tf.track_id}_ACTIVATION_CONF.lab")
        else:
            try:
                act = read_activation_conf(tf.activation, issues=issues)
            except DatasetError as e:
                issues.bad_file(tf.activation, str(e).split(": ", 1)[-1])
            else:
                unknown = [s for s in act.stems if s not in stem_labels and s not in _stem_keys(meta)]
                if unknown:
                    issues.bad_file(tf.activation, f"stems {unknown} not in {tf.metadata.name}")
        duration = None
        if read_durations and mix.is_file():
            try:
                duration = float(sf.info(str(mix)).duration)
            except Exception as e:  # soundfile raises several types for a corrupt header
                issues.bad_file(mix, f"cannot read audio header ({e})")
                continue
        artist = str(meta.get("artist") or tf.track_id.split("_", 1)[0])
        loaded.append((tf.track_id, artist, mix, stem_labels, act, duration))

    if fixed_labels is not None:
        labels = list(fixed_labels)
    else:
        counts: dict[str, int] = {}
        for *_, stem_labels, _a, _d in loaded:
            for lab in {x for v in stem_labels.values() for x in v}:
                counts[lab] = counts.get(lab, 0) + 1
        labels = sorted(counts, key=lambda x: (-counts[x], x))

    records = []
    for tid, artist, mix, stem_labels, act, duration in loaded:
        if act is not None:
            events = tuple(activation_events(act, stem_labels, labels, threshold=threshold,
                                             frame_rate_hz=frame_rate_hz))
            tags = tuple(lab for lab in labels if any(e.label == lab for e in events))
        else:
            events = None
            present = {x for v in stem_labels.values() for x in v}
            tags = tuple(lab for lab in labels if lab in present)
        if drop_unlabelled and mapping is not None and not tags:
            issues.drop("no_label_in_map")
            continue
        records.append((tid, artist, mix, tags, events, duration))

    artists = {tid: artist for tid, artist, *_ in records}
    if isinstance(split, Mapping):
        split_of = dict(split)
    elif split == "artist":
        split_of = artist_split(artists, seed=seed)
    elif split == "none":
        split_of = {tid: "test" for tid in artists}
    else:
        sp = Path(split)
        if not sp.is_file():
            raise DatasetError(f"{sp}: split file not found (expected 'artist', 'none' or a TSV track_id<TAB>split)")
        split_of = _read_split_file(sp)
    clips = []
    for tid, artist, mix, tags, events, duration in records:
        s = split_of.get(tid)
        if s is None:
            issues.drop("not_in_split")
            continue
        clips.append(ClipRecord(clip_id=tid, audio_path=mix, tags=tags, split=s, events=events, duration=duration))
    order = {"validation": 0, "test": 1}
    clips.sort(key=lambda c: (order.get(c.split, 2), c.split, c.clip_id))
    extra = issues.to_extra(reader="medleydb", options={
        "label_map": label_map, "threshold": threshold, "frame_rate_hz": frame_rate_hz,
        "split": split if isinstance(split, str) else "custom", "seed": seed,
        "drop_unlabelled": drop_unlabelled, "keep_missing": keep_missing})
    extra["artists"] = {c.clip_id: artists[c.clip_id] for c in clips}
    extra["activation_files"] = {tf.track_id: rel(tf.activation, root_p) for tf in tracks if tf.activation}
    name = "medleydb" + (f"-{label_map}" if isinstance(label_map, str) else "")
    if label_map == "mtt9":
        kinds = {lab: tag_kind(lab) for lab in labels}
    else:
        kinds = {lab: "instrument" for lab in labels}
    return Manifest(name, root_p, labels, kinds, clips, extra)


def _stem_keys(meta: Mapping[str, Any]) -> set[str]:
    return {str(k) for k in (meta.get("stems") or {})}
