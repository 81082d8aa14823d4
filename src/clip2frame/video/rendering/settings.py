"""The settings of the embedded audio-visual corpus (:class:`VideoSynthConfig`), read by the scenes
(:mod:`.scene`), the looks (:mod:`.appearance`), the soundtrack and the corpus writer.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...tags import VIDEO_INSTRUMENTS
from ...timebase import SAMPLE_RATE


@dataclass(frozen=True)
class VideoSynthConfig:
    """Settings of the embedded audio-visual corpus (deterministic from ``seed``)."""

    n_train: int = 36
    n_validation: int = 9
    n_test: int = 18
    duration_s: float = 10.0
    fps: float = 20.0
    width: int = 256
    height: int = 192
    seed: int = 0
    p_second_played: float = 0.35
    p_idle: float = 0.4
    p_offscreen: float = 0.25
    p_walker: float = 0.5
    p_swinger: float = 0.4
    shake_px: float = 1.0
    # scales the amplitude of every playing motion (bow, strum, sticks, fingers, bellows): lower is harder
    motion_gain: float = 1.5
    # scales the drawn thickness of the moving parts (arms, hands, fingers, bow, sticks, mouth). 1.0 (every corpus
    # before 2026-12-07; a corpus whose metadata lacks the key) draws them 1-4 px wide, thinner than a real
    # forearm at this scale; 3.0 was chosen by measurement (RESULTS.md, "Why the action map alone ...")
    limb_width: float = 3.0
    zoom: float = 0.04
    sr: int = SAMPLE_RATE
    crf: int = 20
    instruments: tuple[str, ...] = VIDEO_INSTRUMENTS
    # "fixed": every video looks alike (the only look before 2026-12-06); "random": each video draws its look
    # (pictures, background, players, scale, frame size and rate, camera, CRF) from the training pool
    appearance: str = "fixed"
    # videos of the "heldout-style" split, rendered in the held-out style (appearance "random" only)
    n_heldout_style: int = 0
