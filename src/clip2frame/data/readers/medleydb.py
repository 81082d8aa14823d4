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

The activation file (its format and the events it gives: :mod:`.medleydb_activations`) holds a confidence
per stem every 46.4 ms. Stems map to instruments through the YAML ``stems`` section (``instrument`` is a
string, or a list in v2). YAML files that are not UTF-8 are decoded as Latin-1.
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, NamedTuple, Sequence

import numpy as np
import yaml

from ...errors import DatasetError
from ...tags import VIDEO_INSTRUMENTS
from ..manifest import ClipRecord, Event, Manifest
from ._common import Issues, check_root, read_text, rel
from .magnatagatune import tag_kind
from .medleydb_activations import DEFAULT_THRESHOLD, Activations, activation_events, read_activation_conf

log = logging.getLogger(__name__)

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



def _split_of(split: Mapping[str, str] | str | Path, artists: Mapping[str, str], *, seed: int) -> dict[str, str]:
    """Track id → split for the ``split`` option of :func:`read` (``artists``: track id → artist)."""
    if isinstance(split, Mapping):
        return dict(split)
    if split == "artist":
        return artist_split(artists, seed=seed)
    if split == "none":
        return {tid: "test" for tid in artists}
    sp = Path(split)
    if not sp.is_file():
        raise DatasetError(f"{sp}: split file not found (expected 'artist', 'none' or a TSV track_id<TAB>split)")
    return _read_split_file(sp)


# ---------------------------------------------------------------------------------------------- one track

class _Track(NamedTuple):
    """A usable track: its mix, labels per stem, activations (None without a usable file), duration (s)."""

    track_id: str
    artist: str
    mix: Path
    stem_labels: dict[str, tuple[str, ...]]
    act: Activations | None
    duration: float | None


#: A track with its clip tags and events (see :func:`_track_truth`).
_Tagged = tuple[_Track, tuple[str, ...], tuple[Event, ...] | None]


def _stem_keys(meta: Mapping[str, Any]) -> set[str]:
    return {str(k) for k in (meta.get("stems") or {})}


def _to_labels(names: Sequence[str], mapping: Mapping[str, str] | None) -> tuple[str, ...]:
    """MedleyDB instrument names → our labels (those outside ``mapping`` dropped; every name without one)."""
    if mapping is None:
        return tuple(names)
    return tuple(dict.fromkeys(mapping[n] for n in names if n in mapping))


def _locate_mix(tf: TrackFiles, meta: Mapping[str, Any], *, root: Path, keep_missing: bool,
                issues: Issues) -> Path | None:
    """The track's mix (the YAML's ``mix_filename`` preferred); when missing it is recorded and its expected
    path returned with ``keep_missing``, else None."""
    mix_name = str(meta.get("mix_filename") or f"{tf.track_id}_MIX.wav")
    mix = tf.mix
    if mix is None or mix.name != mix_name:
        alt = next((p for p in (tf.metadata.parent / mix_name,
                                (tf.mix.parent / mix_name) if tf.mix else None) if p and p.is_file()), None)
        mix = alt or mix
    if mix is not None:
        return mix
    guess = (root / "Audio" if (root / "Audio").is_dir() else root) / tf.track_id / mix_name
    issues.missing_file(guess)
    return guess if keep_missing else None


def _track_activations(tf: TrackFiles, meta: Mapping[str, Any], stem_labels: Mapping[str, Sequence[str]], *,
                       root: Path, issues: Issues) -> Activations | None:
    """The track's activations; None when the file is missing or unreadable (recorded in ``issues``)."""
    if tf.activation is None:
        issues.missing_file(root / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF"
                            / f"{tf.track_id}_ACTIVATION_CONF.lab")
        return None
    try:
        act = read_activation_conf(tf.activation, issues=issues)
    except DatasetError as e:
        issues.bad_file(tf.activation, str(e).split(": ", 1)[-1])
        return None
    unknown = [s for s in act.stems if s not in stem_labels and s not in _stem_keys(meta)]
    if unknown:
        issues.bad_file(tf.activation, f"stems {unknown} not in {tf.metadata.name}")
    return act


def _mix_duration(mix: Path, issues: Issues) -> float | None:
    """The mix's duration (s) from its header; None when the header cannot be read (recorded in ``issues``)."""
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    try:
        return float(sf.info(str(mix)).duration)
    except Exception as e:  # soundfile raises several types for a corrupt header
        issues.bad_file(mix, f"cannot read audio header ({e})")
        return None


def _load_track(tf: TrackFiles, *, root: Path, mapping: Mapping[str, str] | None, keep_missing: bool,
                read_durations: bool, issues: Issues) -> _Track | None:
    """Read one track's metadata, mix and activations; None when it cannot be used (recorded in ``issues``)."""
    try:
        meta = read_metadata(tf.metadata)
    except DatasetError as e:
        issues.bad_file(tf.metadata, str(e).split(": ", 1)[-1])
        return None
    stem_labels = {sid: _to_labels(names, mapping) for sid, names in stem_instruments(meta).items()}
    mix = _locate_mix(tf, meta, root=root, keep_missing=keep_missing, issues=issues)
    if mix is None:
        return None
    act = _track_activations(tf, meta, stem_labels, root=root, issues=issues)
    duration = None
    if read_durations and mix.is_file():
        duration = _mix_duration(mix, issues)
        if duration is None:
            return None
    artist = str(meta.get("artist") or tf.track_id.split("_", 1)[0])
    return _Track(tf.track_id, artist, mix, stem_labels, act, duration)


def _track_truth(track: _Track, labels: Sequence[str], *, threshold: float,
                 frame_rate_hz: float | None) -> tuple[tuple[str, ...], tuple[Event, ...] | None]:
    """``(tags, events)`` of a track: the labels active somewhere (``labels`` order) and its events; without
    activations the labels of its stems and ``None``."""
    if track.act is None:
        present = {x for v in track.stem_labels.values() for x in v}
        return tuple(lab for lab in labels if lab in present), None
    events = tuple(activation_events(track.act, track.stem_labels, labels, threshold=threshold,
                                     frame_rate_hz=frame_rate_hz))
    return tuple(lab for lab in labels if any(e.label == lab for e in events)), events


# ---------------------------------------------------------------------------------------------- reader

def _label_map_of(label_map: str | Mapping[str, str] | None) -> tuple[dict[str, str] | None, tuple[str, ...] | None]:
    """``(instrument → label mapping, fixed label order)`` of the ``label_map`` option; both None for None."""
    if isinstance(label_map, str):
        if label_map not in LABEL_MAPS:
            raise DatasetError(f"label_map: expected 'mtt9', 'ch4', a mapping or None, got {label_map!r}")
        return LABEL_MAPS[label_map]
    if label_map is None:
        return None, None
    mapping = dict(label_map)
    return mapping, tuple(dict.fromkeys(mapping.values()))


def _checked_root(root: str | Path, *, threshold: float, dirs: Mapping[str, str | Path | None]) -> Path:
    """The MedleyDB root, once the folder options ``dirs`` (option → value), the root and ``threshold`` pass."""
    root_p = Path(root).expanduser()
    for opt, val in dirs.items():
        if val is not None and not Path(val).is_dir():
            raise DatasetError(f"{val}: {opt} is not a directory")
    root_p = check_root(root_p, dataset="MedleyDB")
    if not 0.0 <= threshold <= 1.0:
        raise DatasetError(f"threshold: must lie in [0, 1], got {threshold}")
    return root_p


def _labels_by_frequency(tracks: Sequence[_Track]) -> list[str]:
    """Every label of the tracks' stems, the one in most tracks first (ties by name)."""
    counts: dict[str, int] = {}
    for t in tracks:
        for lab in {x for v in t.stem_labels.values() for x in v}:
            counts[lab] = counts.get(lab, 0) + 1
    return sorted(counts, key=lambda x: (-counts[x], x))


def _clips(tagged: Sequence[_Tagged], split_of: Mapping[str, str], issues: Issues) -> list[ClipRecord]:
    """One clip per tagged track that has a split (others dropped): validation, test, then other splits."""
    clips = []
    for t, tags, events in tagged:
        s = split_of.get(t.track_id)
        if s is None:
            issues.drop("not_in_split")
            continue
        clips.append(ClipRecord(clip_id=t.track_id, audio_path=t.mix, tags=tags, split=s, events=events,
                                duration=t.duration))
    order = {"validation": 0, "test": 1}
    clips.sort(key=lambda c: (order.get(c.split, 2), c.split, c.clip_id))
    return clips


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
    root_p = _checked_root(root, threshold=threshold, dirs={
        "metadata_dir": metadata_dir, "audio_dir": audio_dir, "annotation_dir": annotation_dir})
    mapping, fixed_labels = _label_map_of(label_map)
    track_files, orphans = find_tracks(root_p, metadata_dir=metadata_dir, audio_dir=audio_dir,
                                       annotation_dir=annotation_dir)
    if not track_files:
        raise DatasetError(
            f"{root_p}: no MedleyDB metadata found — expected <Track>/<Track>_METADATA.yaml, "
            f"Audio/<Track>/<Track>_METADATA.yaml or Metadata/<Track>_METADATA.yaml")
    issues = Issues(root_p)
    for o in orphans:
        near = next((p for p in sorted(o.parent.iterdir()) if p.suffix.lower() in (".yaml", ".yml")), None)
        issues.missing_file(o, near=near)
    loaded = []
    for tf in track_files:
        track = _load_track(tf, root=root_p, mapping=mapping, keep_missing=keep_missing,
                            read_durations=read_durations, issues=issues)
        if track is not None:
            loaded.append(track)
    labels = list(fixed_labels) if fixed_labels is not None else _labels_by_frequency(loaded)
    tagged: list[_Tagged] = []
    for track in loaded:
        tags, events = _track_truth(track, labels, threshold=threshold, frame_rate_hz=frame_rate_hz)
        if drop_unlabelled and mapping is not None and not tags:
            issues.drop("no_label_in_map")
            continue
        tagged.append((track, tags, events))
    artists = {t.track_id: t.artist for t, _, _ in tagged}
    clips = _clips(tagged, _split_of(split, artists, seed=seed), issues)
    extra = issues.to_extra(reader="medleydb", options={
        "label_map": label_map, "threshold": threshold, "frame_rate_hz": frame_rate_hz,
        "split": split if isinstance(split, str) else "custom", "seed": seed,
        "drop_unlabelled": drop_unlabelled, "keep_missing": keep_missing})
    extra["artists"] = {c.clip_id: artists[c.clip_id] for c in clips}
    extra["activation_files"] = {tf.track_id: rel(tf.activation, root_p) for tf in track_files if tf.activation}
    name = "medleydb" + (f"-{label_map}" if isinstance(label_map, str) else "")
    kind_of = tag_kind if label_map == "mtt9" else (lambda _lab: "instrument")
    return Manifest(name, root_p, labels, {lab: kind_of(lab) for lab in labels}, clips, extra)
