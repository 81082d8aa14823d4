"""The common manifest every dataset reader produces, and its on-disk form.

On disk (a *manifest directory*)::

    metadata.json            {"name", "labels": [...], "kinds": {tag: kind}, "splits": [...], ...extra}
    <split>.weak.tsv         DCASE weak labels:   filename<TAB>event_labels   (comma-separated, may be empty)
    <split>.strong.tsv       DCASE strong labels: filename<TAB>onset<TAB>offset<TAB>event_label  (optional)
    audio/...                audio files; ``filename`` is relative to the manifest directory

A clip without a strong file has ``events=None`` (weak labels only); a clip in the strong file with no rows
has ``events=()`` (nothing happens in it).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import DatasetError
from ..fileio import atomic_write_text

#: DCASE strong labels / events: the one header of every events file (manifests, ``clip2frame tag`` and
#: ``detect`` outputs, corpora).
EVENTS_HEADER: tuple[str, ...] = ("filename", "onset", "offset", "event_label")
#: DCASE weak labels.
WEAK_HEADER: tuple[str, ...] = ("filename", "event_labels")


@dataclass(frozen=True)
class Event:
    """One labelled event: ``onset`` and ``offset`` in seconds from the clip start, and its label."""

    onset: float
    offset: float
    label: str


@dataclass(frozen=True)
class ClipRecord:
    """One clip: where its audio is, its clip-level tags and (when known) its frame-level truth."""

    clip_id: str
    audio_path: Path
    tags: tuple[str, ...]
    split: str
    events: tuple[Event, ...] | None = None
    duration: float | None = None


@dataclass
class Manifest:
    """A dataset: its labels and their kinds, its clips (every split) and the root their paths are relative to."""

    name: str
    root: Path
    labels: list[str]
    kinds: dict[str, str]
    clips: list[ClipRecord]
    extra: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> list[ClipRecord]:
        """The clips of split ``name``, in manifest order."""
        return [c for c in self.clips if c.split == name]

    @property
    def splits(self) -> list[str]:
        """The split names, in order of first appearance."""
        seen: dict[str, None] = {}
        for c in self.clips:
            seen.setdefault(c.split, None)
        return list(seen)

    def summary(self) -> dict[str, Any]:
        """Name, root, label count and clips per split, as a JSON-able dict."""
        return {
            "name": self.name,
            "root": str(self.root),
            "labels": len(self.labels),
            "clips": {s: len(self.split(s)) for s in self.splits},
        }


def _read_tsv(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    return [row for row in csv.reader(io.StringIO(text), delimiter="\t") if row and any(row)]


def load_manifest(root: str | Path) -> Manifest:
    """Read a manifest directory written by :func:`write_manifest` (or by ``clip2frame synth``)."""
    root = Path(root)
    meta_path = root / "metadata.json"
    if not meta_path.is_file():
        raise DatasetError(f"{root}: no metadata.json (not a clip2frame manifest directory)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{meta_path}: not valid JSON ({e})") from None
    labels = list(meta.get("labels", []))
    if not labels:
        raise DatasetError(f"{meta_path}: 'labels' is missing or empty")
    kinds = dict(meta.get("kinds", {}))
    splits = meta.get("splits") or sorted(p.name[: -len(".weak.tsv")] for p in root.glob("*.weak.tsv"))
    clips: list[ClipRecord] = []
    label_set = set(labels)
    durations = meta.get("durations", {})
    clip_ids = meta.get("clip_ids", {})  # only where a clip's id is not its file stem
    no_truth = set(meta.get("no_frame_truth", []))  # in a split with a strong file, but truth unknown
    for split in splits:
        weak = root / f"{split}.weak.tsv"
        if not weak.is_file():
            raise DatasetError(f"{weak}: missing (split '{split}' is listed in metadata.json)")
        rows = _read_tsv(weak)
        if rows and rows[0][0] == "filename":
            rows = rows[1:]
        strong_path = root / f"{split}.strong.tsv"
        events: dict[str, list[Event]] | None = None
        if strong_path.is_file():
            events = {}
            srows = _read_tsv(strong_path)
            if srows and srows[0][0] == "filename":
                srows = srows[1:]
            for i, r in enumerate(srows, 2):
                if len(r) < 4:
                    raise DatasetError(f"{strong_path}:{i}: expected 4 tab-separated fields, got {len(r)}")
                try:
                    ev = Event(float(r[1]), float(r[2]), r[3])
                except ValueError:
                    raise DatasetError(f"{strong_path}:{i}: onset/offset are not numbers: {r[1:3]}") from None
                if ev.label not in label_set:
                    raise DatasetError(f"{strong_path}:{i}: unknown label '{ev.label}'")
                events.setdefault(r[0], []).append(ev)
        for i, r in enumerate(rows, 2):
            fname = r[0]
            tags = tuple(t.strip() for t in (r[1] if len(r) > 1 else "").split(",") if t.strip())
            bad = [t for t in tags if t not in label_set]
            if bad:
                raise DatasetError(f"{weak}:{i}: unknown label '{bad[0]}'")
            clip_events = None if events is None or fname in no_truth else tuple(
                sorted(events.get(fname, []), key=lambda e: (e.onset, e.label)))
            clips.append(ClipRecord(
                clip_id=clip_ids.get(fname, Path(fname).stem), audio_path=root / fname, tags=tags, split=split,
                events=clip_events, duration=durations.get(fname),
            ))
    extra = {k: v for k, v in meta.items()
             if k not in ("name", "labels", "kinds", "splits", "durations", "clip_ids", "no_frame_truth")}
    return Manifest(meta.get("name", root.name), root, labels, kinds, clips, extra)


def write_manifest(root: str | Path, *, name: str, labels: Iterable[str], kinds: dict[str, str],
                   clips: Iterable[ClipRecord], extra: dict[str, Any] | None = None) -> None:
    """Write the manifest files for ``clips`` (audio paths must lie under ``root``)."""
    root = Path(root)
    clips = list(clips)
    splits: dict[str, list[ClipRecord]] = {}
    for c in clips:
        splits.setdefault(c.split, []).append(c)
    durations, clip_ids, no_truth = {}, {}, []
    for split, cs in splits.items():
        weak = ["\t".join(WEAK_HEADER)]
        strong = ["\t".join(EVENTS_HEADER)]
        has_strong = any(c.events is not None for c in cs)
        for c in cs:
            fname = Path(c.audio_path).resolve().relative_to(root.resolve()).as_posix()
            weak.append(f"{fname}\t{','.join(c.tags)}")
            for e in c.events or ():
                strong.append(f"{fname}\t{e.onset:.3f}\t{e.offset:.3f}\t{e.label}")
            if c.duration is not None:
                durations[fname] = round(c.duration, 4)
            if c.clip_id != Path(fname).stem:
                clip_ids[fname] = c.clip_id
            if has_strong and c.events is None:
                no_truth.append(fname)
        atomic_write_text(root / f"{split}.weak.tsv", "\n".join(weak) + "\n")
        if has_strong:
            atomic_write_text(root / f"{split}.strong.tsv", "\n".join(strong) + "\n")
    meta = {"name": name, "labels": list(labels), "kinds": dict(kinds), "splits": list(splits),
            **(extra or {}), "durations": durations}
    if clip_ids:
        meta["clip_ids"] = clip_ids
    if no_truth:
        meta["no_frame_truth"] = no_truth
    atomic_write_text(root / "metadata.json", json.dumps(meta, indent=1))
