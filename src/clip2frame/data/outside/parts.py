"""Note generators of the held-out arrangements (lead, counter-line, comping, bass, pad, drums) and
:func:`make_arrangement`. Evaluation only (see :mod:`clip2frame.data.outside`)."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ...tags import INSTRUMENT_TAGS
from ..synth.compose import DRUM_HOLD_S
from .arrange import (GENRES, OTHERS, PROGRAMS, RANGES, SYNTH_BASS, SYNTH_PAD, Arrangement, Genre, Note,
                      OutsidePart, _chord_tones, _form, _in_window, _pick, _progression, _scale_pitches)

KICK, SIDE, SNARE, CLAP, CHH, PHH, OHH, CRASH, RIDE, BELL = 36, 37, 38, 39, 42, 44, 46, 49, 51, 53
TOMS = (41, 43, 45, 47, 48, 50)
SHAKER, CONGA_HI, CONGA_LO, CLAVES = 70, 62, 64, 75
Chord = tuple[float, float, int]      # start beat, end beat, scale degree of the root
Dyn = Callable[[float], float]        # beat -> dynamics factor
# 16th-step drum patterns per style: key -> 16 velocities (0 = rest) for one bar of 4 beats.
_GROOVES: dict[str, list[dict[int, list[int]]]] = {
    "rock": [{KICK: [100, 0, 0, 0, 0, 0, 0, 0, 95, 0, 90, 0, 0, 0, 0, 0], SNARE: [0, 0, 0, 0, 110, 0, 0, 0] * 2,
              CHH: [80, 0, 60, 0] * 4},
             {KICK: [100, 0, 0, 90, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0], SNARE: [0, 0, 0, 0, 115, 0, 0, 30] * 2,
              RIDE: [85, 0, 65, 0] * 4}],
    "jazz": [{RIDE: [90, 0, 0, 0, 90, 0, 0, 70, 90, 0, 0, 0, 90, 0, 0, 70], PHH: [0, 0, 0, 0, 70, 0, 0, 0] * 2,
              KICK: [40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], SNARE: [0, 0, 0, 0, 0, 0, 0, 35] * 2}],
    "electro": [{KICK: [110, 0, 0, 0] * 4, CLAP: [0, 0, 0, 0, 100, 0, 0, 0] * 2, CHH: [0, 0, 90, 0] * 4,
                 OHH: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0]},
                {KICK: [110, 0, 0, 0, 0, 0, 100, 0, 0, 0, 110, 0, 0, 0, 0, 0], SNARE: [0, 0, 0, 0, 100, 0, 0, 0] * 2,
                 CHH: [70, 50] * 8}],
    "folk": [{KICK: [80, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0], SIDE: [0, 0, 0, 0, 80, 0, 0, 0] * 2,
              SHAKER: [60, 40] * 8}],
    "ballad": [{KICK: [85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 70, 0, 0, 0, 0, 0], SIDE: [0, 0, 0, 0, 75, 0, 0, 0] * 2,
                CHH: [55, 0, 40, 0] * 4}],
    "funk": [{KICK: [110, 0, 0, 90, 0, 0, 80, 0, 0, 0, 100, 0, 0, 90, 0, 0],
              SNARE: [0, 0, 0, 0, 115, 0, 0, 35, 0, 30, 0, 0, 115, 0, 0, 40], CHH: [90, 50, 70, 50] * 4}],
    "bossa": [{KICK: [90, 0, 0, 70, 90, 0, 0, 70] * 2, SIDE: [70, 0, 0, 70, 0, 0, 70, 0, 0, 0, 70, 0, 0, 70, 0, 0],
               CHH: [50, 40] * 8, CONGA_HI: [0, 0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0, 60, 0]}],
}


class _Clock:
    """Beat -> seconds with swing (off-eighths delayed) and per-note humanisation."""

    def __init__(self, bpm: float, swing: float, offset_s: float, jitter_s: float, rng: np.random.Generator):
        self.spb, self.swing, self.offset, self.jitter, self.rng = 60.0 / bpm, swing, offset_s, jitter_s, rng

    def t(self, beat: float, human: bool = True) -> float:
        whole, frac = divmod(beat, 1.0)
        if abs(frac - 0.5) < 1e-6:
            frac = self.swing
        j = float(self.rng.normal(0, self.jitter)) if human else 0.0
        return (whole + frac) * self.spb - self.offset + j


def _vel(rng: np.random.Generator, base: float, spread: float = 8.0) -> int:
    return int(np.clip(round(base + rng.normal(0, spread)), 1, 127))


def _register(rng: np.random.Generator, tag: str, width: int) -> tuple[int, int]:
    lo, hi = RANGES[tag]
    width = min(width, hi - lo)
    start = int(rng.integers(lo, hi - width + 1))
    return start, start + width


def _lead(rng: np.random.Generator, clk: _Clock, tag: str, key: int, mode: str, chords: list[Chord], beats: float,
          density: float, dyn: Dyn) -> list[Note]:
    """A phrase-built melody: rhythm cells at the genre density, chord tones on strong beats, steps between."""
    lo, hi = _register(rng, tag, int(rng.integers(12, 20)))
    scale = _scale_pitches(key, mode, lo, hi)
    notes: list[Note] = []
    cur = _pick(rng, scale[len(scale) // 4: 3 * len(scale) // 4] or scale)
    b = 0.0
    while b < beats:
        phrase = float(_pick(rng, (4.0, 8.0)))
        end = min(beats, b + phrase)
        while b < end:
            step = float(_pick(rng, (0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0) if density > 1.5 else (0.5, 1.0, 1.0, 1.5, 2.0, 3.0)))
            dur = min(step, end - b)
            if rng.random() < 0.12:
                b += dur
                continue
            chord = next((c for s, e, c in chords if s <= b < e), chords[-1][2])
            if b % 1.0 == 0 and rng.random() < 0.7:
                cands = _in_window(_chord_tones(key, mode, chord), lo, hi) or scale
                cur = min(cands, key=lambda p: abs(p - cur) + rng.random() * 3)
            else:
                i = scale.index(min(scale, key=lambda p: abs(p - cur)))
                i = int(np.clip(i + int(rng.choice([-2, -1, -1, 1, 1, 2, 3, -3])), 0, len(scale) - 1))
                cur = scale[i]
            on, off = clk.t(b), clk.t(b + dur * float(rng.uniform(0.7, 0.98)))
            notes.append((on, off, cur, _vel(rng, dyn(b) * 100)))
            b += dur
        b = end + float(_pick(rng, (0.0, 0.0, 1.0, 2.0)))   # breath between phrases
    return notes


def _counter(rng: np.random.Generator, clk: _Clock, tag: str, key: int, mode: str, chords: list[Chord],
             beats: float, dyn: Dyn) -> list[Note]:
    """Long notes on chord tones (half and whole notes), a countermelody under or over the lead."""
    lo, hi = _register(rng, tag, 12)
    notes: list[Note] = []
    b, cur = 0.0, (lo + hi) // 2
    while b < beats:
        dur = float(_pick(rng, (2.0, 2.0, 4.0, 1.0)))
        chord = next((c for s, e, c in chords if s <= b < e), chords[-1][2])
        cands = _in_window(_chord_tones(key, mode, chord, 4), lo, hi) or [cur]
        cur = min(cands, key=lambda p: abs(p - cur) + rng.random() * 4)
        if rng.random() > 0.15:
            notes.append((clk.t(b), clk.t(b + dur * 0.95), cur, _vel(rng, dyn(b) * 80)))
        b += dur
    return notes


def _voicing(rng: np.random.Generator, style: str, pcs: list[int], lo: int, hi: int) -> list[int]:
    root = min(_in_window([pcs[0]], lo, lo + 11) or [lo])
    if style == "power":
        return [root, root + 7, root + 12]
    if style == "shell":
        return [root, root + (pcs[1] - pcs[0]) % 12, root + (pcs[-1] - pcs[0]) % 12 + (12 if len(pcs) > 3 else 0)]
    if style == "strum":
        return sorted(set(_in_window(pcs, root, root + 19)))[:6]
    inv = int(rng.integers(3))
    close = sorted(_in_window(pcs, root, root + 11))
    return sorted(close[inv:] + [p + 12 for p in close[:inv]])


def _comp(rng: np.random.Generator, clk: _Clock, tag: str, key: int, mode: str, chords: list[Chord], beats: float,
          style: str, dyn: Dyn) -> list[Note]:
    """Chords in the part's voicing style: block, arpeggio, strum, shell, stabs or power chords."""
    lo, hi = _register(rng, tag, 24)
    notes: list[Note] = []
    for s, e, deg in chords:
        pcs = _chord_tones(key, mode, deg, 4 if style == "shell" else 3)
        v = _voicing(rng, style, pcs, lo, hi)
        if style == "arp":
            b, i = s, 0
            while b < e:
                p = v[i % len(v)] + (12 if (i // len(v)) % 2 else 0)
                notes.append((clk.t(b), clk.t(b + 0.45), p, _vel(rng, dyn(b) * 70)))
                b, i = b + 0.5, i + 1
            continue
        hits = {"block": [s], "power": list(np.arange(s, e, 0.5)), "strum": list(np.arange(s, e, 1.0)),
                "shell": [x for x in np.arange(s, e, 1.0) if rng.random() < 0.6] or [s],
                "stabs": [x for x in np.arange(s + 0.5, e, 1.0)] + [x for x in np.arange(s, e, 0.25)
                                                                    if rng.random() < 0.15]}[style]
        for h in sorted(set(float(x) for x in hits)):
            length = {"block": e - s, "power": 0.45, "strum": 0.95, "shell": 0.8, "stabs": 0.2}[style]
            length = min(length, e - h)
            for k, p in enumerate(v):
                delay = (0.012 * k) if style == "strum" else 0.0
                notes.append((clk.t(h) + delay, clk.t(h + length * 0.95), p, _vel(rng, dyn(h) * 72)))
    return notes


def _bass(rng: np.random.Generator, clk: _Clock, tag: str, key: int, mode: str, chords: list[Chord], beats: float,
          style: str, dyn: Dyn) -> list[Note]:
    """A bass line: root eighths, root-fifth, walking quarters, pedal or syncopated sixteenths."""
    lo, hi = _register(rng, tag, 17)
    notes: list[Note] = []
    for n, (s, e, deg) in enumerate(chords):
        root = min(_in_window([_chord_tones(key, mode, deg)[0]], lo, hi) or [lo])
        fifth = root + 7 if root + 7 <= hi else root - 5
        if style == "pedal":
            notes.append((clk.t(s), clk.t(e - 0.1), root, _vel(rng, dyn(s) * 75)))
            continue
        if style == "walking":
            nxt = chords[(n + 1) % len(chords)][2]
            target = min(_in_window([_chord_tones(key, mode, nxt)[0]], lo, hi) or [root])
            b = s
            while b < e:
                p = root if b == s else (target + int(_pick(rng, (-1, 1))) if b + 1 >= e else
                                         _pick(rng, _in_window(_chord_tones(key, mode, deg), lo, hi) or [root]))
                notes.append((clk.t(b), clk.t(b + 0.9), p, _vel(rng, dyn(b) * 85)))
                b += 1.0
            continue
        step = 0.25 if style == "syncopated" else 0.5
        for b in np.arange(s, e, step):
            if style == "syncopated" and rng.random() < 0.45 and b != s:
                continue
            p = root if (style == "root8" or rng.random() < 0.65) else fifth
            if rng.random() < 0.1:
                p += 12 if p + 12 <= hi else 0
            notes.append((clk.t(float(b)), clk.t(float(b) + step * 0.85), p, _vel(rng, dyn(float(b)) * 88)))
    return notes


def _pad(rng: np.random.Generator, clk: _Clock, tag: str, key: int, mode: str, chords: list[Chord],
         dyn: Dyn) -> list[Note]:
    lo, hi = _register(rng, tag, 19)
    return [(clk.t(s, human=False), clk.t(e, human=False) - 0.05, p, _vel(rng, dyn(s) * 60, 4))
            for s, e, deg in chords for p in _voicing(rng, "block", _chord_tones(key, mode, deg, 4), lo, hi)]


def _drums(rng: np.random.Generator, clk: _Clock, style: str, bars: int, bpb: int, sections: int, on: list[bool],
           dyn: Dyn) -> list[Note]:
    """Grooves on the GM kit with ghost notes, fills before section changes and crashes on downbeats."""
    groove = _pick(rng, _GROOVES[style])
    hits: list[tuple[float, int, int]] = []
    for bar in range(bars):
        sec = bar // sections
        if not on[min(sec, len(on) - 1)]:
            continue
        base = bar * bpb
        last_of_section = (bar + 1) % sections == 0
        if bar % sections == 0 and rng.random() < 0.6:
            hits.append((base, CRASH, _vel(rng, 100)))
        for key_, pattern in groove.items():
            for i, v in enumerate(pattern):
                if v and i * 0.25 < bpb and not (last_of_section and i >= 8 and rng.random() < 0.8):
                    hits.append((base + i * 0.25, key_, _vel(rng, v * dyn(base) * 1.1, 6)))
        if last_of_section:
            for i in range(8, 16, int(_pick(rng, (1, 2)))):
                hits.append((base + i * 0.25, _pick(rng, TOMS + (SNARE,)), _vel(rng, 95)))
    hits.sort()
    notes: list[Note] = []
    for k, (b, key_, v) in enumerate(hits):
        t_on = clk.t(b)
        nxt = next((clk.t(b2, human=False) for b2, k2, _ in hits[k + 1:] if k2 == key_), math.inf)
        notes.append((t_on, min(t_on + DRUM_HOLD_S, nxt), key_, v))
    return notes


def _cast(rng: np.random.Generator, g: Genre) -> list[tuple[str, str]]:
    """(role, tag) pairs of one arrangement; a tag takes at most one role."""
    cast: list[tuple[str, str]] = []
    used: set[str] = set()
    for role in ("lead", "bass", "comp", "pad", "counter"):
        if rng.random() < g.role_p[role]:
            free = [t for t in g.roles[role] if t not in used]
            if free:
                t = _pick(rng, free)
                cast.append((role, t))
                used.add(t)
    if not cast:
        cast.append(("lead", _pick(rng, g.roles["lead"])))
    return cast


def make_arrangement(rng: np.random.Generator, *, duration_s: float, genre: str | None = None) -> Arrangement:
    """Draw one held-out arrangement of ``duration_s`` seconds (deterministic given the generator state)."""
    gname = genre or _pick(rng, tuple(GENRES))
    g = GENRES[gname]
    bpm = float(rng.uniform(*g.bpm))
    bpb = 4
    swing = float(rng.uniform(*g.swing))
    key, mode = int(rng.integers(12)), _pick(rng, g.modes)
    bar_s = bpb * 60.0 / bpm
    offset_s = float(rng.uniform(0, bar_s))            # the clip starts somewhere inside a bar
    bars = int(math.ceil((duration_s + offset_s) / bar_s)) + 1
    beats = bars * bpb
    sec_bars = 4 if bar_s < 3.0 else 2
    n_sec = int(math.ceil(bars / sec_bars))
    cb = float(_pick(rng, g.chord_beats))
    degrees = _progression(rng, int(_pick(rng, (2, 4, 4, 8))))
    chords = [(b, b + cb, degrees[i % len(degrees)]) for i, b in enumerate(np.arange(0.0, beats, cb))]
    arc = rng.uniform(0.75, 1.1, size=n_sec)
    dyn = lambda b: float(arc[min(int(b // (sec_bars * bpb)), n_sec - 1)])   # noqa: E731
    clk = _Clock(bpm, swing, offset_s, float(rng.uniform(0.003, 0.015)), rng)
    density = float(rng.uniform(*g.density))
    parts: list[OutsidePart] = []
    for role, tag in _cast(rng, g):
        prog = _pick(rng, PROGRAMS[tag])
        if tag == "synthesizer":
            prog = _pick(rng, SYNTH_BASS) if role == "bass" else _pick(rng, SYNTH_PAD) if role == "pad" else prog
        if role == "lead":
            notes = _lead(rng, clk, tag, key, mode, chords, beats, density, dyn)
        elif role == "counter":
            notes = _counter(rng, clk, tag, key, mode, chords, beats, dyn)
        elif role == "comp":
            style = "power" if tag == "distorted electric guitar" else _pick(rng, g.comp_styles)
            style = "block" if style == "power" and tag != "distorted electric guitar" else style
            notes = _comp(rng, clk, tag, key, mode, chords, beats, style, dyn)
        elif role == "bass":
            notes = _bass(rng, clk, tag, key, mode, chords, beats, _pick(rng, g.bass_styles), dyn)
        else:
            notes = _pad(rng, clk, tag, key, mode, chords, dyn)
        parts.append(OutsidePart(tag, tag, role, int(prog), notes))
    if g.drums and rng.random() < g.drum_p:
        on = _form(rng, n_sec, "drums")
        parts.append(OutsidePart("drums", "drums", "drums", int(_pick(rng, PROGRAMS["drums"])),
                                 _drums(rng, clk, g.drums, bars, bpb, sec_bars, on, dyn), is_drum=True))
    if rng.random() < 0.4:
        name = _pick(rng, tuple(OTHERS))
        prog, lo, hi = OTHERS[name]
        mid = (lo + hi) // 2
        notes = [(clk.t(s), clk.t(e) - 0.05, p, _vel(rng, 60)) for s, e, deg in chords
                 for p in _in_window(_chord_tones(key, mode, deg), mid - 6, mid + 6)[:3]]
        parts.append(OutsidePart(name, None, "other", prog, notes))
    for p in parts:                                   # entrances and exits (drums already have theirs)
        if p.is_drum:
            continue
        on = _form(rng, n_sec, p.role)
        sec_s = sec_bars * bar_s
        p.notes = [n for n in p.notes if on[min(int((n[0] + offset_s) // sec_s), n_sec - 1)]]
    for p in parts:                                   # into the clip: drop notes before 0, cut at the end
        p.notes = [(on, min(off, duration_s), pi, v) for on, off, pi, v in p.notes
                   if on >= 0.0 and on < duration_s - 0.05 and off > on]
    parts = [p for p in parts if p.notes]
    assert all(p.tag in INSTRUMENT_TAGS for p in parts if p.tag is not None)
    return Arrangement(gname, bpm, key, mode, duration_s, parts, [(clk.t(s, False), clk.t(e, False), d)
                                                                  for s, e, d in chords])
