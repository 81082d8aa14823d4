"""What a reader found: clips per split, tag counts, missing / malformed / unreadable files, duration.

Used by ``clip2frame data check``; returns plain JSON-able dicts so the CLI can print text or ``--json``.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import av

from ..manifest import Manifest
from ._common import rel

log = logging.getLogger(__name__)


def audio_duration(path: Path) -> float:
    """Duration in seconds from the file header (soundfile), else from the container (PyAV)."""
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    try:
        return float(sf.info(str(path)).duration)
    except Exception as sf_error:  # libsndfile raises several types; PyAV is the fallback
        try:
            with av.open(str(path)) as c:
                if c.duration is not None:
                    return float(c.duration) / 1_000_000
                s = next((s for s in c.streams if s.type == "audio"), None)
                if s is not None and s.duration is not None and s.time_base is not None:
                    return float(s.duration * s.time_base)
        except Exception as av_error:
            raise ValueError(f"{sf_error}; {av_error}") from None
        raise ValueError(f"{sf_error}; container has no duration") from None


def _issue(items: list[str], count: int, limit: int) -> dict[str, Any]:
    return {"count": count, "first": items[:limit]}


def summarize(manifest: Manifest, *, durations: bool = False, list_limit: int = 20) -> dict[str, Any]:
    """Summary of ``manifest`` (see the module docstring); ``durations`` reads headers of clips whose
    duration the reader did not know (unreadable files are then listed)."""
    ex = manifest.extra
    unreadable = list(ex.get("unreadable", []))
    n_unreadable = int(ex.get("n_unreadable", len(unreadable)))
    total = 0.0
    known = 0
    for c in manifest.clips:
        d = c.duration
        if d is None and durations:
            if not Path(c.audio_path).is_file():
                continue
            try:
                d = audio_duration(Path(c.audio_path))
            except ValueError as e:
                unreadable.append(f"{rel(Path(c.audio_path), manifest.root)}: {str(e).splitlines()[0][:120]}")
                n_unreadable += 1
                continue
        if d is not None:
            total += d
            known += 1
    tag_counts = Counter(t for c in manifest.clips for t in c.tags)
    ev_counts = Counter(e.label for c in manifest.clips for e in (c.events or ()))
    with_events = sum(c.events is not None for c in manifest.clips)
    missing = list(ex.get("missing", []))
    n_missing = int(ex.get("n_missing", len(missing)))
    malformed = list(ex.get("malformed", []))
    n_malformed = int(ex.get("n_malformed", len(malformed)))
    n_clips = len(manifest.clips)
    problems = n_missing + n_unreadable + n_malformed
    status = "unusable" if n_clips == 0 else ("incomplete" if problems else "ok")
    return {
        "name": manifest.name,
        "root": str(manifest.root),
        "reader": ex.get("reader"),
        "options": ex.get("options", {}),
        "status": status,
        "clips": {"total": n_clips, **{s: len(manifest.split(s)) for s in manifest.splits}},
        "labels": len(manifest.labels),
        "tags": {lab: tag_counts.get(lab, 0) for lab in manifest.labels},
        "kinds": dict(manifest.kinds),
        "clips_with_frame_truth": with_events,
        "events": {lab: ev_counts[lab] for lab in manifest.labels if ev_counts.get(lab)},
        "duration_s": round(total, 3),
        "duration_known_clips": known,
        "missing": _issue(missing, n_missing, list_limit),
        "unreadable": _issue(unreadable, n_unreadable, list_limit),
        "malformed": _issue(malformed, n_malformed, list_limit),
        "dropped": dict(ex.get("dropped", {})),
    }


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m {s % 60:02d}s" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def format_text(summary: dict[str, Any]) -> str:
    """Human-readable form of :func:`summarize`'s result."""
    out = [f"{summary['name']}  ({summary['root']})"]
    clips = dict(summary["clips"])
    total = clips.pop("total")
    per = ", ".join(f"{s} {n}" for s, n in clips.items())
    out.append(f"clips: {total}" + (f" — {per}" if per else ""))
    tags = summary["tags"]
    if tags:
        width = min(max(len(t) for t in tags), 28)
        out.append(f"tags ({len(tags)}), clips per tag:")
        out += [f"  {t:<{width}}  {n}" for t, n in tags.items()]
    if summary["clips_with_frame_truth"]:
        ev = summary["events"]
        out.append(f"frame truth: {summary['clips_with_frame_truth']} clips, "
                   f"{sum(ev.values())} events" + (f" ({', '.join(f'{k} {v}' for k, v in ev.items())})" if ev else ""))
    n_known = summary["duration_known_clips"]
    if n_known:
        note = "" if n_known == total else f" (known for {n_known} of {total} clips; --durations reads the rest)"
        out.append(f"total duration: {_hms(summary['duration_s'])}{note}")
    else:
        out.append("total duration: unknown (--durations reads it from the audio files)")
    for key, title in (("missing", "missing files"), ("unreadable", "unreadable files"),
                       ("malformed", "malformed rows (skipped)")):
        item = summary[key]
        if item["count"]:
            out.append(f"{title} ({item['count']}):")
            out += [f"  {x}" for x in item["first"]]
            if item["count"] > len(item["first"]):
                out.append(f"  ... and {item['count'] - len(item['first'])} more")
    if summary["dropped"]:
        out.append("dropped on purpose: " + ", ".join(f"{k} {v}" for k, v in summary["dropped"].items()))
    status = summary["status"]
    if status == "ok":
        out.append("status: ok — every expected file found")
    elif status == "incomplete":
        out.append("status: usable but incomplete — see the problems listed above")
    else:
        out.append("status: unusable — no clip could be read")
    return "\n".join(out)
