"""Per-stem and master effects of renderer ``synth-music-4``, drawn at random and applied with pedalboard.

A chain is stored in the clip spec as a list of ``[plugin name, {parameter: value}]`` (pedalboard's own
class and argument names), so a spec is plain JSON and renders the same samples every time. The draws:

* every stem: EQ (low/high shelf, one peak), compression (p 0.5), reverb (p 0.5, then re-gated to the
  stem's events so the truth stays exact);
* distorted electric guitar played on a clean program: amp-style distortion + cabinet EQ (high-pass,
  low-pass 2.5-6 kHz, mid peak);
* guitars, keys, synthesizer, accordion: chorus (p 0.3), phaser (p 0.15), short delay (p 0.2);
* master: glue compression (p 0.5), tilt EQ, limiter (p 0.7), a lossy codec (MP3 p 0.25, GSM p 0.03);
  noise is added by the mixer. The ``degraded`` profile adds a room (reverb on the whole mix, not gated),
  always a codec and low SNR.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConfigError
from ...extras import require

Chain = list  # [[name, {param: value}], ...]

_MODULATED = {"acoustic guitar", "clean electric guitar", "piano", "synthesizer", "accordion",
              "electric bass"}
_ALLOWED = {"Chorus", "Compressor", "Delay", "Distortion", "GSMFullRateCompressor", "HighShelfFilter",
            "HighpassFilter", "Limiter", "LowShelfFilter", "LowpassFilter", "MP3Compressor", "PeakFilter",
            "Phaser", "Reverb", "Gain"}


def _u(rng, lo, hi) -> float:
    return round(float(rng.uniform(lo, hi)), 4)


def draw_stem_chain(rng: np.random.Generator, tag: str, *, amp_sim: bool) -> Chain:
    """A random effect chain for one stem of ``tag`` (``amp_sim``: a clean program to be distorted)."""
    chain: Chain = []
    if amp_sim:
        chain += [["HighpassFilter", {"cutoff_frequency_hz": _u(rng, 70, 140)}],
                  ["Distortion", {"drive_db": _u(rng, 18, 38)}],
                  ["PeakFilter", {"cutoff_frequency_hz": _u(rng, 500, 1500), "gain_db": _u(rng, -4, 6),
                                  "q": _u(rng, 0.5, 1.5)}],
                  ["LowpassFilter", {"cutoff_frequency_hz": _u(rng, 2500, 6000)}]]
    chain += [["LowShelfFilter", {"cutoff_frequency_hz": _u(rng, 100, 400), "gain_db": _u(rng, -6, 6)}],
              ["HighShelfFilter", {"cutoff_frequency_hz": _u(rng, 2000, 6000), "gain_db": _u(rng, -8, 6)}],
              ["PeakFilter", {"cutoff_frequency_hz": _u(rng, 300, 4000), "gain_db": _u(rng, -6, 6),
                              "q": _u(rng, 0.5, 2.0)}]]
    if tag in _MODULATED:
        if rng.random() < 0.3:
            chain.append(["Chorus", {"rate_hz": _u(rng, 0.3, 2.5), "depth": _u(rng, 0.1, 0.5),
                                     "mix": _u(rng, 0.2, 0.6)}])
        if rng.random() < 0.15:
            chain.append(["Phaser", {"rate_hz": _u(rng, 0.2, 1.5), "depth": _u(rng, 0.3, 0.8),
                                     "mix": _u(rng, 0.2, 0.5)}])
        if rng.random() < 0.2:
            chain.append(["Delay", {"delay_seconds": _u(rng, 0.08, 0.35), "feedback": _u(rng, 0.1, 0.4),
                                    "mix": _u(rng, 0.1, 0.3)}])
    if rng.random() < 0.5:
        chain.append(["Compressor", {"threshold_db": _u(rng, -30, -10), "ratio": _u(rng, 1.5, 6),
                                     "attack_ms": _u(rng, 1, 30), "release_ms": _u(rng, 50, 300)}])
    if rng.random() < 0.5:
        chain.append(["Reverb", {"room_size": _u(rng, 0.1, 0.8), "damping": _u(rng, 0.2, 0.8),
                                 "wet_level": _u(rng, 0.05, 0.3), "dry_level": 1.0, "width": 0.0}])
    return chain


def draw_master_chain(rng: np.random.Generator, *, profile: str = "default") -> Chain:
    """A random master chain (see the module docstring); ``profile``: ``default`` or ``degraded``."""
    if profile not in ("default", "degraded"):
        raise ConfigError(f"profile: unknown effects profile '{profile}' (expected default or degraded)")
    chain: Chain = []
    if profile == "degraded":
        chain.append(["Reverb", {"room_size": _u(rng, 0.5, 0.95), "damping": _u(rng, 0.1, 0.6),
                                 "wet_level": _u(rng, 0.2, 0.45), "dry_level": _u(rng, 0.6, 0.9), "width": 0.0}])
    if rng.random() < 0.5:
        chain.append(["Compressor", {"threshold_db": _u(rng, -24, -8), "ratio": _u(rng, 1.5, 4),
                                     "attack_ms": _u(rng, 5, 40), "release_ms": _u(rng, 80, 400)}])
    chain += [["LowShelfFilter", {"cutoff_frequency_hz": _u(rng, 80, 300), "gain_db": _u(rng, -4, 4)}],
              ["HighShelfFilter", {"cutoff_frequency_hz": _u(rng, 3000, 7000), "gain_db": _u(rng, -6, 3)}]]
    if rng.random() < 0.7:
        chain.append(["Limiter", {"threshold_db": _u(rng, -6, -1), "release_ms": _u(rng, 50, 200)}])
    r = rng.random()
    if profile == "degraded" or r < 0.25:
        if profile == "degraded" and rng.random() < 0.3:
            chain.append(["GSMFullRateCompressor", {}])
        else:
            chain.append(["MP3Compressor", {"vbr_quality": _u(rng, 4 if profile == "degraded" else 2, 9.5)}])
    elif r < 0.28:
        chain.append(["GSMFullRateCompressor", {}])
    return chain


def apply_chain(x: np.ndarray, chain: Chain, *, sr: int) -> np.ndarray:
    """Run ``x`` (mono float32) through ``chain``; the output has the input's length and alignment."""
    if not chain or not np.any(x):
        return x
    pedalboard = require("pedalboard", what="corpus rendering")

    plugins = []
    for name, params in chain:
        if name not in _ALLOWED:
            raise ConfigError(f"effects: unknown plugin '{name}' in a clip spec")
        plugins.append(getattr(pedalboard, name)(**params))
    y = pedalboard.Pedalboard(plugins)(x[None, :].astype(np.float32), sr)[0]
    if len(y) != len(x):  # pedalboard compensates latency; keep the length exactly
        y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
    return np.nan_to_num(y).astype(np.float32)
