"""The soundtrack of a scene of the embedded audio-visual corpus: every played source's notes rendered with its
General-MIDI program (FluidSynth through :mod:`clip2frame.data.synth`; simple additive tones when that is
unavailable), mixed with on-screen instruments louder than off-screen ones."""
from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from .scene import GM_PROGRAMS, Scene
from .settings import VideoSynthConfig

log = logging.getLogger(__name__)


def _fallback_tone(notes, inst: str, n: int, sr: int) -> np.ndarray:
    """Simple additive tones (drums: decaying noise) when FluidSynth is unavailable."""
    rng = np.random.default_rng(GM_PROGRAMS[inst] + 17)
    out = np.zeros(n, np.float32)
    harm = {"flute": [1, 0.2], "violin": [1, 0.6, 0.4, 0.3], "cello": [1, 0.7, 0.5, 0.3],
            "trumpet": [1, 0.8, 0.7, 0.5, 0.3], "saxophone": [1, 0.5, 0.6, 0.3], "accordion": [1, 0.7, 0.7, 0.6],
            "guitar": [1, 0.5, 0.3], "piano": [1, 0.4, 0.2]}.get(inst, [1])
    for on, off, p in notes:
        a, b = int(on * sr), min(n, int(off * sr))
        if b <= a:
            continue
        tt = np.arange(b - a) / sr
        if inst == "drums":
            seg = rng.normal(0, 1, b - a) * np.exp(-tt / 0.05)
        else:
            f = 440.0 * 2 ** ((p - 69) / 12)
            seg = sum(c * np.sin(2 * np.pi * f * (i + 1) * tt) for i, c in enumerate(harm) if f * (i + 1) < sr / 2)
            env = np.minimum(1, tt / 0.01) * (np.exp(-tt / 0.4) if inst in ("piano", "guitar") else 1.0)
            seg = seg * env * np.minimum(1, (tt[-1] - tt) / 0.01 + 1e-3)
        out[a:b] += 0.2 * np.asarray(seg, np.float32)
    return out


def render_audio(scene: Scene, cfg: VideoSynthConfig) -> tuple[np.ndarray, str]:
    """Mono float32 soundtrack [N] of the scene at ``cfg.sr``, and the renderer's name."""
    n = int(round(cfg.duration_s * cfg.sr))
    mix = np.zeros(n, np.float32)
    renderer = "fallback-tones"
    render: Callable[[Any, str], Any] | None = None
    try:
        from ...data.synth import render_notes

        def render_with_notes(notes, inst):
            return render_notes([(on, off, p, 100) for on, off, p in notes], GM_PROGRAMS[inst],
                                is_drum=inst == "drums", duration_s=cfg.duration_s, sr=cfg.sr)
        render = render_with_notes
        renderer = "clip2frame.data.synth.render_notes"
    except ImportError:
        try:
            from ...data.synth.engine import get_engine

            eng = get_engine(sr=cfg.sr)

            def render_with_engine(notes, inst):
                return eng.render([(on, off, p, 100) for on, off, p in notes], program=GM_PROGRAMS[inst],
                                  n_samples=n, is_drum=inst == "drums")
            render = render_with_engine
            renderer = "clip2frame.data.synth.engine (FluidSynth)"
        except Exception as e:  # no FluidSynth / soundfont: simple tones
            log.info("FluidSynth renderer unavailable (%s); using simple tones", e)
            render = None
    for s in scene.sources:
        if not s.played or not s.notes:
            continue
        if render is not None:
            stem = np.asarray(render(s.notes, s.inst), np.float32)[:n]
            stem = np.pad(stem, (0, n - len(stem)))
        else:
            stem = _fallback_tone(s.notes, s.inst, n, cfg.sr)
        peak = float(np.abs(stem).max())
        if peak > 0:
            stem = stem / peak * (0.6 if s.onscreen else 0.35)
        mix += stem
    peak = float(np.abs(mix).max())
    if peak > 0.9:
        mix *= 0.9 / peak
    return mix, renderer
