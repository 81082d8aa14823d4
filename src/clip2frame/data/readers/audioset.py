"""AudioSet (Gemmeke et al. 2017): segment lists, label indices, ontology; audio supplied by the user.

Layout::

    <root>/balanced_train_segments.csv     3 comment lines starting with '#', then rows
    <root>/unbalanced_train_segments.csv     YTID, start_seconds, end_seconds, "mid1,mid2,..."
    <root>/eval_segments.csv               (any subset of the three; splits balanced_train/unbalanced_train/eval)
    <root>/class_labels_indices.csv        index,mid,display_name
    <root>/ontology.json                   [{"id": mid, "name": ..., "child_ids": [...], ...}]  (optional)
    <audio_dir>/**/<name>.<ext>            default audio_dir = <root>/audio; any depth, any audio extension

Audio file names accepted for segment (YTID, start, end), with an optional leading ``Y``:
``<YTID>_<start>`` (start as ``30``, ``30.0`` or ``30.000``), ``<YTID>_<start>_<end>`` (same forms),
``<YTID>_<start_ms>_<end_ms>`` / ``<YTID>_<start_ms>`` (integer milliseconds) and ``<YTID>`` alone.
"""
from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Literal, Mapping, NamedTuple, Sequence

from ...errors import DatasetError
from ..manifest import ClipRecord, Manifest
from ._common import Issues, check_root, index_audio_files, missing_index, numbered_rows, parse_float, read_text

log = logging.getLogger(__name__)

SEGMENT_FILES: dict[str, str] = {
    "balanced_train": "balanced_train_segments.csv",
    "unbalanced_train": "unbalanced_train_segments.csv",
    "eval": "eval_segments.csv",
}
LABELS_CSV = "class_labels_indices.csv"
ONTOLOGY = "ontology.json"

#: Thesis ch. 4: the nine instruments, AudioSet display name → our label (``clip2frame.tags.VIDEO_INSTRUMENTS``).
CH4_LABELS: dict[str, str] = {
    "Accordion": "accordion",
    "Cello": "cello",
    "Drum": "drums",
    "Flute": "flute",
    "Guitar": "guitar",
    "Piano": "piano",
    "Saxophone": "saxophone",
    "Trumpet": "trumpet",
    "Violin, fiddle": "violin",
}


def read_class_labels(path: str | Path) -> list[tuple[int, str, str]]:
    """``class_labels_indices.csv`` → ``[(index, mid, display_name), ...]``."""
    path = Path(path)
    text, _ = read_text(path)
    rows = numbered_rows(csv.reader(io.StringIO(text)))
    if not rows or [h.strip() for h in rows[0][1]] != ["index", "mid", "display_name"]:
        raise DatasetError(f"{path}: header must be 'index,mid,display_name'")
    out = []
    for line, r in rows[1:]:
        if len(r) != 3:
            raise DatasetError(f"{path}:{line}: expected 3 columns (index,mid,display_name), got {len(r)}")
        try:
            out.append((int(r[0]), r[1].strip(), r[2].strip()))
        except ValueError:
            raise DatasetError(f"{path}:{line}: index {r[0]!r} is not an integer") from None
    return out


def read_ontology(path: str | Path) -> dict[str, dict]:
    """``ontology.json`` → ``{mid: entry}`` (entries keep ``name`` and ``child_ids``)."""
    path = Path(path)
    try:
        data = json.loads(read_text(path)[0])
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) and "id" in d for d in data):
        raise DatasetError(f"{path}: expected a JSON list of objects with 'id', 'name', 'child_ids'")
    return {d["id"]: d for d in data}


def descendants(ontology: Mapping[str, dict], mid: str) -> set[str]:
    """``mid`` and every class below it in the ontology (cycles tolerated)."""
    seen, stack = set(), [mid]
    while stack:
        m = stack.pop()
        if m in seen:
            continue
        seen.add(m)
        stack += list(ontology.get(m, {}).get("child_ids", []))
    return seen


def read_segments(path: Path, issues: Issues) -> list[tuple[str, float, float, tuple[str, ...], int]]:
    """Rows of one segments CSV as ``(ytid, start_s, end_s, mids, line)``; bad rows go to ``issues``."""
    text, _ = read_text(path)
    out = []
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    for line, r in enumerate(reader, 1):
        if not r or not any(c.strip() for c in r) or r[0].lstrip().startswith("#"):
            continue
        if len(r) != 4:
            issues.bad_row(path, line, f"expected 4 fields (YTID, start_seconds, end_seconds, \"labels\"), got {len(r)}")
            continue
        try:
            start, end = parse_float(r[1]), parse_float(r[2])
        except ValueError:
            issues.bad_row(path, line, f"start/end not numeric: {r[1]!r}, {r[2]!r}")
            continue
        mids = tuple(m.strip() for m in r[3].split(",") if m.strip())
        if not r[0].strip() or not mids:
            issues.bad_row(path, line, "empty YTID or label list")
            continue
        out.append((r[0].strip(), start, end, mids, line))
    return out


def _time_forms(t: float) -> list[str]:
    forms = [f"{t:.3f}", f"{t:.1f}", f"{t:g}"]
    if float(t).is_integer():
        forms.append(str(int(t)))
    return list(dict.fromkeys(forms))


def candidate_stems(ytid: str, start_s: float, end_s: float) -> list[str]:
    """File stems under which the audio of segment (ytid, start, end) is looked for, in order."""
    base = []
    for s in _time_forms(start_s):
        for e in _time_forms(end_s):
            base.append(f"{ytid}_{s}_{e}")
        base.append(f"{ytid}_{s}")
    ms0, ms1 = int(round(start_s * 1000)), int(round(end_s * 1000))
    base += [f"{ytid}_{ms0}_{ms1}", f"{ytid}_{ms0}", ytid]
    base = list(dict.fromkeys(base))
    return base + ["Y" + b for b in base]


def _splits_to_read(root: Path, splits: Sequence[str] | None) -> tuple[dict[str, Path], Sequence[str]]:
    """``(split → segments CSV of those present, the splits to read)``: every present one for ``None``."""
    present = {s: root / f for s, f in SEGMENT_FILES.items() if (root / f).is_file()}
    if splits is None:
        if not present:
            raise missing_index(root / SEGMENT_FILES["eval"], dataset="AudioSet",
                                expected="at least one of " + ", ".join(SEGMENT_FILES.values()))
        splits = list(present)
    # one name or any iterable (a generator is read once, here)
    splits = [splits] if isinstance(splits, str) else list(splits)
    for s in splits:
        if s not in SEGMENT_FILES:
            raise DatasetError(f"splits: unknown AudioSet split {s!r} (expected {', '.join(SEGMENT_FILES)})")
        if s not in present:
            raise missing_index(root / SEGMENT_FILES[s], dataset="AudioSet", expected=SEGMENT_FILES[s])
    return present, splits


def _chosen_classes(classes: Sequence[tuple[int, str, str]], labels: str | Sequence[str] | Mapping[str, str] | None,
                    *, lab_path: Path) -> dict[str, str]:
    """Chosen class MID → our label, for the ``labels`` option of :func:`read` (``classes`` from ``lab_path``)."""
    name_of = {mid: name for _, mid, name in classes}
    if labels is None:
        return name_of
    mid_of = {name: mid for _, mid, name in classes}
    wanted = CH4_LABELS if labels == "ch4" else (
        dict(labels) if isinstance(labels, Mapping) else {x: None for x in labels})
    chosen = {}
    for key, out in wanted.items():
        mid = key if key in name_of else mid_of.get(key)
        if mid is None:
            raise DatasetError(f"{lab_path}: label {key!r} is neither a display_name nor a mid")
        chosen[mid] = out or name_of[mid]
    return chosen


def _fold(chosen: Mapping[str, str], *, root: Path, descend: bool) -> dict[str, list[str]]:
    """Class MID → the labels it counts for: each chosen class, and with ``descend`` its ontology descendants."""
    fold: dict[str, list[str]] = {mid: [lab] for mid, lab in chosen.items()}
    if not descend:
        return fold
    onto_path = root / ONTOLOGY
    if not onto_path.is_file():
        raise DatasetError(f"{onto_path}: not found — needed to fold descendants into the chosen labels "
                           f"(pass include_descendants=False to use the classes alone)")
    onto = read_ontology(onto_path)
    for mid, lab in chosen.items():
        for d in sorted(descendants(onto, mid)):  # sorted: not the hash seed's set order
            fold.setdefault(d, [])
            if lab not in fold[d]:
                fold[d].append(lab)
    return fold


class _Audio(NamedTuple):
    """The user's audio: its folder, file stem → path, and the YTIDs that have a file."""

    folder: Path
    by_stem: dict[str, Path]
    ytids: set[str]

    def find(self, ytid: str, start_s: float, end_s: float) -> Path | None:
        """The audio file of segment (ytid, start, end); None when there is none."""
        if len(ytid) != 11 or ytid in self.ytids:
            return next((self.by_stem[c] for c in candidate_stems(ytid, start_s, end_s) if c in self.by_stem), None)
        return None


def _index_audio(root: Path, audio_dir: str | Path | None) -> _Audio:
    """Index the audio under ``audio_dir`` (default ``<root>/audio``); a warning when there is none."""
    adir = Path(audio_dir) if audio_dir is not None else root / "audio"
    if audio_dir is not None and not adir.is_dir():
        raise DatasetError(f"{adir}: audio_dir is not a directory")
    found = index_audio_files(adir)
    if not found:
        log.warning("AudioSet: no audio files under %s", adir)
    # YTIDs are 11 characters: a cheap pre-filter so millions of segments without audio cost little.
    ytids_present = {s[:11] for s in found} | {s[1:12] for s in found if s.startswith("Y")}
    return _Audio(adir, found, ytids_present)


def _clips(splits: Sequence[str], present: Mapping[str, Path], *, fold: Mapping[str, Sequence[str]],
           name_of: Mapping[str, str], label_list: Sequence[str], audio: _Audio, issues: Issues) -> list[ClipRecord]:
    """One clip per segment with a chosen label and audio (split by split, file order); the others are
    recorded in ``issues`` (a second segment on the same audio file of a split is dropped)."""
    clips = []
    seen: set[tuple[str, str]] = set()
    for split in splits:
        path = present[split]
        for ytid, start, end, mids, line in read_segments(path, issues):
            unknown = [m for m in mids if m not in name_of]
            if unknown:
                issues.bad_row(path, line, f"unknown label mid {unknown[0]!r} (not in {LABELS_CSV})")
                continue
            tags = tuple(dict.fromkeys(lab for m in mids for lab in fold.get(m, ())))
            if not tags:
                issues.drop("no_label_in_subset")
                continue
            tags = tuple(lab for lab in label_list if lab in tags)
            audio_path = audio.find(ytid, start, end)
            if audio_path is None:
                issues.missing.append(f"{split}/{ytid}_{start:g}")
                continue
            seen_key = (split, audio_path.stem)
            if seen_key in seen:
                issues.drop("duplicate_segment")
                continue
            seen.add(seen_key)
            clips.append(ClipRecord(clip_id=f"{ytid}_{start:g}", audio_path=audio_path, tags=tags, split=split,
                                    duration=max(end - start, 0.0)))
    return clips


def read(root: str | Path, *, splits: Sequence[str] | None = None,
         labels: Literal["ch4"] | Sequence[str] | Mapping[str, str] | None = None,
         include_descendants: bool = True, audio_dir: str | Path | None = None) -> Manifest:
    """Read AudioSet segment lists into a :class:`Manifest` (clip tags, ``events=None``).

    Parameters
    ----------
    splits : which of ``balanced_train``, ``unbalanced_train``, ``eval`` to read (default: every
        segments file present).
    labels : ``None`` (all 527 classes, display names as labels), ``"ch4"`` (the nine instruments of
        thesis ch. 4, see :data:`CH4_LABELS`), a list of display names or MIDs, or a mapping
        display name / MID → our label name. Clips with none of them are dropped and counted.
    include_descendants : fold ontology descendants into each chosen class (needs ``ontology.json``).
    audio_dir : where the user's audio lies (default ``<root>/audio``, searched recursively).

    Segments whose audio is not found are counted under ``missing`` (as ``<split>/<YTID>_<start>``).
    """
    root = check_root(root, dataset="AudioSet")
    lab_path = root / LABELS_CSV
    if not lab_path.is_file():
        raise missing_index(lab_path, dataset="AudioSet", expected=f"{LABELS_CSV} and *_segments.csv")
    present, splits = _splits_to_read(root, splits)
    classes = read_class_labels(lab_path)
    chosen = _chosen_classes(classes, labels, lab_path=lab_path)
    fold = _fold(chosen, root=root, descend=include_descendants and labels is not None)
    label_list = list(dict.fromkeys(chosen.values()))
    audio = _index_audio(root, audio_dir)
    issues = Issues(root)
    name_of = {mid: name for _, mid, name in classes}
    clips = _clips(splits, present, fold=fold, name_of=name_of, label_list=label_list, audio=audio, issues=issues)
    kind = "instrument" if labels == "ch4" else "sound"
    extra = issues.to_extra(reader="audioset", options={
        "splits": list(splits), "labels": labels if labels is None or isinstance(labels, str) else list(labels),
        "include_descendants": include_descendants, "audio_dir": str(audio.folder)})
    extra["mids"] = {lab: [m for m, ls in fold.items() if lab in ls and m in name_of] for lab in label_list}
    return Manifest("audioset" + ("-ch4" if labels == "ch4" else ""), root, label_list,
                    {lab: kind for lab in label_list}, clips, extra)
