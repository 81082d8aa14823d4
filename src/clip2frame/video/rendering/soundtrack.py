"""The soundtrack of a scene of the embedded audio-visual corpus: every played source's notes rendered with its
General-MIDI program (FluidSynth through :func:`clip2frame.data.synth.render_notes`, which names the extra
when FluidSynth is missing), mixed with on-screen instruments louder than off-screen ones."""
from __future__ import annotations

import logging

import numpy as np

from ...data.synth import render_notes
from .scene import GM_PROGRAMS, Scene
from .settings import VideoSynthConfig

log = logging.getLogger(__name__)

RENDERER = "clip2frame.data.synth.render_notes"  # the soundtrack's renderer, as the corpus metadata names it


def render_audio(scene: Scene, cfg: VideoSynthConfig) -> tuple[np.ndarray, str]:
    """Mono float32 soundtrack [N] of the scene at ``cfg.sr``, and the renderer's name."""
    n = int(round(cfg.duration_s * cfg.sr))
    mix = np.zeros(n, np.float32)
    for s in scene.sources:
        if not s.played or not s.notes:
            continue
        notes = [(on, off, p, 100) for on, off, p in s.notes]
        stem = np.asarray(render_notes(notes, GM_PROGRAMS[s.inst], is_drum=s.inst == "drums",
                                       duration_s=cfg.duration_s, sr=cfg.sr), np.float32)[:n]
        stem = np.pad(stem, (0, n - len(stem)))
        peak = float(np.abs(stem).max())
        if peak > 0:
            stem = stem / peak * (0.6 if s.onscreen else 0.35)
        mix += stem
    peak = float(np.abs(mix).max())
    if peak > 0.9:
        mix *= 0.9 / peak
    return mix, RENDERER
