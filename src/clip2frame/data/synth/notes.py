"""Note material of the music renderer (:func:`clip2frame.data.synth.compose.make_spec`): keys and chord
progressions, the tempo map (beats -> seconds), and one note generator per part role (corpus line or melody,
comping, power chords, bass, drums, pads). Notes are ``(onset, offset, pitch, velocity)`` in beats.
"""
from __future__ import annotations

import numpy as np

from . import instruments as ins
from .corpus import Work


# ----------------------------------------------------------------------------------------- harmony
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (1, 4, 0, 5), (0, 5, 1, 4), (0, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2), (5, 6, 0, 0), (0, 4, 5, 3)),
}


def chord_pcs(tonic: int, mode: str, degree: int) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of the triad on scale ``degree`` of ``tonic`` in ``mode``."""
    sc = SCALES[mode]
    return tuple((tonic + sc[(degree + k) % 7]) % 12 for k in (0, 2, 4))  # type: ignore[return-value]


def near(pc: int, target: int) -> int:
    """The MIDI pitch of pitch class ``pc`` closest to ``target``."""
    base = target - ((target - pc) % 12)
    return base if target - base <= 6 else base + 12


def fold(p: int, low: int, high: int) -> int:
    """``p`` moved by octaves into ``[low, high]`` (``low`` when the range is under an octave)."""
    while p < low:
        p += 12
    while p > high:
        p -= 12
    return max(low, p)


# ------------------------------------------------------------------------------------------ timing
class TempoMap:
    """Beat → seconds through one or two tempo sections."""

    def __init__(self, sections_beats: list[tuple[float, float]], duration_s: float):
        # sections_beats: [(start_beat, bpm)], first at beat 0
        times, beats = [0.0], [0.0]
        self.sections: list[tuple[float, float, float]] = []
        for i, (b0, bpm) in enumerate(sections_beats):
            b1 = sections_beats[i + 1][0] if i + 1 < len(sections_beats) else None
            t0 = times[-1]
            if b1 is None:
                b1 = b0 + (duration_s - t0) * bpm / 60.0 + 8
            t1 = t0 + (b1 - b0) * 60.0 / bpm
            beats.append(b1)
            times.append(t1)
            self.sections.append((round(min(t0, duration_s), 4), round(min(t1, duration_s), 4), float(bpm)))
        self._b = np.array(beats)
        self._t = np.array(times)
        self.sections = [s for s in self.sections if s[1] > s[0]]
        self.n_beats = float(np.interp(duration_s, self._t, self._b))

    def time(self, beat: float) -> float:
        """Seconds at ``beat``."""
        return float(np.interp(beat, self._b, self._t))

    def beat(self, t: float) -> float:
        """Beat at ``t`` seconds."""
        return float(np.interp(t, self._t, self._b))


# ------------------------------------------------------------------------------------ note material
def line_notes(rng, work: Work | None, inst: ins.Instrument, key: tuple[int, str], b0: float, b1: float,
                used_lines: set) -> list[tuple[float, float, int, int]]:
    """A corpus line (or a generated random-walk melody) laid over beats [b0, b1), in beats."""
    tonic, mode = key
    out = []
    base_vel = int(rng.integers(70, 110))
    legato = float(rng.uniform(0.8, 0.97))
    line = None
    if work is not None and work.lines:
        order = [i for i in rng.permutation(len(work.lines)) if i not in used_lines] or list(
            rng.permutation(len(work.lines)))
        li = int(order[0])
        used_lines.add(li)
        line = work.lines[li]
    if line is not None:
        pitches = np.array([p for _, _, p in line])
        shift = int(round((inst.centre - np.median(pitches)) / 12.0)) * 12
        start_i = int(rng.integers(0, max(1, len(line) - 8)))
        i, cur_b, q_ref = start_i, b0, line[start_i][0]
        while True:
            on_q, dur_q, pitch = line[i]
            b = cur_b + (on_q - q_ref)
            if b >= b1:
                break
            out.append((b, min(b + dur_q * legato, b1), fold(pitch + shift, inst.low, inst.high),
                        int(np.clip(base_vel + rng.integers(-10, 11), 30, 127))))
            i += 1
            if i >= len(line):  # line exhausted: one beat of rest, then from its start again
                i, cur_b, q_ref = 0, b + dur_q + 1.0, line[0][0]
        return out
    # generated melody: random walk on the scale, quarter and eighth notes
    sc = SCALES[mode]
    deg = int(rng.integers(7))
    octave = inst.centre
    b = b0
    while b < b1:
        dur = float(rng.choice([0.5, 1.0, 1.0, 2.0]))
        deg = int(np.clip(deg + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -7, 13))
        pitch = fold(near((tonic + sc[deg % 7]) % 12, octave + 12 * (deg // 7)), inst.low, inst.high)
        out.append((b, min(b + dur * legato, b1), pitch, int(np.clip(base_vel + rng.integers(-10, 11), 30, 127))))
        b += dur
    return out


def comp_notes(rng, inst, chords, b0, b1):
    """Chord accompaniment over beats [b0, b1) (block, arpeggio or strum), as ``(onset, offset, pitch,
    velocity)`` in beats.
    """
    style = rng.choice(["block", "arpeggio", "strum"])
    vel0 = int(rng.integers(60, 100))
    centre = inst.centre - 5
    out = []
    bar = int(b0 // 4)
    while bar * 4 < b1:
        pcs = chords[bar % len(chords)]
        root = near(pcs[0], centre - 4)
        voicing = [fold(near(pc, root + 4 + 4 * k), inst.low, inst.high) for k, pc in enumerate(pcs)]
        voicing = sorted(set([fold(root, inst.low, inst.high)] + voicing))
        if style == "block":
            hits = [(0.0, 1.8), (2.0, 1.8)] if rng.random() < 0.7 else [(0.0, 3.8)]
            for off, dur in hits:
                for p in voicing:
                    out.append((bar * 4 + off, bar * 4 + off + dur, p, vel0 + int(rng.integers(-6, 7))))
        elif style == "arpeggio":
            seq = voicing + voicing[1:-1][::-1]
            for k in range(8):
                b = bar * 4 + 0.5 * k
                out.append((b, b + 0.9, seq[k % len(seq)], vel0 + int(rng.integers(-8, 9))))
        else:  # strum: down on beats, up on some off-beats, strings staggered by ~12 ms (in beats below)
            for k in range(8):
                if k % 2 and rng.random() < 0.5:
                    continue
                b = bar * 4 + 0.5 * k
                order = voicing if k % 2 == 0 else voicing[::-1]
                for j, p in enumerate(order):  # strummed strings ring until the next strum
                    out.append((b + 0.02 * j, b + 0.95, p, vel0 - (12 if k % 2 else 0) + int(rng.integers(-5, 6))))
        bar += 1
    return [n for n in out if b0 <= n[0] < b1]


def power_notes(rng, inst, chords, b0, b1):
    """Power chords (root, fifth, octave; sustained or in eighths) over beats [b0, b1), as ``(onset, offset,
    pitch, velocity)`` in beats.
    """
    vel0 = int(rng.integers(85, 115))
    sustained = rng.random() < 0.3
    out = []
    bar = int(b0 // 4)
    while bar * 4 < b1:
        root = fold(near(chords[bar % len(chords)][0], 45), inst.low, inst.low + 14)
        hits = [(0.0, 3.9)] if sustained else [(0.5 * k, 0.4) for k in range(8)]
        for off, dur in hits:
            for p in (root, root + 7, root + 12):
                out.append((bar * 4 + off, bar * 4 + off + dur, p, vel0 + int(rng.integers(-6, 7))))
        bar += 1
    return [n for n in out if b0 <= n[0] < b1]


def bass_notes(rng, inst, chords, key, b0, b1):
    """A bass line (quarters, eighths, root-fifth or walking) over beats [b0, b1), as ``(onset, offset, pitch,
    velocity)`` in beats.
    """
    pattern = rng.choice(["quarters", "eighths", "root-fifth", "walking"])
    vel0 = int(rng.integers(80, 115))
    sc = SCALES[key[1]]
    out = []
    bar = int(b0 // 4)
    while bar * 4 < b1:
        pcs = chords[bar % len(chords)]
        root = fold(near(pcs[0], 36), inst.low, inst.high)
        fifth = fold(near(pcs[2], root + 7), inst.low, inst.high)
        if pattern == "quarters":
            seq = [(k, 0.9, root) for k in range(4)]
        elif pattern == "eighths":
            seq = [(0.5 * k, 0.45, root if k < 6 else fifth) for k in range(8)]
        elif pattern == "root-fifth":
            seq = [(0, 1.8, root), (2, 1.8, fifth)]
        else:
            nxt = fold(near(chords[(bar + 1) % len(chords)][0], 36), inst.low, inst.high)
            passing = fold(near((key[0] + sc[int(rng.integers(7))]) % 12, (root + nxt) // 2), inst.low, inst.high)
            seq = [(0, 0.9, root), (1, 0.9, fold(root + 12, inst.low, inst.high)), (2, 0.9, fifth), (3, 0.9, passing)]
        for off, dur, p in seq:
            out.append((bar * 4 + off, bar * 4 + off + dur, p, vel0 + int(rng.integers(-8, 9))))
        bar += 1
    return [n for n in out if b0 <= n[0] < b1]


def drum_notes(rng, b0, b1):
    """A drum pattern (rock, half-time, disco or ride) over beats [b0, b1), as ``(onset, offset, GM drum
    note, velocity)`` in beats.
    """
    style = rng.choice(["rock", "half", "disco", "ride"])
    vel0 = int(rng.integers(85, 115))
    out = []
    bar = int(b0 // 4)
    first = True
    while bar * 4 < b1:
        base = bar * 4
        cym = ins.RIDE if style == "ride" else ins.CLOSED_HAT
        for k in range(8):
            key = ins.OPEN_HAT if (style == "disco" and k % 2) else cym
            out.append((base + 0.5 * k, base + 0.5 * k + 0.1, key, vel0 - (15 if k % 2 else 0)))
        kicks = {"rock": (0, 2.5), "half": (0,), "disco": (0, 1, 2, 3), "ride": (0, 1.5, 2.5)}[str(style)]
        snares = {"rock": (1, 3), "half": (2,), "disco": (1, 3), "ride": (1, 3)}[str(style)]
        for k in kicks:
            out.append((base + k, base + k + 0.1, ins.KICK, vel0 + 5))
        for k in snares:
            out.append((base + k, base + k + 0.1, ins.SNARE, vel0))
        if first or rng.random() < 0.1:
            out.append((base, base + 0.1, ins.CRASH, vel0))
            first = False
        if rng.random() < 0.15:  # fill on the last beat
            for j, key in enumerate((ins.HIGH_TOM, ins.HIGH_TOM, ins.LOW_TOM, ins.LOW_TOM)):
                out.append((base + 3 + 0.25 * j, base + 3 + 0.25 * j + 0.1, key, vel0))
        bar += 1
    return [(a, b, p, int(np.clip(v + rng.integers(-6, 7), 30, 127))) for a, b, p, v in out if b0 <= a < b1]


def pad_notes(rng, inst, chords, b0, b1):
    """Sustained chords, one per bar, over beats [b0, b1), as ``(onset, offset, pitch, velocity)`` in beats."""
    vel0 = int(rng.integers(60, 95))
    out = []
    bar = int(b0 // 4)
    while bar * 4 < b1:
        pcs = chords[bar % len(chords)]
        for k, pc in enumerate(pcs):
            out.append((bar * 4, bar * 4 + 3.9, fold(near(pc, inst.centre - 4 + 4 * k), inst.low, inst.high), vel0))
        bar += 1
    return [n for n in out if b0 <= n[0] < b1]


def one_voice_per_pitch(notes):
    """Cut a note where the next note of the same pitch starts.

    FluidSynth's note-off releases every voice of that key on the channel, so an overlapping earlier
    note-off would cut the later note short of its labelled end.
    """
    notes = sorted(notes)
    out = []
    for i, (on, off, pitch, vel) in enumerate(notes):
        nxt = next((n[0] for n in notes[i + 1:] if n[2] == pitch and n[0] >= on), None)
        if nxt is not None and nxt < off:
            off = nxt
        if off > on:
            out.append((on, off, pitch, vel))
    return out
