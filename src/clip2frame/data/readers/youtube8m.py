"""YouTube-8M (Abu-El-Haija et al. 2016): label names from ``vocabulary.csv``, videos supplied by the user.

Layout::

    <root>/vocabulary.csv     Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl,Vertical1,Vertical2,...
    <root>/labels.tsv         ours: one video per line  ``filename<TAB>label names[<TAB>split]``
                              labels comma-separated vocabulary ``Name``s (case-insensitive) or ``Index``
                              numbers; an optional header ``filename<TAB>labels[<TAB>split]``; split
                              defaults to ``train``; lines starting with ``#`` are comments
    <root>/<filename>         the video (or audio) files, ``filename`` relative to the root or to
                              ``<root>/videos/``

The published TFRecord features are not read: the models here work on the videos themselves.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Literal, Mapping, Sequence

from ...errors import DatasetError
from ..manifest import ClipRecord, Manifest
from ._common import Issues, check_root, missing_index, read_text

log = logging.getLogger(__name__)

VOCABULARY = "vocabulary.csv"
LABELS_TSV = "labels.tsv"
#: Thesis ch. 4: vocabulary Name → our label (``Drummer`` stands for drums, ``Trumpet`` for brass at large).
CH4_LABELS: dict[str, str] = {
    "Accordion": "accordion", "Cello": "cello", "Drummer": "drums", "Flute": "flute", "Guitar": "guitar",
    "Piano": "piano", "Saxophone": "saxophone", "Trumpet": "trumpet", "Violin": "violin",
}


def read_vocabulary(path: str | Path) -> list[dict[str, str]]:
    """``vocabulary.csv`` rows as dicts (needs the ``Index`` and ``Name`` columns)."""
    path = Path(path)
    text, _ = read_text(path)
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"Index", "Name"} <= {f.strip() for f in reader.fieldnames}:
        raise DatasetError(f"{path}: header must include 'Index' and 'Name' "
                           f"(got {','.join(reader.fieldnames or [])[:80]})")
    rows = []
    for line, r in enumerate(reader, 2):
        r = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else v for k, v in r.items()}
        if not r.get("Index", "").isdigit() or not r.get("Name"):
            raise DatasetError(f"{path}:{line}: 'Index' must be an integer and 'Name' non-empty")
        rows.append(r)
    return rows


def read(root: str | Path, *, labels_file: str | Path | None = None,
         labels: Literal["ch4"] | Sequence[str] | Mapping[str, str] | None = None,
         keep_missing: bool = False) -> Manifest:
    """Read user-supplied YouTube-8M videos and their label list into a :class:`Manifest`.

    Parameters
    ----------
    labels_file : the TSV (default ``<root>/labels.tsv``).
    labels : restrict to these vocabulary names (``"ch4"``: the nine instruments, renamed as in
        :data:`CH4_LABELS`; a mapping renames). Videos with none of them are dropped and counted.
        Default: every vocabulary name used in the file, most frequent first.
    """
    root = check_root(root, dataset="YouTube-8M")
    vpath = root / VOCABULARY
    if not vpath.is_file():
        raise missing_index(vpath, dataset="YouTube-8M", expected=f"{VOCABULARY} and {LABELS_TSV}")
    lpath = Path(labels_file) if labels_file is not None else root / LABELS_TSV
    if not lpath.is_file():
        raise missing_index(lpath, dataset="YouTube-8M",
                            expected=f"{LABELS_TSV} (filename<TAB>comma-separated label names)")
    vocab = read_vocabulary(vpath)
    by_name = {r["Name"].casefold(): r["Name"] for r in vocab}
    by_index = {r["Index"]: r["Name"] for r in vocab}
    rename: dict[str, str] | None
    if labels is None:
        rename = None
    else:
        wanted = CH4_LABELS if labels == "ch4" else (
            dict(labels) if isinstance(labels, Mapping) else {x: x for x in labels})
        rename = {}
        for k, v in wanted.items():
            name = by_name.get(k.casefold())
            if name is None:
                raise DatasetError(f"{vpath}: label {k!r} is not a vocabulary Name")
            rename[name] = v
    issues = Issues(root)
    text, _ = read_text(lpath)
    entries = []
    for line, r in enumerate(csv.reader(io.StringIO(text), delimiter="\t"), 1):
        if not r or not any(c.strip() for c in r) or r[0].startswith("#"):
            continue
        if line == 1 and r[0].strip().lower() == "filename":
            continue
        if len(r) not in (2, 3):
            issues.bad_row(lpath, line, f"expected 'filename<TAB>labels[<TAB>split]', got {len(r)} fields")
            continue
        fname, names = r[0].strip(), [x.strip() for x in r[1].split(",") if x.strip()]
        split = r[2].strip() if len(r) == 3 and r[2].strip() else "train"
        resolved, bad = [], None
        for n in names:
            name = by_index.get(n) if n.isdigit() else by_name.get(n.casefold())
            if name is None:
                bad = n
                break
            resolved.append(name)
        if bad is not None:
            issues.bad_row(lpath, line, f"label {bad!r} is not in {VOCABULARY}")
            continue
        entries.append((fname, resolved, split))
    counts: dict[str, int] = {}
    clips = []
    for fname, names, split in entries:
        tags = tuple(dict.fromkeys(rename[n] for n in names if n in rename)) if rename is not None \
            else tuple(dict.fromkeys(names))
        for t in tags:  # over the whole file: the label order must not depend on which videos are present
            counts[t] = counts.get(t, 0) + 1
        if not tags:
            issues.drop("no_label_in_subset")
            continue
        path = next((p for p in (root / fname, root / "videos" / fname) if p.is_file()), None)
        if path is None:
            issues.missing_file(root / fname, near=issues.near(root / fname))
            if not keep_missing:
                continue
            path = root / fname
        clips.append(ClipRecord(clip_id=Path(fname).stem, audio_path=path, tags=tags, split=split))
    if rename is not None:
        label_list = list(dict.fromkeys(rename.values()))
    else:
        label_list = sorted(counts, key=lambda x: (-counts[x], x))
    order = {lab: i for i, lab in enumerate(label_list)}
    clips = [ClipRecord(c.clip_id, c.audio_path, tuple(sorted(c.tags, key=order.__getitem__)), c.split)
             for c in clips]
    kind = "instrument" if labels == "ch4" else "video"
    extra = issues.to_extra(reader="youtube8m", options={
        "labels_file": str(lpath), "labels": labels if labels is None or isinstance(labels, str) else list(labels),
        "keep_missing": keep_missing})
    return Manifest("youtube8m" + ("-ch4" if labels == "ch4" else ""), root, label_list,
                    {lab: kind for lab in label_list}, clips, extra)
