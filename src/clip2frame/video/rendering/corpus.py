"""Writing the embedded audio-visual corpus: one video (:func:`render_video`: frames + soundtrack as MP4, and its
truth) and the whole corpus (:func:`render_corpus`: a manifest directory, deterministic from the seed,
resumable, in any number of processes). Layout: see :mod:`clip2frame.video.rendering`."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from ...config import to_dict
from ...data.manifest import EVENTS_HEADER, WEAK_HEADER
from ...data.synth.driver import drive
from ...errors import ConfigError
from ...fileio import atomic_write_text
from ...tags import VIDEO_INSTRUMENTS
from ..inference.io import FRAME_DURATION_S, n_output_frames, rgb_times, write_mp4
from .appearance import GLYPHS, HELDOUT, TRAIN_POOL, draw_look, glyph_available
from .scene import make_scene, render_frame
from .settings import VideoSynthConfig
from .soundtrack import render_audio

log = logging.getLogger(__name__)

#: The split rendered in the held-out appearance style (never in the training pool).
HELDOUT_STYLE_SPLIT = "heldout-style"


def render_video(cfg: VideoSynthConfig, index: int, main: str, out_mp4: str | Path, *, heldout_style: bool = False
                 ) -> dict:
    """Render video ``index`` to ``out_mp4`` (in the held-out style with ``heldout_style`` when the corpus'
    appearance is ``random``); returns its truth (JSON-ready)."""
    look, cfg = draw_look(cfg, index, heldout=heldout_style)
    scene = make_scene(cfg, index, main, look)
    n = int(round(cfg.duration_s * cfg.fps))
    T = n_output_frames(cfg.duration_s)
    shown = {int(math.floor(tau * cfg.fps + 1e-9)): t for t, tau in enumerate(rgb_times(T))}
    truth_frames: dict[int, dict] = {}

    def gen():
        for i in range(n):
            img, tr = render_frame(scene, cfg, i / cfg.fps)
            if i in shown:
                truth_frames[shown[i]] = tr
            yield img

    audio, renderer = render_audio(scene, cfg)
    write_mp4(out_mp4, gen(), fps=cfg.fps, audio=audio, sr=cfg.sr, crf=cfg.crf)
    frames = []
    for t, tau in enumerate(rgb_times(T)):
        tr = truth_frames.get(t)
        if tr is None:  # the sample instant is past the last picture: it shows the last frame
            _, tr = render_frame(scene, cfg, (n - 1) / cfg.fps)
        a, b = t * FRAME_DURATION_S, (t + 1) * FRAME_DURATION_S
        sound: dict[str, float] = {}
        for s in scene.sources:
            if s.played:
                sound[s.inst] = round(max(sound.get(s.inst, 0.0), s.sound_fraction(a, b)), 4)
        frames.append({"t": t, "time": round(float(tau), 4), "sound": sound, **tr})
    return {
        "duration_s": cfg.duration_s, "fps": cfg.fps, "frame_size": [cfg.height, cfg.width],
        "tags": scene.tags,
        "sources": [{"instrument": s.inst, "onscreen": s.onscreen, "played": s.played,
                     "notes": [list(x) for x in s.notes]} for s in scene.sources],
        "audio_renderer": renderer, "frames": frames,
        **({} if look.style == "fixed" else {"look": {**to_dict(look), "crf": cfg.crf,
                                                      "shake_px": round(cfg.shake_px, 3), "zoom": round(cfg.zoom, 4)}}),
    }


def _render_task(task: tuple) -> dict:
    """Render one video of the corpus (or read its truth when already rendered): a worker's unit of work."""
    cfg, out, split, idx, main = task
    vid = f"{split}_{idx:04d}_{main}"
    mp4, tj = out / "videos" / f"{vid}.mp4", out / "truth" / f"{vid}.json"
    if mp4.is_file() and tj.is_file():
        return json.loads(tj.read_text())
    truth = render_video(cfg, idx, main, mp4, heldout_style=split == HELDOUT_STYLE_SPLIT)
    truth = {"id": vid, "split": split, "file": f"videos/{vid}.mp4", **truth}
    atomic_write_text(tj, json.dumps(truth))
    return truth


# Settings a corpus' metadata may lack: the value every corpus rendered before the setting existed had.
_BEFORE_THE_KEY = {"appearance": "fixed", "n_heldout_style": 0, "limb_width": 1.0}


def _check_resume(out: Path, cfg: VideoSynthConfig) -> None:
    """Refuse to add videos to a finished corpus rendered with other settings (a resume would mix them)."""
    meta = out / "metadata.json"
    if not meta.exists():
        return
    try:
        stored = json.loads(meta.read_text())["config"]
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{meta}: unreadable corpus metadata ({e}); render into a new directory") from None
    want = to_dict(cfg)
    have = {k: stored.get(k, _BEFORE_THE_KEY.get(k)) for k in want}
    diff = sorted(k for k in want if have[k] != want[k])
    if diff:
        k = diff[0]
        raise ConfigError(f"{out}: already holds a corpus rendered with other settings ({k}: {have[k]!r} there, "
                          f"{want[k]!r} now); render into a new directory or pass the same settings")


def render_corpus(out_dir: str | Path, cfg: VideoSynthConfig = VideoSynthConfig(), *, progress: bool = False,
                  jobs: int = 1) -> Path:
    """Render the whole corpus (train / validation / test) into ``out_dir``; returns ``out_dir``.

    Videos already present with their truth are kept (resume); the result is deterministic from the seed
    and does not depend on ``jobs`` (each video is seeded by its index).
    """
    for inst in cfg.instruments:
        if inst not in VIDEO_INSTRUMENTS:
            raise ConfigError(f"config key 'instruments': unknown instrument '{inst}' (known: {VIDEO_INSTRUMENTS})")
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    if cfg.appearance not in ("fixed", "random"):
        raise ConfigError(f"config key 'appearance': expected fixed or random, got '{cfg.appearance}'")
    if cfg.n_heldout_style and cfg.appearance != "random":
        raise ConfigError("config key 'n_heldout_style': a held-out style needs appearance=random (a fixed corpus "
                          "has one style)")
    _check_resume(out, cfg)
    splits = [("train", cfg.n_train), ("validation", cfg.n_validation), ("test", cfg.n_test)]
    if cfg.n_heldout_style:
        splits.append((HELDOUT_STYLE_SPLIT, cfg.n_heldout_style))
    todo: list[tuple] = []
    for split, count in splits:
        for j in range(count):
            todo.append((cfg, out, split, len(todo), cfg.instruments[j % len(cfg.instruments)]))
    truths = drive(todo, _render_task, jobs=max(1, jobs), desc="render", unit="video", progress=progress)
    rows_weak: dict[str, list[str]] = {s: [] for s, _ in splits}
    rows_strong: dict[str, list[str]] = {s: [] for s, _ in splits}
    for (_, _, split, _, _), truth in zip(todo, truths):
        rows_weak[split].append(f"{truth['file']}\t{','.join(truth['tags'])}")
        for src in truth["sources"]:
            for on, off, _ in src["notes"]:
                rows_strong[split].append(f"{truth['file']}\t{on:.3f}\t{off:.3f}\t{src['instrument']}")
    for split, _ in splits:
        atomic_write_text(out / f"{split}.weak.tsv", "\t".join(WEAK_HEADER) + "\n" + "".join(r + "\n" for r in rows_weak[split]))
        atomic_write_text(out / f"{split}.strong.tsv",
                          "\t".join(EVENTS_HEADER) + "\n" + "".join(r + "\n" for r in rows_strong[split]))
    meta: dict = {"name": "clip2frame-video-synth", "labels": list(VIDEO_INSTRUMENTS),
            "kinds": {k: "instrument" for k in VIDEO_INSTRUMENTS}, "splits": [s for s, _ in splits],
            "kind": "video", "config": to_dict(cfg), "frame_rate": 1.0 / FRAME_DURATION_S,
            "glyphs": {k: glyph_available(GLYPHS[k]) for k in VIDEO_INSTRUMENTS},
            "notes": "cello = the violin glyph rotated upright and drawn 1.4x larger; tags = instruments "
                     "played on screen; off-screen instruments are heard but not tagged"}
    if cfg.appearance == "random":
        meta["appearance"] = {"train_pool": {k: list(v) for k, v in TRAIN_POOL.items()},
                              "heldout_style": {k: list(v) for k, v in HELDOUT.items()},
                              "heldout_split": HELDOUT_STYLE_SPLIT if cfg.n_heldout_style else None}
    atomic_write_text(out / "metadata.json", json.dumps(meta, indent=1))
    return out
