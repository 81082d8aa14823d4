"""The everyday-sound classes of :mod:`clip2frame.data.synth.everyday` (the table in its module docstring):
how each is made (GM program or percussion keys, pattern, durations, occurrences) and the rules of its truth.

The classes differ clearly in how long one event lasts, so a model with the learned Gaussian accumulation
can show what the thesis found (Table 3.7): sigma follows event duration. Duration of one labelled event
(onset to offset, before any cut by the clip's ends):

==================  =======  ==========  ==========================================  ===========
class               kind     family      source (GM program / percussion keys)        event (s)
==================  =======  ==========  ==========================================  ===========
gun_shot            short    mechanical  program 127 Gun Shot, one note               0.30 - 1.00
door_knock          short    human       keys 76/77 wood blocks, 2-5 knocks           0.34 - 1.16
guitar_fret_noise   short    human       program 120 Fret Noise, one note             0.15 - 0.25
breathing           short    human       program 121 Breath Noise, one note           0.25 - 0.45
hand_clap           medium   human       key 39 hand clap, 3-10 claps                 0.56 - 2.54
bird_tweet          medium   natural     program 123 Bird Tweet, a chain of notes     0.50 - 3.00
telephone_ring      medium   mechanical  program 124 Telephone, one note per ring     1.00 - 2.00
applause            long     human       program 126 Applause, one note (looped)     2.00 - 8.00
helicopter          long     mechanical  program 125 Helicopter, one note (looped)   3.00 - 20.00
seashore            long     natural     program 122 Sea Shore, one note (looped)    4.00 - 20.00
==================  =======  ==========  ==========================================  ===========

Occurrences per clip and the gaps between them are per class (:data:`EVERYDAY_CLASSES`): a telephone
rings 2-4 times with 1.5-3.5 s between rings (each ring one event), gunshots come 1-4 at a time, a
helicopter or the sea is one long event. An event longer than its clip is cut by the clip's ends (looped
classes may already be sounding when the clip starts; the others start inside the clip and are cut at
its end); only cut events fall outside the table's ranges.

Rules (also written into ``metadata.json`` under ``rules``):

* **Truth (release tail)**: an event runs from its first note-on to its last note-off plus the class'
  tail (:attr:`EverydayClass.tail_s`, 0.08-0.25 s; a percussion hit's note-off is
  :data:`HIT_HOLD_S` after its onset). Note times are on FluidSynth's 64-sample block grid, so the truth
  is exact. Each class is rendered to its own stem, gated to its events (fade ending at each event end,
  :attr:`EverydayClass.fade_s`), so nothing of it is heard outside them; with FluidR3_GM every event ends
  before its one-shot sample has died away, so it is heard throughout them (measured with
  ``label_agreement`` on 32-ms frames: 0.99 mean, every labelled frame audible in > 99.5 % of cases).
* **Levels**: the background (pink or brown noise, quiet GM chords, or both) has an RMS of -45 to -30
  dBFS; each class' stem is scaled so that its active RMS (:func:`~clip2frame.data.synth.mix.active_rms`)
  is -5 to +20 dB re the background RMS (event-to-background ratio, drawn per class and clip). A clip
  whose peak would exceed 0.99 is scaled down as a whole (ratios kept). No loudness normalisation:
  clip levels vary, as in UrbanSound.
* **Clip length**: log-uniform in [1, 30] s (median 5.5 s), rounded to 10 ms.
"""
from __future__ import annotations

from dataclasses import dataclass

CLIP_SECONDS = (1.0, 30.0)           # clip length range (log-uniform)
EBR_DB = (-5.0, 20.0)                # event-to-background ratio range
BACKGROUND_DBFS = (-45.0, -30.0)     # background RMS range
HIT_HOLD_S = 0.1                     # note-off of a percussion hit after its onset
SECOND_CLASS_EVERY = 12              # clips with index % 12 == 11 hold a second class (< 10 % of any split)
MERGE_GAP_S = 0.3                    # note spans of one class closer than this are one event


@dataclass(frozen=True)
class EverydayClass:
    """How one everyday-sound class is made.

    Attributes
    ----------
    label, kind, family
        Class name; duration kind (``short`` / ``medium`` / ``long``); source family
        (``mechanical`` / ``natural`` / ``human``).
    program, keys
        GM program (bank 0) and the MIDI pitches drawn from; for percussion (``program is None``) the kit
        keys (bank 128, channel 10).
    pattern
        ``"held"``: one note per event (its length sets the event's); ``"hits"``: percussion hits at
        ``spacing_s`` intervals; ``"chain"``: overlapping one-shot notes every ``spacing_s`` filling the event.
    event_s
        Documented range of one event's duration in seconds (see the module docstring).
    count
        For ``hits``: the number of hits per event (the event's duration follows from it).
    occurrences, gap_s
        Events per clip, and the gap between two consecutive events of the class.
    tail_s, fade_s
        Release tail added after the last note-off; gate fade ending at the event end.
    loops
        The sample loops (a stationary sound that may already be going when the clip starts).
    """

    label: str
    kind: str
    family: str
    program: int | None
    keys: tuple[int, ...]
    pattern: str
    event_s: tuple[float, float]
    occurrences: tuple[int, int]
    gap_s: tuple[float, float]
    tail_s: float
    fade_s: float
    count: tuple[int, int] = (1, 1)
    spacing_s: tuple[float, float] = (0.0, 0.0)
    loops: bool = False
    velocity: tuple[int, int] = (80, 120)

    @property
    def is_drum(self) -> bool:
        """Whether the class plays from the percussion kit (no General MIDI program)."""
        return self.program is None


def _pitches(lo: int, hi: int) -> tuple[int, ...]:
    return tuple(range(lo, hi + 1))


# Pitch ranges keep every one-shot sample sounding until the event end (measured with FluidR3_GM: gun shot
# >= 1.15 s, fret noise >= 0.25 s, breath >= 0.38 s, bird tweet >= 0.8 s, telephone ring >= 2.5 s held,
# wood block >= 0.25 s, hand clap 0.22 s above -60 dB re its peak).
EVERYDAY_CLASSES: tuple[EverydayClass, ...] = (
    EverydayClass("gun_shot", "short", "mechanical", 127, _pitches(45, 70), "held", (0.30, 1.00),
                  occurrences=(1, 4), gap_s=(0.5, 4.0), tail_s=0.10, fade_s=0.03),
    EverydayClass("door_knock", "short", "human", None, (76, 77), "hits", (0.34, 1.16),
                  occurrences=(1, 3), gap_s=(1.0, 4.0), tail_s=0.10, fade_s=0.02,
                  count=(2, 5), spacing_s=(0.14, 0.24)),
    EverydayClass("guitar_fret_noise", "short", "human", 120, _pitches(48, 64), "held", (0.15, 0.25),
                  occurrences=(1, 4), gap_s=(0.5, 3.0), tail_s=0.08, fade_s=0.02),
    EverydayClass("breathing", "short", "human", 121, _pitches(48, 60), "held", (0.25, 0.45),
                  occurrences=(2, 6), gap_s=(0.8, 2.0), tail_s=0.10, fade_s=0.03, velocity=(90, 127)),
    EverydayClass("hand_clap", "medium", "human", None, (39,), "hits", (0.56, 2.54),
                  occurrences=(1, 2), gap_s=(1.0, 4.0), tail_s=0.10, fade_s=0.02,
                  count=(3, 10), spacing_s=(0.18, 0.26)),
    EverydayClass("bird_tweet", "medium", "natural", 123, _pitches(60, 84), "chain", (0.50, 3.00),
                  occurrences=(1, 3), gap_s=(0.5, 3.0), tail_s=0.15, fade_s=0.05,
                  spacing_s=(0.15, 0.50)),
    EverydayClass("telephone_ring", "medium", "mechanical", 124, _pitches(55, 67), "held", (1.00, 2.00),
                  occurrences=(2, 4), gap_s=(1.5, 3.5), tail_s=0.10, fade_s=0.05),
    EverydayClass("applause", "long", "human", 126, _pitches(54, 72), "held", (2.00, 8.00),
                  occurrences=(1, 2), gap_s=(1.0, 5.0), tail_s=0.25, fade_s=0.25, loops=True),
    EverydayClass("helicopter", "long", "mechanical", 125, _pitches(48, 66), "held", (3.00, 20.00),
                  occurrences=(1, 1), gap_s=(1.0, 1.0), tail_s=0.25, fade_s=0.25, loops=True),
    EverydayClass("seashore", "long", "natural", 122, _pitches(48, 72), "held", (4.00, 20.00),
                  occurrences=(1, 1), gap_s=(1.0, 1.0), tail_s=0.25, fade_s=0.25, loops=True),
)
CLASS_BY_LABEL: dict[str, EverydayClass] = {c.label: c for c in EVERYDAY_CLASSES}
EVERYDAY_LABELS: tuple[str, ...] = tuple(c.label for c in EVERYDAY_CLASSES)
EVERYDAY_KINDS: dict[str, str] = {c.label: c.kind for c in EVERYDAY_CLASSES}
EVERYDAY_FAMILIES: dict[str, str] = {c.label: c.family for c in EVERYDAY_CLASSES}

RULES = {
    "truth": ("an event runs from its first note-on to its last note-off + the class tail (0.08-0.25 s; a "
              f"percussion hit's note-off is {HIT_HOLD_S} s after its onset); note spans of a class closer than "
              f"{MERGE_GAP_S} s are one event; note times on FluidSynth's 64-sample grid; each class stem is "
              "gated to its events (fade ending at the event end)"),
    "cut": "an event longer than its clip is cut by the clip's ends (looped classes at both ends, others at the end)",
    "levels": (f"background RMS {BACKGROUND_DBFS[0]:g}..{BACKGROUND_DBFS[1]:g} dBFS; each class stem's active RMS "
               f"{EBR_DB[0]:g}..{EBR_DB[1]:g} dB re the background RMS; clips peaking above 0.99 scaled down whole"),
    "clip_seconds": f"log-uniform in [{CLIP_SECONDS[0]:g}, {CLIP_SECONDS[1]:g}] s, rounded to 10 ms",
    "classes_per_clip": (f"one; a second (another class) in clips whose index % {SECOND_CLASS_EVERY} == "
                         f"{SECOND_CLASS_EVERY - 1}, so every split stays >= 90 % single-label"),
    "frame_agreement": ("frame (32 ms) label active iff its centre lies in an event; stem active iff frame "
                        "energy > -60 dB relative to the stem's loudest frame"),
}
