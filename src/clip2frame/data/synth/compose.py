"""Clip specifications: which instruments play which notes when, at which tempo, with which mix.

Everything here is pure Python/numpy and deterministic from the seed; no audio is made. A
:class:`ClipSpec` holds note events in seconds, so its frame truth (:func:`part_events`,
:func:`clip_labels`) is known before rendering.

Rules (also written into ``metadata.json`` under ``rules``):

* **Release tail**: a note sounds from its note-on to its note-off plus :data:`RELEASE_TAIL_S` (0.1 s);
  a drum hit is held (note-off sent) until the next hit of the same drum or :data:`DRUM_HOLD_S` (0.5 s)
  after its onset, whichever comes first (some kits cut the sample at the note-off, others ignore it).
  Note spans closer than :data:`MERGE_GAP_S` (0.3 s) are merged into one event. The rendered stem is
  gated to these events (20 ms fade ending at each event end), so nothing is heard outside them.
* **Tags**: an instrument is a clip tag iff its events total at least :func:`min_active_s` (1 s; a
  quarter of the clip for clips shorter than 4 s);
  instruments that would play less are dropped from the mix, so tags = instruments in the audio.
* **Tempo**: a clip has one or two tempo sections (boundary on a bar line). ``fast`` holds where the
  section tempo is >= :data:`FAST_BPM` (132 BPM), ``slow`` where it is <= :data:`SLOW_BPM` (84 BPM);
  their events are the section span intersected with the union of all instrument events (merged with
  the same 0.3 s rule), and the tag is set when that totals >= 1 s. All material is written in beats,
  so note density follows the tempo.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError
from ...tags import INSTRUMENT_TAGS, MUSIC_TAGS
from ..manifest import Event
from . import instruments as ins
from .corpus import Work
from .notes import (PROGRESSIONS, TempoMap, bass_notes, chord_pcs, comp_notes, drum_notes, line_notes,
                    one_voice_per_pitch, pad_notes, power_notes)

RELEASE_TAIL_S = 0.1
DRUM_HOLD_S = 0.5
MERGE_GAP_S = 0.3
MIN_ACTIVE_S = 1.0
FAST_BPM = 132.0
SLOW_BPM = 84.0
GATE_FADE_S = 0.02

RULES = {
    "release_tail": (f"a note sounds from note-on to note-off + {RELEASE_TAIL_S} s (drum hits are held "
                     f"until the next hit of the same drum or {DRUM_HOLD_S} s); spans with gaps < {MERGE_GAP_S} s are merged into one "
                     f"event; each stem is gated to its events ({GATE_FADE_S * 1000:.0f} ms fade ending at "
                     "the event end)"),
    "tag": (f"an instrument is a clip tag iff its events total >= {MIN_ACTIVE_S} s (a quarter of the clip for "
            "clips shorter than 4 s); shorter parts are removed from the mix"),
    "tempo": (f"fast: section tempo >= {FAST_BPM:g} BPM; slow: <= {SLOW_BPM:g} BPM; neither in between; "
              "events = section span intersected with the union of instrument events; tag iff >= 1 s"),
    "reverb": "off (reverb and chorus disabled in FluidSynth)",
    "frame_agreement": "frame (hop 512 @ 16 kHz) label active iff its centre lies in an event; stem active "
                       "iff frame energy > -60 dB relative to the stem's loudest frame",
}

# Mix settings per profile; the shift split uses "shift" (plus the other soundfont).
MIX_PROFILES: dict[str, dict[str, tuple[float, float] | float]] = {
    "default": {"gain_db": (-9.0, 0.0), "eq_db": (-3.0, 3.0), "snr_db": (45.0, 65.0),
                "loudness_dbfs": (-23.0, -17.0), "compress_p": 0.3, "ratio": (1.5, 2.5)},
    "shift": {"gain_db": (-15.0, 0.0), "eq_db": (-9.0, 9.0), "snr_db": (18.0, 32.0),
              "loudness_dbfs": (-28.0, -14.0), "compress_p": 0.7, "ratio": (2.0, 5.0)},
}

SPLIT_CODES = {"train": 0, "validation": 1, "test": 2, "shift": 3}


def split_code(split: str) -> int:
    """A stable integer of ``split`` for seeding random streams (fixed codes for the known splits)."""
    if split in SPLIT_CODES:
        return SPLIT_CODES[split]
    return 1000 + int.from_bytes(hashlib.sha1(split.encode()).digest()[:3], "big")


@dataclass
class Part:
    """One instrument of a clip: its notes ``(onset_s, offset_s, pitch, velocity)`` and mix settings."""

    tag: str
    program: int
    role: str
    notes: list[tuple[float, float, int, int]]
    gain_db: float = 0.0
    eq_low_db: float = 0.0
    eq_high_db: float = 0.0
    # renderer synth-music-4 (``variety.vary_spec``); None/empty: the clip's soundfont, no controls or effects
    source: str | None = None             # timbre source name (``timbres.available_sources``)
    controls: list = field(default_factory=list)   # [time_s, "cc"|"bend", a, b] FluidSynth messages
    effects: list = field(default_factory=list)    # [[pedalboard plugin, {param: value}], ...]

    @property
    def is_drum(self) -> bool:
        """Whether the part is the drum kit (rendered on the percussion channel)."""
        return ins.INSTRUMENTS[self.tag].is_drum


@dataclass
class ClipSpec:
    """Everything needed to render one clip deterministically."""

    clip_id: str
    split: str
    seed: int
    duration_s: float
    sr: int
    soundfont: str
    parts: list[Part]
    tempo_sections: list[tuple[float, float, float]]   # (start_s, end_s, bpm)
    work_id: str | None = None
    mix: dict = field(default_factory=dict)             # snr_db, loudness_dbfs, compress ratio, noise colour

    def to_dict(self) -> dict:
        """The spec as a JSON-able dict (:func:`dataclasses.asdict`)."""
        return asdict(self)


# ----------------------------------------------------------------------------------------------- truth
def merge_spans(spans, gap_s: float = MERGE_GAP_S) -> list[tuple[float, float]]:
    """Merge ``(start, end)`` spans whose gap is below ``gap_s``; returns sorted disjoint spans."""
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def part_events(part: Part, duration_s: float) -> list[tuple[float, float]]:
    """The frame truth of one part (see the release-tail rule in the module docstring)."""
    spans = []
    for on, off, _, _ in part.notes:
        if on >= duration_s:
            continue
        spans.append((max(0.0, on), min(duration_s, off + RELEASE_TAIL_S)))
    return merge_spans(spans)


def min_active_s(duration_s: float) -> float:
    """Least total event time for a tag: :data:`MIN_ACTIVE_S`, or a quarter of a clip shorter than 4 s."""
    return min(MIN_ACTIVE_S, 0.25 * duration_s)


def _total(spans) -> float:
    return float(sum(b - a for a, b in spans))


def _intersect(spans, lo: float, hi: float):
    return [(max(a, lo), min(b, hi)) for a, b in spans if min(b, hi) > max(a, lo)]


def clip_labels(spec: ClipSpec) -> tuple[tuple[str, ...], tuple[Event, ...]]:
    """Clip tags (in ``MUSIC_TAGS`` order) and strong events of a spec."""
    per_tag: dict[str, list[tuple[float, float]]] = {}
    for p in spec.parts:
        ev = part_events(p, spec.duration_s)
        if _total(ev) >= min_active_s(spec.duration_s):
            per_tag[p.tag] = merge_spans(per_tag.get(p.tag, []) + ev)
    union = merge_spans([s for spans in per_tag.values() for s in spans])
    for lo, hi, bpm in spec.tempo_sections:
        tag = "fast" if bpm >= FAST_BPM else "slow" if bpm <= SLOW_BPM else None
        if tag:
            per_tag[tag] = merge_spans(per_tag.get(tag, []) + _intersect(union, lo, hi))
    tags = tuple(t for t in MUSIC_TAGS if _total(per_tag.get(t, [])) >= min_active_s(spec.duration_s))
    events = tuple(sorted((Event(round(a, 3), round(b, 3), t) for t in tags for a, b in per_tag[t]),
                          key=lambda e: (e.onset, e.label)))
    return tags, events


def _draw_bpm(rng: np.random.Generator) -> float:
    kind = rng.integers(3)
    lo, hi = ((56.0, SLOW_BPM), (SLOW_BPM + 4, FAST_BPM - 4), (FAST_BPM, 176.0))[kind]
    return float(round(rng.uniform(lo, hi)))


def _hold_drums(notes, duration_s: float):
    """Hold each drum hit until the next hit of the same drum, at most ``DRUM_HOLD_S``."""
    notes = sorted(notes)
    out = []
    for i, (on, _, key, vel) in enumerate(notes):
        nxt = next((n[0] for n in notes[i + 1:] if n[2] == key and n[0] > on), on + DRUM_HOLD_S)
        out.append((on, round(min(on + DRUM_HOLD_S, nxt, duration_s), 4), key, vel))
    return out


# ------------------------------------------------------------------------------------------- specs
def _draw_spans(rng, duration_s: float, n_spans: int, coverage: float) -> list[tuple[float, float]]:
    lengths = rng.dirichlet(np.ones(n_spans)) * coverage * duration_s
    gaps = rng.dirichlet(np.ones(n_spans + 1)) * (1.0 - coverage) * duration_s
    spans, t = [], gaps[0]
    for i in range(n_spans):
        spans.append((float(t), float(t + lengths[i])))
        t += lengths[i] + gaps[i + 1]
    return spans


def make_spec(*, clip_id: str, split: str, seed: int, index: int, duration_s: float, sr: int,
              soundfont: str | Path, work: Work | None, profile: str = "default",
              instruments: tuple[str, ...] | None = None, n_instruments: tuple[int, int] = (2, 5),
              coverage: tuple[float, float] = (0.2, 0.9)) -> ClipSpec:
    """Draw a clip: tempo sections, key and progression, 2-5 instruments with 1-3 active spans each.

    ``instruments`` forces the instrument set (each must be in ``INSTRUMENT_TAGS``).
    """
    if instruments is not None:
        bad = [t for t in instruments if t not in ins.INSTRUMENTS]
        if bad:
            raise ConfigError(f"instrument: unknown instrument '{bad[0]}' (expected one of "
                              f"{', '.join(INSTRUMENT_TAGS)})")
    if profile not in MIX_PROFILES:
        raise ConfigError(f"profile: unknown mix profile '{profile}' (expected one of {', '.join(MIX_PROFILES)})")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, split_code(split), int(index)])
    mixp: dict[str, Any] = MIX_PROFILES[profile]

    # tempo: one section, or two with the change on a bar line
    bpm1 = _draw_bpm(rng)
    sections = [(0.0, bpm1)]
    if duration_s >= 12 and rng.random() < 0.3:
        bpm2 = _draw_bpm(rng)
        t_change = rng.uniform(0.35, 0.65) * duration_s
        sections.append((float(np.ceil(t_change * bpm1 / 60.0 / 4) * 4), bpm2))
    tmap = TempoMap(sections, duration_s)

    key = (work.tonic, work.mode) if work is not None else (int(rng.integers(12)), str(rng.choice(["major", "minor"])))
    prog = PROGRESSIONS[key[1]][int(rng.integers(len(PROGRESSIONS[key[1]])))]
    chords = [chord_pcs(key[0], key[1], d) for d in prog]

    if instruments is None:
        n = int(rng.integers(n_instruments[0], n_instruments[1] + 1))
        tags = [INSTRUMENT_TAGS[i] for i in sorted(rng.choice(len(INSTRUMENT_TAGS), size=n, replace=False))]
    else:
        tags = list(instruments)

    used_lines: set = set()
    parts: list[Part] = []
    for tag in tags:
        inst = ins.INSTRUMENTS[tag]
        role = str(rng.choice(inst.roles))
        if tag == "synthesizer":
            program = int(rng.choice(ins.SYNTH_PAD_PROGRAMS if role == "pad" else ins.SYNTH_LEAD_PROGRAMS))
        else:
            program = int(rng.choice(inst.programs))
        for _attempt in range(20):
            if instruments is not None and len(tags) == 1:
                spans = [(0.0, duration_s)]
            else:
                spans = _draw_spans(rng, duration_s, int(rng.integers(1, 4)), float(rng.uniform(*coverage)))
            notes_s: list[tuple[float, float, int, int]] = []
            for s0, s1 in spans:
                b0, b1 = tmap.beat(s0), tmap.beat(s1)
                b0 = float(np.ceil(b0 * 2 - 1e-6) / 2)  # start on an eighth-note grid
                if role == "line":
                    nb = line_notes(rng, work, inst, key, b0, b1, used_lines)
                elif role == "comp":
                    nb = comp_notes(rng, inst, chords, b0, b1)
                elif role == "power":
                    nb = power_notes(rng, inst, chords, b0, b1)
                elif role == "bass":
                    nb = bass_notes(rng, inst, chords, key, b0, b1)
                elif role == "drums":
                    nb = drum_notes(rng, b0, b1)
                else:
                    nb = pad_notes(rng, inst, chords, b0, b1)
                for a, b, p, v in nb:
                    on, off = tmap.time(a), min(tmap.time(min(b, b1)), s1)
                    if off > on and on < duration_s:
                        notes_s.append((round(on, 4), round(min(off, duration_s), 4), int(p), int(v)))
            notes_s = _hold_drums(notes_s, duration_s) if inst.is_drum else one_voice_per_pitch(notes_s)
            part = Part(tag, program, role, sorted(notes_s),
                        gain_db=float(rng.uniform(*mixp["gain_db"])),
                        eq_low_db=float(rng.uniform(*mixp["eq_db"])),
                        eq_high_db=float(rng.uniform(*mixp["eq_db"])))
            if _total(part_events(part, duration_s)) >= min_active_s(duration_s):
                parts.append(part)
                break
    mix = {
        "snr_db": float(rng.uniform(*mixp["snr_db"])),
        "noise_colour": str(rng.choice(["white", "pink", "brown"])),
        "loudness_dbfs": float(rng.uniform(*mixp["loudness_dbfs"])),
        "compress_ratio": float(rng.uniform(*mixp["ratio"])) if rng.random() < mixp["compress_p"] else 1.0,
        "noise_seed": int(rng.integers(2**31)),
        "profile": profile,
    }
    return ClipSpec(clip_id=clip_id, split=split, seed=int(seed), duration_s=float(duration_s), sr=int(sr),
                    soundfont=str(soundfont), parts=parts, tempo_sections=tmap.sections,
                    work_id=None if work is None else work.work_id, mix=mix)
