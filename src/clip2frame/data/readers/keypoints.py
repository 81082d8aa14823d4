"""Instrument-playing key points (thesis ch. 4, YT8M-IPA): per-frame points where the sound is made.

Two forms are read; both give :class:`KeyPointTrack` objects whose points are ``(x, y)`` pixels of the
frame resized to a 256-pixel long side (the thesis' evaluation frame).

1. The thesis author's form (``data/action_annotations`` of InstrumentPlayingDetection)::

       <root>/[te/]<Instrument>/<video_id>/<start>_<end>.<i>.npy

   one ``.npy`` per frame: an array [N, 2] of ``(h, w)`` = (row, column) points on the 256-long-side
   frame (N may be 0: nobody plays). Frame ``i`` of fragment ``<start>_<end>`` (seconds) is at
   ``start + i / fps`` with ``fps = 16000 / 512 / 16 = 1.953125``. A single ``.npy`` (object array) or
   ``.json`` holding a list of per-frame lists of ``[h, w]`` is read the same way, frame ``i`` at ``i / fps``,
   the video id being the file stem and the instrument the parent folder name.

2. Our JSON (one file per video, any name ending in ``.json``)::

       {"video": "abc.mp4", "frame_size": [h, w], "fps": 1.953125,
        "frames": [{"time": 0.0, "instrument": "violin", "points": [[x, y], ...],
                    "boxes": [[x0, y0, x1, y1], ...]}, ...]}

   ``points`` / ``boxes`` are pixels of a ``frame_size`` frame and are rescaled to the 256 long side;
   ``boxes`` and ``instrument`` are optional per frame (the file-level ``"instrument"`` is the default).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DatasetError
from ...models.registry import SOUND_PRESET, get_preset
from ...timebase import frame_rate_hz
from ._common import read_text

log = logging.getLogger(__name__)

#: Frame rate of the thesis' key-point files: the video time base's (the sound model's output frames).
THESIS_FPS = frame_rate_hz(get_preset(SOUND_PRESET).model.total_stride)
LONG_SIDE = 256
_FRAGMENT = re.compile(r"^(?P<start>\d+(?:\.\d+)?)_(?P<end>\d+(?:\.\d+)?)\.(?P<i>\d+)\.npy$")


@dataclass(frozen=True)
class KeyPointFrame:
    """The annotated key points of one frame at ``time`` (s): points [N, 2] and boxes [M, 4] on the
    256-long-side frame.
    """

    time: float
    points: np.ndarray            # [N, 2] float32 (x, y) on the 256-long-side frame
    instrument: str | None = None
    boxes: np.ndarray | None = None   # [M, 4] float32 (x0, y0, x1, y1), same coordinates


@dataclass(frozen=True)
class KeyPointTrack:
    """The key-point annotation of one video: its frames, frame size, frame rate and instrument."""

    video: str
    instrument: str | None
    frame_size: tuple[int, int] | None   # (h, w) of the 256-long-side frame, when known
    fps: float
    frames: tuple[KeyPointFrame, ...]

    def annotated(self) -> list[KeyPointFrame]:
        """Frames with at least one point (the ones the spatial evaluation uses)."""
        return [f for f in self.frames if len(f.points)]


def _hw_to_xy(arr, where: str) -> np.ndarray:
    a = np.asarray(arr, dtype=np.float32)
    if a.size == 0:
        return np.zeros((0, 2), np.float32)
    if a.ndim != 2 or a.shape[1] != 2:
        raise DatasetError(f"{where}: expected an array of (h, w) points [N, 2], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise DatasetError(f"{where}: non-finite point coordinates")
    return a[:, ::-1].copy()


def read_author_tree(root: str | Path, *, fps: float = THESIS_FPS) -> list[KeyPointTrack]:
    """Read ``<Instrument>/<video_id>/<start>_<end>.<i>.npy`` files below ``root``."""
    return _author_tracks(sorted(Path(root).rglob("*.npy")), fps=fps)


def _author_tracks(paths: list[Path], *, fps: float) -> list[KeyPointTrack]:
    groups: dict[tuple[str, str], list[tuple[float, int, Path]]] = {}
    for p in paths:
        m = _FRAGMENT.match(p.name)
        if not m:
            continue
        key = (p.parent.parent.name, p.parent.name)
        groups.setdefault(key, []).append((float(m["start"]), int(m["i"]), p))
    tracks = []
    for (instrument, video), items in sorted(groups.items()):
        frames = []
        for start, i, p in sorted(items):
            try:
                arr = np.load(p, allow_pickle=False)
            except (ValueError, OSError) as e:
                raise DatasetError(f"{p}: cannot read ({e})") from None
            frames.append(KeyPointFrame(round(start + i / fps, 6), _hw_to_xy(arr, str(p)), instrument.lower()))
        tracks.append(KeyPointTrack(video, instrument.lower(), None, fps, tuple(frames)))
    return tracks


def _read_frame_list(path: Path, data, *, fps: float) -> KeyPointTrack:
    frames = tuple(KeyPointFrame(round(i / fps, 6), _hw_to_xy(pts, f"{path}: frame {i}"),
                                 path.parent.name.lower() or None) for i, pts in enumerate(data))
    return KeyPointTrack(path.stem, path.parent.name.lower() or None, None, fps, frames)


def _read_our_json(path: Path, d: dict, *, long_side: int | None) -> KeyPointTrack:
    try:
        fps = float(d.get("fps", THESIS_FPS))
        size = d.get("frame_size")
        h, w = (int(size[0]), int(size[1])) if size is not None else (None, None)
    except (TypeError, ValueError, IndexError):
        raise DatasetError(f"{path}: 'fps' must be a number and 'frame_size' [h, w]") from None
    scale = 1.0
    if long_side is not None and h and w:
        scale = long_side / max(h, w)
    out_size = (int(round(h * scale)), int(round(w * scale))) if h and w else None
    default_inst = d.get("instrument")
    frames = []
    for i, f in enumerate(d.get("frames") or []):
        where = f"{path}: frames[{i}]"
        if not isinstance(f, dict) or "time" not in f:
            raise DatasetError(f"{where}: expected an object with 'time' and 'points'")
        try:
            t = float(f["time"])
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: 'time' is not a number") from None
        pts = np.asarray(f.get("points") or [], dtype=np.float32).reshape(-1, 2) if f.get("points") else \
            np.zeros((0, 2), np.float32)
        if pts.size and not np.isfinite(pts).all():
            raise DatasetError(f"{where}: non-finite point coordinates")
        boxes = None
        if f.get("boxes"):
            try:
                boxes = np.asarray(f["boxes"], dtype=np.float32).reshape(-1, 4) * scale
            except ValueError:
                raise DatasetError(f"{where}: 'boxes' must be [[x0, y0, x1, y1], ...]") from None
        frames.append(KeyPointFrame(t, pts * scale, f.get("instrument", default_inst), boxes))
    frames.sort(key=lambda f: f.time)
    video = str(d.get("video") or path.stem)
    return KeyPointTrack(video, default_inst, out_size, fps, tuple(frames))


def read_keypoints(path: str | Path, *, long_side: int | None = LONG_SIDE, fps: float = THESIS_FPS,
                   allow_pickle: bool = False) -> list[KeyPointTrack]:
    """Read key-point annotations from a folder (both forms, recursively) or from one file.

    Parameters
    ----------
    long_side : rescale our JSON's pixel coordinates to this long side (``None``: keep them as written).
    fps : frame rate of the author's form (default 1.953125, the thesis' frame rate).
    allow_pickle : let a single ``.npy`` be an object array of per-frame arrays (unpickling runs code
        from the file: only for files you trust; converting them to JSON is the safer route).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{path}: key-point annotations not found")
    files = [path] if path.is_file() else None
    tracks: list[KeyPointTrack] = []
    if files is None:
        tracks += read_author_tree(path, fps=fps)
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".npy") and not _FRAGMENT.match(p.name))
    for f in files:
        if f.suffix == ".json":
            try:
                data = json.loads(read_text(f)[0])
            except json.JSONDecodeError as e:
                raise DatasetError(f"{f}: not valid JSON ({e.msg} at line {e.lineno})") from None
            if isinstance(data, dict) and "frames" in data:
                tracks.append(_read_our_json(f, data, long_side=long_side))
            elif isinstance(data, list):
                tracks.append(_read_frame_list(f, data, fps=fps))
            else:
                raise DatasetError(f"{f}: expected {{'video', 'frame_size', 'fps', 'frames'}} or a list of "
                                   f"per-frame [[h, w], ...] lists")
        elif f.suffix == ".npy":
            if _FRAGMENT.match(f.name):
                tracks += _author_tracks([f], fps=fps)
                continue
            try:
                arr = np.load(f, allow_pickle=allow_pickle)
            except ValueError as e:
                hint = "" if allow_pickle else " — an object array needs allow_pickle=True (trusted files only)"
                raise DatasetError(f"{f}: cannot read ({e}){hint}") from None
            except OSError as e:
                raise DatasetError(f"{f}: cannot read ({e})") from None
            tracks.append(_read_frame_list(f, list(arr), fps=fps))
        else:
            raise DatasetError(f"{f}: expected a .json or .npy key-point file")
    if not tracks:
        raise DatasetError(f"{path}: no key-point files (<Instrument>/<video>/<start>_<end>.<i>.npy or *.json)")
    return tracks
