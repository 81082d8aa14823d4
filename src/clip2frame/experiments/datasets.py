"""Datasets the thesis' tables run on: the embedded music and everyday corpora (rendered once, resumed or
reused) and real datasets read through their readers into manifest directories with absolute audio paths."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ..data.manifest import EVENTS_HEADER, WEAK_HEADER, ClipRecord
from ..data.readers import get_reader
from ..data.synth import render_music_corpus
from ..data.synth.everyday import render_everyday_corpus
from ..fileio import atomic_write_text


def prepare_embedded(out: Path, *, hours: float, seed: int, jobs: int = 1, progress: bool = False) -> Path:
    """Render (or resume, or reuse) the embedded corpus shared by all recipes: ``<out>/corpus``."""
    return _render_once(out / "corpus", render_music_corpus, hours=hours, seed=seed, jobs=jobs, progress=progress)


def prepare_everyday(out: Path, *, hours: float, seed: int, jobs: int = 1, progress: bool = False) -> Path:
    """Render (or resume, or reuse) the embedded everyday-sound corpus (the UrbanSound analogue, 44.1 kHz)
    for Tables 3.7/3.8: ``<out>/corpus-everyday``."""
    return _render_once(out / "corpus-everyday", render_everyday_corpus, hours=hours, seed=seed, jobs=jobs,
                        progress=progress)


def _render_once(root: Path, render: Callable[..., Any], **options: Any) -> Path:
    """``render(root, **options)`` unless ``root`` holds a complete corpus (its metadata says so); ``root``."""
    meta = root / "metadata.json"
    if not (meta.is_file() and json.loads(meta.read_text()).get("complete", True)):
        render(root, **options)
    return root


def prepare_dataset(name: str, root: str, out: Path, *, options: dict | None = None, seed: int = 0) -> Path:
    """Read a real dataset through ``READERS[name]`` and write it as a manifest directory under
    ``<out>/data/<name>`` (absolute audio paths), adding ``validation`` / ``test`` splits carved from
    ``train`` (every 10th / every 5th clip per label) when the reader does not provide them."""
    m = get_reader(name)(root, **(options or {}))
    clips = list(m.clips)
    if "train" in m.splits and ("validation" not in m.splits or "test" not in m.splits):
        per_label: dict[str, int] = {}
        new = []
        for c in clips:
            if c.split == "train":
                k = per_label.get(c.tags[0] if c.tags else "", 0)
                per_label[c.tags[0] if c.tags else ""] = k + 1
                if "test" not in m.splits and k % 5 == 4:
                    c = ClipRecord(c.clip_id, c.audio_path, c.tags, "test", c.events, c.duration)
                elif "validation" not in m.splits and k % 10 == 3:
                    c = ClipRecord(c.clip_id, c.audio_path, c.tags, "validation", c.events, c.duration)
            new.append(c)
        clips = new
    return write_manifest_abs(out / "data" / name, name=m.name, labels=m.labels, kinds=m.kinds, clips=clips,
                              source={"reader": name, "root": str(Path(root).resolve())})


def write_manifest_abs(dest: Path, *, name: str, labels, kinds, clips, source: dict) -> Path:
    """A manifest directory at ``dest`` whose TSVs name the clips' audio by absolute path (the audio stays
    where it is), with ``source`` recorded in metadata.json."""
    dest.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list] = {}
    for c in clips:
        splits.setdefault(c.split, []).append(c)
    for sp, cs in splits.items():
        weak = ["\t".join(WEAK_HEADER)] + [f"{Path(c.audio_path).resolve()}\t{','.join(c.tags)}" for c in cs]
        atomic_write_text(dest / f"{sp}.weak.tsv", "\n".join(weak) + "\n")
        if any(c.events is not None for c in cs):
            strong = ["\t".join(EVENTS_HEADER)] + [
                f"{Path(c.audio_path).resolve()}\t{e.onset:.3f}\t{e.offset:.3f}\t{e.label}"
                for c in cs for e in (c.events or ())]
            atomic_write_text(dest / f"{sp}.strong.tsv", "\n".join(strong) + "\n")
    meta = {"name": name, "labels": list(labels), "kinds": dict(kinds), "splits": list(splits), "source": source,
            "durations": {str(Path(c.audio_path).resolve()): c.duration for c in clips if c.duration}}
    ids = {str(Path(c.audio_path).resolve()): c.clip_id for c in clips if c.clip_id != Path(c.audio_path).stem}
    if ids:
        meta["clip_ids"] = ids
    atomic_write_text(dest / "metadata.json", json.dumps(meta, indent=1))
    return dest
