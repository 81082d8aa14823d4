"""Held-out production: relative levels (a part buried 15-25 dB under the lead), effect chains, panning
folded to mono, bus compression and mastering. Evaluation only (see :mod:`clip2frame.data.outside`).

Written separately from :mod:`clip2frame.data.synth.mix` / :mod:`~clip2frame.data.synth.effects`; effects
are pedalboard plugins. A mix plan is plain JSON (``[plugin, {param: value}]`` chains) drawn from the
clip's generator. Truth stays exact: every stem is gated to its truth spans *after* its effects (a 20 ms
fade ending at each span end), so reverb and delay tails never leak outside the events.
"""
from __future__ import annotations

import numpy as np

from ...errors import ConfigError
from ...extras import require

FADE_S = 0.02
LEVELS_DB = {"lead": (0.0, 0.0), "drums": (-4.0, 2.0), "bass": (-8.0, -2.0), "comp": (-10.0, -3.0),
             "counter": (-10.0, -4.0), "pad": (-14.0, -6.0), "other": (-14.0, -6.0)}
BURIED_DB = (-25.0, -15.0)
_PLUGINS = ("Chorus", "Compressor", "Delay", "Distortion", "HighShelfFilter", "HighpassFilter", "Limiter",
            "LowShelfFilter", "LowpassFilter", "PeakFilter", "Phaser", "Reverb", "Gain")


def _u(rng, lo, hi) -> float:
    return round(float(rng.uniform(lo, hi)), 3)


def _part_chain(rng: np.random.Generator, role: str, tag: str | None, amp: bool) -> list:
    chain: list = [["HighpassFilter", {"cutoff_frequency_hz": _u(rng, 25, 60) if role in ("bass", "drums")
                                       else _u(rng, 80, 220)}]]
    if amp:   # clean guitar through an amp-style drive and a speaker-cabinet low-pass
        chain += [["Gain", {"gain_db": _u(rng, 6, 14)}], ["Distortion", {"drive_db": _u(rng, 20, 40)}],
                  ["LowpassFilter", {"cutoff_frequency_hz": _u(rng, 3000, 5500)}]]
    for _ in range(int(rng.integers(1, 3))):
        chain.append(["PeakFilter", {"cutoff_frequency_hz": _u(rng, 200, 5000), "gain_db": _u(rng, -7, 5),
                                     "q": _u(rng, 0.7, 2.5)}])
    if rng.random() < 0.6:
        chain.append(["Compressor", {"threshold_db": _u(rng, -28, -12), "ratio": _u(rng, 2, 8),
                                     "attack_ms": _u(rng, 2, 25), "release_ms": _u(rng, 60, 250)}])
    if tag in ("clean electric guitar", "synthesizer", "piano", "electric bass") and rng.random() < 0.35:
        chain.append(["Chorus", {"rate_hz": _u(rng, 0.4, 3), "depth": _u(rng, 0.15, 0.5), "mix": _u(rng, 0.2, 0.5)}])
    if tag in ("clean electric guitar", "synthesizer") and rng.random() < 0.2:
        chain.append(["Phaser", {"rate_hz": _u(rng, 0.2, 1.2), "depth": _u(rng, 0.4, 0.9), "mix": _u(rng, 0.2, 0.5)}])
    if role in ("lead", "counter") and rng.random() < 0.35:
        chain.append(["Delay", {"delay_seconds": _u(rng, 0.12, 0.45), "feedback": _u(rng, 0.15, 0.45),
                                "mix": _u(rng, 0.1, 0.3)}])
    if rng.random() < 0.75:
        chain.append(["Reverb", {"room_size": _u(rng, 0.2, 0.9), "damping": _u(rng, 0.2, 0.8),
                                 "wet_level": _u(rng, 0.08, 0.4), "dry_level": _u(rng, 0.6, 0.9),
                                 "width": _u(rng, 0.5, 1.0)}])
    return chain


def draw_mix(rng: np.random.Generator, parts) -> dict:
    """A mix plan for ``parts`` (:class:`~clip2frame.data.outside.arrange.OutsidePart`): JSON-able dict.

    One non-lead tagged part (p 0.6) is buried ``BURIED_DB`` under the lead; drums and leads are never
    buried when another part can be.
    """
    plan: dict = {"parts": [], "buried": None}
    tagged = [i for i, p in enumerate(parts) if p.tag is not None and p.role not in ("lead",)]
    buried = int(_pick_index(rng, tagged)) if tagged and rng.random() < 0.6 else None
    for i, p in enumerate(parts):
        level = _u(rng, *BURIED_DB) if i == buried else _u(rng, *LEVELS_DB[p.role])
        plan["parts"].append({"name": p.name, "level_db": level, "pan": _u(rng, -0.9, 0.9),
                              "chain": _part_chain(rng, p.role, p.tag, p.program < 0)})
    if buried is not None:
        plan["buried"] = parts[buried].name
    plan["bus"] = [["Compressor", {"threshold_db": _u(rng, -24, -10), "ratio": _u(rng, 1.5, 5),
                                   "attack_ms": _u(rng, 5, 30), "release_ms": _u(rng, 80, 300)}]]
    plan["master"] = [["LowShelfFilter", {"cutoff_frequency_hz": _u(rng, 80, 200), "gain_db": _u(rng, -2, 4)}],
                      ["HighShelfFilter", {"cutoff_frequency_hz": _u(rng, 4000, 9000), "gain_db": _u(rng, -3, 4)}],
                      ["Limiter", {"threshold_db": _u(rng, -6, -0.5), "release_ms": _u(rng, 50, 200)}]]
    plan["loudness_dbfs"] = _u(rng, -24, -14)           # active RMS of the master, before the limiter
    return plan


def _pick_index(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def apply(x: np.ndarray, chain: list, sr: int) -> np.ndarray:
    """Run ``x`` (shape (C, N) or (N,), float32) through a pedalboard chain ``[[plugin, {param: v}], ...]``."""
    pedalboard = require("pedalboard", what="corpus rendering")

    plugins: list = []
    for name, params in chain:
        if name not in _PLUGINS:
            raise ConfigError(f"mix plan: unknown plugin '{name}'")
        plugins.append(getattr(pedalboard, name)(**params))
    return np.asarray(pedalboard.Pedalboard(plugins)(np.ascontiguousarray(x, dtype=np.float32), sr),
                      dtype=np.float32)


def gate_to(x: np.ndarray, spans, sr: int) -> np.ndarray:
    """Zero ``x`` (shape (..., N)) outside ``spans`` (s), with a ``FADE_S`` fade ending at each span end."""
    n = x.shape[-1]
    mask = np.zeros(n, dtype=np.float32)
    f = max(1, int(FADE_S * sr))
    for a, b in spans:
        i, j = int(round(a * sr)), min(n, int(round(b * sr)))
        if j <= i:
            continue
        mask[i:j] = 1.0
        k = min(f, j - i)
        mask[j - k:j] = np.linspace(1.0, 0.0, k, dtype=np.float32)
    return x * mask


def active_level(x: np.ndarray, sr: int) -> float:
    """RMS over the 50-ms windows within 40 dB of the loudest one (0 for silence)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1]).mean(axis=0)
    w = max(1, int(0.05 * sr))
    m = len(x) // w
    if m == 0:
        return 0.0
    r = np.sqrt(np.mean(x[: m * w].reshape(m, w) ** 2, axis=1))
    top = float(r.max())
    if top <= 0:
        return 0.0
    keep = r >= top * 10 ** (-40 / 20)
    return float(np.sqrt(np.mean(r[keep] ** 2)))


def mix_down(stems: list[np.ndarray], spans: list, plan: dict, sr: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Produce the mono master from dry mono stems (shape (N,)) and their truth spans.

    Returns
    -------
    master : np.ndarray, shape (N,), float32
        Mono (stereo folded as (L+R)/2), peak <= 0.99.
    placed : list of np.ndarray, shape (N,)
        Each part as it sits in the master (mono fold of its wet, panned, levelled stem; before the
        bus compressor, limiter and final gain, scaled by the final gain).
    """
    n = len(stems[0]) if stems else 0
    lead_ref = None
    placed: list[np.ndarray] = []
    for x, sp, pp in zip(stems, spans, plan["parts"]):
        wet = apply(np.stack([x, x]), pp["chain"], sr)
        wet = gate_to(wet, sp, sr)
        r = active_level(wet, sr)
        if lead_ref is None:
            lead_ref = 0.1
        g = lead_ref * 10 ** (pp["level_db"] / 20) / r if r > 0 else 0.0
        th = (pp["pan"] + 1) * np.pi / 4                   # constant-power pan
        placed.append(wet * g * np.array([[np.cos(th)], [np.sin(th)]], dtype=np.float32))
    bus = np.sum(placed, axis=0) if placed else np.zeros((2, n), dtype=np.float32)
    bus = apply(bus, plan["bus"], sr)
    r = active_level(bus, sr)
    gain = 10 ** (plan["loudness_dbfs"] / 20) / r if r > 0 else 1.0
    master = apply(bus * gain, plan["master"], sr).mean(axis=0)
    peak = float(np.max(np.abs(master))) if n else 0.0
    if peak > 0.99:
        master *= 0.99 / peak
        gain *= 0.99 / peak
    return master.astype(np.float32), [(p.mean(axis=0) * gain).astype(np.float32) for p in placed]
