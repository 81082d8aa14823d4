"""Recorded-instrument samplers: Hydrogen drum kits and a multi-sampled piano, rendered offline.

They take the same note events as :meth:`clip2frame.data.synth.engine.SynthEngine.render` and return a dry
mono stem at ``sr``. A note sounds from its onset to its offset, then fades out over :data:`RELEASE_S`
(inside the corpus' 0.1-s release tail, so the frame truth stays exact).
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr

from ...errors import DatasetError
from ...timebase import SAMPLE_RATE

log = logging.getLogger(__name__)

RELEASE_S = 0.08
MAX_SAMPLE_S = 8.0

# General MIDI percussion keys -> drum categories, and the words that name each category in Hydrogen kits
GM_DRUM_CATEGORY = {
    35: "kick", 36: "kick", 37: "stick", 38: "snare", 39: "clap", 40: "snare", 41: "tom_low", 42: "hat_closed",
    43: "tom_low", 44: "hat_pedal", 45: "tom_low", 46: "hat_open", 47: "tom_mid", 48: "tom_mid", 49: "crash",
    50: "tom_high", 51: "ride", 52: "crash", 53: "ride", 55: "crash", 57: "crash", 59: "ride",
}
_CATEGORY_PATTERNS = (   # first match wins, so the specific names come first
    ("stick", r"stick|rim"), ("clap", r"clap"), ("kick", r"kick|bass ?drum|\bbd\b"),
    ("snare", r"snare|\bsd\b"), ("hat_pedal", r"pedal|foot"),
    ("hat_open", r"open|\bohh\b|semi"), ("hat_closed", r"closed|\bhh\b|hi-?hat|hat"),
    ("tom_low", r"floor|tom ?low|low ?tom|tom ?3|tom1?6"), ("tom_high", r"tom ?hi|hi(gh)? ?tom|tom ?1\b"),
    ("tom_mid", r"tom"), ("ride", r"ride"), ("crash", r"crash|splash|china|cymbal"),
)
_FALLBACK = {"stick": "snare", "clap": "snare", "hat_pedal": "hat_closed", "hat_open": "hat_closed",
             "tom_mid": "tom_low", "tom_high": "tom_mid", "ride": "hat_closed", "crash": "hat_open"}


def _category(name: str) -> str | None:
    low = name.lower()
    for cat, pat in _CATEGORY_PATTERNS:
        if re.search(pat, low):
            return cat
    return None


@lru_cache(maxsize=512)
def _load_sample(path: str, sr: int) -> np.ndarray:
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    try:
        x, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - libsndfile raises several types
        raise DatasetError(f"{path}: cannot read sample ({e})") from None
    x = x.mean(axis=1)[: int(MAX_SAMPLE_S * rate)]
    if rate != sr:
        x = soxr.resample(x, rate, sr).astype(np.float32)
    return x


def _place(out: np.ndarray, x: np.ndarray, on_s: float, off_s: float, gain: float, sr: int) -> None:
    a = int(round(on_s * sr))
    if a >= len(out):
        return
    b = min(len(out), int(round(off_s * sr)) + int(RELEASE_S * sr), a + len(x))
    seg = x[: b - a] * gain
    rel_start = int(round(off_s * sr)) - a
    if 0 <= rel_start < len(seg):
        n = len(seg) - rel_start
        seg[rel_start:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    out[a:b] += seg


@dataclass
class _Layer:
    path: str
    vmin: float
    vmax: float
    gain: float


class DrumKitSampler:
    """A Hydrogen drum kit (``drumkit.xml`` + samples) played from General MIDI percussion keys."""

    def __init__(self, kit_dir: str | Path, *, sr: int = SAMPLE_RATE):
        self.kit_dir = Path(kit_dir)
        self.sr = int(sr)
        xml = self.kit_dir / "drumkit.xml"
        try:
            root = ET.parse(xml).getroot()
        except (OSError, ET.ParseError) as e:
            raise DatasetError(f"{xml}: cannot read Hydrogen drum kit ({e})") from None
        ns = re.match(r"\{.*\}", root.tag)
        pre = ns.group(0) if ns else ""
        self.layers: dict[str, list[_Layer]] = {}
        for inst in root.iter(f"{pre}instrument"):
            cat = _category(inst.findtext(f"{pre}name") or "")
            if cat is None or cat in self.layers:
                continue
            vol = float(inst.findtext(f"{pre}volume") or 1.0) * float(inst.findtext(f"{pre}gain") or 1.0)
            layers = []
            for lay in inst.iter(f"{pre}layer"):
                fn = lay.findtext(f"{pre}filename")
                if fn and (self.kit_dir / fn).is_file():
                    layers.append(_Layer(str(self.kit_dir / fn), float(lay.findtext(f"{pre}min") or 0.0),
                                         float(lay.findtext(f"{pre}max") or 1.0),
                                         vol * float(lay.findtext(f"{pre}gain") or 1.0)))
            if not layers:
                fn = inst.findtext(f"{pre}filename")  # old kits: one sample per instrument
                if fn and (self.kit_dir / fn).is_file():
                    layers.append(_Layer(str(self.kit_dir / fn), 0.0, 1.0, vol))
            if layers:
                self.layers[cat] = layers
        if "kick" not in self.layers or "snare" not in self.layers:
            raise DatasetError(f"{xml}: no kick or snare found in this drum kit")

    def _layers_for(self, cat: str) -> list[_Layer]:
        while cat not in self.layers:
            cat = _FALLBACK.get(cat, "snare")
        return self.layers[cat]

    def render(self, events, *, n_samples: int, **_: object) -> np.ndarray:
        """Mono float32 [n_samples] of drum events ``(onset_s, offset_s, GM drum note, velocity)``."""
        out = np.zeros(n_samples, dtype=np.float32)
        for on, off, pitch, vel in events:
            cat = GM_DRUM_CATEGORY.get(int(pitch), "snare")
            v = min(1.0, max(0.0, vel / 127.0))
            layers = self._layers_for(cat)
            lay = next((la for la in layers if la.vmin <= v <= la.vmax), layers[-1])
            _place(out, _load_sample(lay.path, self.sr), on, off, lay.gain * (0.3 + 0.7 * v), self.sr)
        return out


_NOTE = re.compile(r"^([A-G])(#?)(-?\d)v\d+$")
_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


class PianoSampler:
    """A multi-sampled piano (files named like ``C4v10.ogg``, ``D#4v10.ogg``); other pitches by resampling."""

    def __init__(self, sample_dir: str | Path, *, sr: int = SAMPLE_RATE):
        self.dir = Path(sample_dir)
        self.sr = int(sr)
        self.notes: dict[int, Path] = {}
        for f in sorted(self.dir.glob("*.ogg")):
            m = _NOTE.match(f.stem)
            if m:
                self.notes[12 * (int(m.group(3)) + 1) + _PC[m.group(1)] + (1 if m.group(2) else 0)] = f
        if not self.notes:
            raise DatasetError(f"{self.dir}: no piano samples named like C4v10.ogg found")
        self._keys = np.array(sorted(self.notes))

    @lru_cache(maxsize=128)
    def _note(self, pitch: int) -> np.ndarray:
        q = int(self._keys[np.argmin(np.abs(self._keys - pitch))])
        x = _load_sample(str(self.notes[q]), self.sr)
        if q == pitch:
            return x
        r = 2.0 ** ((pitch - q) / 12.0)   # play r times faster: resample from sr·r to sr
        return soxr.resample(x, self.sr * r, self.sr).astype(np.float32)

    def render(self, events, *, n_samples: int, **_: object) -> np.ndarray:
        """Mono float32 [n_samples] of note events ``(onset_s, offset_s, MIDI pitch, velocity)``."""
        out = np.zeros(n_samples, dtype=np.float32)
        for on, off, pitch, vel in events:
            v = min(1.0, max(0.0, vel / 127.0))
            _place(out, self._note(int(pitch)), on, off, 0.15 + 0.85 * v ** 1.5, self.sr)
        return out
