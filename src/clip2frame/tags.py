"""The tag vocabulary of the embedded music corpus and of the default model.

The spelling here is the contract shared by the renderer, the model file, ``scores.tsv`` headers and the
viewer: never re-spell a tag elsewhere, import it from here.
"""
from __future__ import annotations

INSTRUMENT_TAGS: tuple[str, ...] = (
    "piano",
    "acoustic guitar",
    "clean electric guitar",
    "distorted electric guitar",
    "electric bass",
    "violin",
    "cello",
    "flute",
    "trumpet",
    "saxophone",
    "accordion",
    "synthesizer",
    "drums",
)
TEMPO_TAGS: tuple[str, ...] = ("fast", "slow")
MUSIC_TAGS: tuple[str, ...] = INSTRUMENT_TAGS + TEMPO_TAGS

# Kind of each tag, used to group tags in reports and in the viewer.
INSTRUMENT_FAMILY: dict[str, str] = {
    "piano": "keyboards",
    "accordion": "keyboards",
    "synthesizer": "keyboards",
    "acoustic guitar": "guitars & bass",
    "clean electric guitar": "guitars & bass",
    "distorted electric guitar": "guitars & bass",
    "electric bass": "guitars & bass",
    "violin": "strings",
    "cello": "strings",
    "flute": "winds",
    "trumpet": "winds",
    "saxophone": "winds",
    "drums": "percussion",
}
MUSIC_TAG_KINDS: dict[str, str] = {**INSTRUMENT_FAMILY, "fast": "tempo", "slow": "tempo"}

# The nine instruments of the video chapter (thesis ch. 4).
VIDEO_INSTRUMENTS: tuple[str, ...] = (
    "accordion", "cello", "drums", "flute", "guitar", "piano", "saxophone", "trumpet", "violin",
)
#: The kind of every label of a video detection (``clip2frame detect``): one group in the viewer.
VIDEO_KIND = "instrument playing (video)"
