"""The 13 instruments of the embedded music corpus: General MIDI programs, pitch ranges and roles.

The one General MIDI program table of the renderers (:data:`GM_PROGRAMS`): every program that plays a tag.
The classic renderer draws from its instrument's ``programs`` (a subset, checked at import), renderer
synth-music-4 (:mod:`.variety`) from the whole row, and the video corpus (:mod:`clip2frame.video.rendering`)
plays each video instrument's first classic program. (The evaluation-only generator of
:mod:`clip2frame.data.outside` keeps a mapping of its own by design, issue #24.)

GM programs per tag (0-based), the same instrument in every case:

========================== ===============================================================
piano                      0 acoustic grand, 1 bright acoustic, 2 electric grand, 3 honky-tonk
acoustic guitar            24 nylon, 25 steel
clean electric guitar      26 jazz, 27 clean, 28 muted
distorted electric guitar  29 overdriven, 30 distortion; or 27 clean through an amp-style
                           distortion + cabinet EQ (pedalboard)
electric bass              33 finger, 34 pick, 35 fretless, 36 slap 1, 37 slap 2
violin                     40 violin, 110 fiddle
cello                      42
flute                      73
trumpet                    56 trumpet, 59 muted trumpet
saxophone                  64 soprano, 65 alto, 66 tenor, 67 baritone
accordion                  21 accordion, 23 tango accordion
synthesizer                leads 80-87, pads 88-95 (also the OPL-3 FM emulation, a real synth chip)
drums                      bank 128 kits 0 standard, 8 room, 16 power, 24 electronic, 25 TR-808,
                           32 jazz, 40 brush; or a Hydrogen kit
========================== ===============================================================

The tag spelling comes from :mod:`clip2frame.tags` (never re-spelled here); this table only adds how each
tag is played. ``role`` decides where the notes come from:

* ``"line"``    a monophonic line from the music21 corpus, transposed by octaves into the range;
* ``"comp"``    generated chord comping (block chords, arpeggios or strums) over the clip's progression;
* ``"power"``   generated power chords (root, fifth, octave) in eighth notes;
* ``"bass"``    a generated bass line (roots, fifths, octaves, passing notes);
* ``"drums"``   a generated groove on the General MIDI percussion kit (bank 128);
* ``"pad"``     sustained synthesizer chords.

Instruments with several roles pick one per clip.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...tags import INSTRUMENT_TAGS


@dataclass(frozen=True)
class Instrument:
    """One instrument tag of the corpus: its General MIDI programs, pitch range, roles and whether it is the
    drum kit.
    """

    tag: str
    programs: tuple[int, ...]   # General MIDI programs (0-based); one is drawn per clip
    low: int                    # lowest MIDI pitch played
    high: int                   # highest MIDI pitch played
    roles: tuple[str, ...]
    is_drum: bool = False

    @property
    def centre(self) -> int:
        """The middle of the played pitch range (MIDI pitch)."""
        return (self.low + self.high) // 2


#: General MIDI programs per tag (0-based; drums: bank-128 kit presets), the table in the module docstring.
GM_PROGRAMS: dict[str, tuple[int, ...]] = {
    "piano": (0, 1, 2, 3),
    "acoustic guitar": (24, 25),
    "clean electric guitar": (26, 27, 28),
    "distorted electric guitar": (29, 30),
    "electric bass": (33, 34, 35, 36, 37),
    "violin": (40, 110),
    "cello": (42,),
    "flute": (73,),
    "trumpet": (56, 59),
    "saxophone": (64, 65, 66, 67),
    "accordion": (21, 23),
    "synthesizer": (80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95),
    "drums": (0, 8, 16, 24, 25, 32, 40),
}

PERCUSSION_BANK = 128
DRUM_CHANNEL = 9

INSTRUMENTS: dict[str, Instrument] = {
    i.tag: i
    for i in (
        Instrument("piano", (0, 1), 36, 88, ("line", "comp")),
        Instrument("acoustic guitar", (24, 25), 40, 76, ("comp", "line")),
        Instrument("clean electric guitar", (27, 26), 40, 79, ("comp", "line")),
        Instrument("distorted electric guitar", (30, 29), 40, 64, ("power",)),
        Instrument("electric bass", (33, 34), 28, 52, ("bass",)),
        Instrument("violin", (40,), 55, 93, ("line",)),
        Instrument("cello", (42,), 36, 69, ("line",)),
        Instrument("flute", (73,), 60, 93, ("line",)),
        Instrument("trumpet", (56,), 55, 82, ("line",)),
        Instrument("saxophone", (65, 66), 46, 78, ("line",)),
        Instrument("accordion", (21,), 53, 84, ("comp", "line")),
        Instrument("synthesizer", (81, 80, 89, 90), 45, 84, ("pad", "line")),
        Instrument("drums", (0,), 35, 81, ("drums",), is_drum=True),
    )
}
assert tuple(INSTRUMENTS) == INSTRUMENT_TAGS  # import-time guard: the table follows the vocabulary
assert tuple(GM_PROGRAMS) == INSTRUMENT_TAGS
assert all(set(i.programs) <= set(GM_PROGRAMS[t]) for t, i in INSTRUMENTS.items())  # draws from the one table

# Pads use the pad programs, lines the lead programs (a pad patch playing a fast line smears it).
SYNTH_PAD_PROGRAMS = (89, 90)
SYNTH_LEAD_PROGRAMS = (81, 80)

# General MIDI percussion keys used by the grooves.
KICK, SNARE, CLOSED_HAT, OPEN_HAT, RIDE, CRASH, LOW_TOM, HIGH_TOM = 36, 38, 42, 46, 51, 49, 45, 50
