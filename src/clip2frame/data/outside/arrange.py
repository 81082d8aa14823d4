"""Held-out arrangements: genre templates, harmony, voicing, parts and their entrances/exits (evaluation only).

A second arrangement generator, written separately from :mod:`clip2frame.data.synth.compose` and sharing
none of its arrangement logic (no music21 works, its own harmony, voicings, bass and drum patterns, forms
and program mapping). **Evaluation only**: nothing that trains or fits a model may use it (see
:mod:`clip2frame.data.outside`).

An :class:`Arrangement` is pure data (notes in seconds), so its frame truth is known before any audio
is made. The truth convention is the project's (:mod:`clip2frame.data.synth.compose` rules, imported, not
re-spelled): a note sounds from note-on to note-off + ``RELEASE_TAIL_S``; a drum hit is held until the next
hit of the same key or ``DRUM_HOLD_S``; spans closer than ``MERGE_GAP_S`` merge; a tag needs
``MIN_ACTIVE_S`` of events; ``fast``/``slow`` follow the clip tempo (>= ``FAST_BPM`` / <= ``SLOW_BPM``) over
the union of instrument events.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...tags import INSTRUMENT_TAGS, MUSIC_TAGS
from ..manifest import Event
from ..synth.compose import (DRUM_HOLD_S, FAST_BPM, MERGE_GAP_S, MIN_ACTIVE_S, RELEASE_TAIL_S, SLOW_BPM,
                             merge_spans)

Note = tuple[float, float, int, int]          # onset s, offset s, MIDI pitch, velocity

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}
# Degree-to-degree transition weights (a small Markov chain of functional harmony, scale degrees 0..6).
_NEXT = np.array([
    [0.0, 1.0, 1.0, 2.0, 3.0, 2.0, 0.5], [0.5, 0.0, 0.5, 1.0, 3.0, 0.5, 0.5], [0.5, 0.5, 0.0, 1.0, 0.5, 2.0, 0.2],
    [2.0, 1.0, 0.5, 0.0, 3.0, 0.5, 0.5], [4.0, 0.2, 0.5, 0.5, 0.0, 2.0, 0.2], [1.0, 2.0, 0.5, 2.0, 1.0, 0.0, 0.2],
    [3.0, 0.2, 1.0, 0.2, 0.5, 0.5, 0.0]])

#: Register (lowest, highest MIDI pitch) a tag may play in; the part's register is a window inside it.
RANGES: dict[str, tuple[int, int]] = {
    "piano": (28, 100), "acoustic guitar": (40, 81), "clean electric guitar": (40, 86),
    "distorted electric guitar": (40, 76), "electric bass": (28, 60), "violin": (55, 100), "cello": (36, 76),
    "flute": (60, 98), "trumpet": (54, 84), "saxophone": (44, 81), "accordion": (48, 89),
    "synthesizer": (28, 96), "drums": (35, 81),
}
#: General MIDI programs per tag in this generator (its own mapping; 'amp' = clean program 27 through the
#: producer's amp chain). Bank 128 presets for drums (a missing preset falls back to 0 when rendering).
PROGRAMS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 3), "acoustic guitar": (24, 25), "clean electric guitar": (26, 27, 28),
    "distorted electric guitar": (29, 30, -27), "electric bass": (33, 34, 35, 36, 37), "violin": (40,),
    "cello": (42,), "flute": (73,), "trumpet": (56, 59), "saxophone": (64, 65, 66, 67), "accordion": (21, 23),
    "synthesizer": (38, 39, 62, 63, 80, 81, 82, 84, 87, 88, 89, 90, 91, 94, 95), "drums": (0, 8, 16, 24, 25, 32, 40),
}
SYNTH_BASS = (38, 39)
SYNTH_PAD = (88, 89, 90, 91, 94, 95)
#: Instruments outside the vocabulary that may join a mix untagged (program, lowest, highest pitch).
OTHERS: dict[str, tuple[int, int, int]] = {
    "organ": (16, 36, 84), "choir": (52, 48, 79), "string ensemble": (48, 36, 88), "vibraphone": (11, 53, 89),
    "marimba": (12, 45, 96), "harp": (46, 36, 96), "trombone": (57, 40, 72), "clarinet": (71, 50, 89),
    "oboe": (68, 58, 91), "french horn": (60, 41, 77),
}


@dataclass(frozen=True)
class Genre:
    """A genre template: tempo range, swing, modes, drum style and which tags may take each role."""

    bpm: tuple[float, float]
    swing: tuple[float, float]
    modes: tuple[str, ...]
    drums: str | None
    drum_p: float
    roles: dict[str, tuple[str, ...]]          # role -> tags allowed
    role_p: dict[str, float]                   # role -> probability the role is present
    comp_styles: tuple[str, ...]
    bass_styles: tuple[str, ...]
    chord_beats: tuple[float, ...]
    density: tuple[float, float]               # lead notes per beat


GENRES: dict[str, Genre] = {
    "rock": Genre((92, 160), (0.5, 0.5), ("minor", "mixolydian", "major"), "rock", 0.95,
                  {"lead": ("distorted electric guitar", "clean electric guitar", "saxophone", "synthesizer"),
                   "comp": ("distorted electric guitar", "clean electric guitar", "piano", "acoustic guitar"),
                   "bass": ("electric bass",), "pad": ("synthesizer", "accordion"),
                   "counter": ("clean electric guitar", "piano", "synthesizer")},
                  {"lead": 0.9, "comp": 0.9, "bass": 0.9, "pad": 0.25, "counter": 0.3},
                  ("power", "strum", "block"), ("root8", "rootfifth"), (4, 8, 2), (0.8, 2.0)),
    "jazz": Genre((70, 200), (0.58, 0.68), ("dorian", "major", "minor"), "jazz", 0.9,
                  {"lead": ("saxophone", "trumpet", "flute", "piano", "clean electric guitar"),
                   "comp": ("piano", "clean electric guitar"), "bass": ("electric bass",),
                   "pad": ("accordion",), "counter": ("trumpet", "saxophone", "flute", "violin")},
                  {"lead": 0.95, "comp": 0.9, "bass": 0.95, "pad": 0.05, "counter": 0.35},
                  ("shell", "stabs"), ("walking",), (4, 8, 2), (1.0, 2.5)),
    "chamber": Genre((50, 126), (0.5, 0.5), ("major", "minor", "harmonic minor"), None, 0.0,
                     {"lead": ("violin", "flute", "cello", "piano"), "comp": ("piano", "acoustic guitar", "accordion"),
                      "bass": ("cello",), "pad": ("accordion",), "counter": ("violin", "cello", "flute")},
                     {"lead": 0.95, "comp": 0.7, "bass": 0.6, "pad": 0.1, "counter": 0.6},
                     ("arp", "block"), ("pedal", "rootfifth"), (4, 2, 8), (0.5, 1.5)),
    "electronic": Genre((100, 150), (0.5, 0.55), ("minor", "dorian"), "electro", 0.95,
                        {"lead": ("synthesizer", "flute", "piano"), "comp": ("synthesizer", "piano"),
                         "bass": ("synthesizer", "electric bass"), "pad": ("synthesizer",),
                         "counter": ("synthesizer", "clean electric guitar")},
                        {"lead": 0.8, "comp": 0.6, "bass": 0.95, "pad": 0.6, "counter": 0.3},
                        ("stabs", "arp"), ("syncopated", "root8"), (8, 4, 16), (1.0, 3.0)),
    "folk": Genre((76, 176), (0.5, 0.6), ("major", "mixolydian", "dorian"), "folk", 0.45,
                  {"lead": ("violin", "flute", "accordion", "acoustic guitar"),
                   "comp": ("acoustic guitar", "accordion", "piano"), "bass": ("electric bass", "cello"),
                   "pad": ("accordion",), "counter": ("violin", "flute", "accordion", "cello")},
                  {"lead": 0.95, "comp": 0.9, "bass": 0.5, "pad": 0.1, "counter": 0.45},
                  ("strum", "arp"), ("rootfifth", "pedal"), (4, 8), (1.0, 2.5)),
    "ballad": Genre((54, 86), (0.5, 0.5), ("major", "minor"), "ballad", 0.6,
                    {"lead": ("piano", "violin", "saxophone", "flute", "trumpet", "cello"),
                     "comp": ("piano", "acoustic guitar", "clean electric guitar"), "bass": ("electric bass", "cello"),
                     "pad": ("synthesizer",), "counter": ("cello", "violin", "flute")},
                    {"lead": 0.95, "comp": 0.95, "bass": 0.7, "pad": 0.45, "counter": 0.4},
                    ("arp", "block"), ("pedal", "rootfifth"), (4, 8), (0.4, 1.2)),
    "funk": Genre((88, 124), (0.5, 0.56), ("dorian", "mixolydian"), "funk", 1.0,
                  {"lead": ("trumpet", "saxophone", "synthesizer", "clean electric guitar"),
                   "comp": ("clean electric guitar", "piano", "synthesizer"), "bass": ("electric bass",),
                   "pad": ("synthesizer",), "counter": ("trumpet", "saxophone")},
                  {"lead": 0.8, "comp": 0.95, "bass": 0.95, "pad": 0.2, "counter": 0.4},
                  ("stabs",), ("syncopated",), (4, 8), (1.0, 3.0)),
    "latin": Genre((88, 144), (0.5, 0.5), ("major", "minor", "dorian"), "bossa", 0.85,
                   {"lead": ("flute", "saxophone", "trumpet", "piano", "violin"),
                    "comp": ("acoustic guitar", "piano"), "bass": ("electric bass",), "pad": ("accordion", "synthesizer"),
                    "counter": ("flute", "trumpet", "saxophone")},
                   {"lead": 0.9, "comp": 0.95, "bass": 0.85, "pad": 0.15, "counter": 0.35},
                   ("stabs", "arp"), ("rootfifth",), (4, 8), (0.8, 2.0)),
}


@dataclass
class OutsidePart:
    """One part: who plays, in which role, its notes, and whether it carries a tag (``tag=None``: untagged)."""

    name: str
    tag: str | None
    role: str
    program: int                 # GM program (drums: bank-128 preset); negative: -p = clean p + amp chain
    notes: list[Note]
    is_drum: bool = False

    def spans(self, duration_s: float) -> list[tuple[float, float]]:
        """Frame-truth spans of the part (s), by the project's release-tail and merge rules."""
        tail = 0.0 if self.is_drum else RELEASE_TAIL_S   # drum offsets already hold the hit
        out = [(max(0.0, on), min(duration_s, off + tail)) for on, off, _, _ in self.notes if on < duration_s]
        return merge_spans(out, MERGE_GAP_S)


@dataclass
class Arrangement:
    """A held-out arrangement: tempo, key, progression and parts (everything in seconds)."""

    genre: str
    bpm: float
    key: int
    mode: str
    duration_s: float
    parts: list[OutsidePart]
    chords: list[tuple[float, float, int]] = field(default_factory=list)   # (start s, end s, root degree)

    def labels(self) -> tuple[tuple[str, ...], tuple[Event, ...]]:
        """Clip tags (``MUSIC_TAGS`` order) and frame-truth events."""
        per: dict[str, list[tuple[float, float]]] = {}
        for p in self.parts:
            if p.tag is not None:
                per[p.tag] = merge_spans(per.get(p.tag, []) + p.spans(self.duration_s), MERGE_GAP_S)
        per = {t: s for t, s in per.items() if sum(b - a for a, b in s) >= MIN_ACTIVE_S}
        union = merge_spans([s for v in per.values() for s in v], MERGE_GAP_S)
        tempo = "fast" if self.bpm >= FAST_BPM else "slow" if self.bpm <= SLOW_BPM else None
        if tempo and sum(b - a for a, b in union) >= MIN_ACTIVE_S:
            per[tempo] = union
        tags = tuple(t for t in MUSIC_TAGS if t in per)
        events = tuple(sorted((Event(round(a, 3), round(b, 3), t) for t in tags for a, b in per[t]),
                              key=lambda e: (e.onset, e.label)))
        return tags, events


# ------------------------------------------------------------------------------------------------ helpers
def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _scale_pitches(key: int, mode: str, lo: int, hi: int) -> list[int]:
    pcs = {(key + s) % 12 for s in MODES[mode]}
    return [p for p in range(lo, hi + 1) if p % 12 in pcs]


def _chord_tones(key: int, mode: str, degree: int, n: int = 3) -> list[int]:
    """Pitch classes of the chord on ``degree`` (stacked scale thirds, ``n`` notes)."""
    sc = MODES[mode]
    return [(key + sc[(degree + 2 * k) % 7]) % 12 for k in range(n)]


def _in_window(pcs, lo: int, hi: int) -> list[int]:
    return [p for p in range(lo, hi + 1) if p % 12 in set(pcs)]


def _progression(rng: np.random.Generator, n_chords: int) -> list[int]:
    deg = [0]
    while len(deg) < n_chords:
        w = _NEXT[deg[-1]]
        deg.append(int(rng.choice(7, p=w / w.sum())))
    return deg


def _form(rng: np.random.Generator, n_sections: int, role: str) -> list[bool]:
    """Which sections a part plays in: entrances, exits, drop-outs and breakdowns."""
    shape = _pick(rng, ("full", "late", "early", "middle", "alternate", "breakdown", "full"))
    on = [True] * n_sections
    if shape == "late":
        k = int(rng.integers(1, max(2, n_sections)))
        on = [i >= k for i in range(n_sections)]
    elif shape == "early":
        k = int(rng.integers(1, max(2, n_sections)))
        on = [i < k for i in range(n_sections)]
    elif shape == "middle" and n_sections >= 3:
        on = [0 < i < n_sections - 1 for i in range(n_sections)]
    elif shape == "alternate":
        ph = int(rng.integers(2))
        on = [(i + ph) % 2 == 0 for i in range(n_sections)]
    elif shape == "breakdown" and n_sections >= 3:
        k = int(rng.integers(1, n_sections - 1))
        on = [i != k for i in range(n_sections)]
    if not any(on):
        on[int(rng.integers(n_sections))] = True
    return on
