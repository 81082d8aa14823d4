"""Players of real recorded material (evaluation only): Gravis UltraSound patches, pitched one-shots,
recorded phrases and loops, and drum kits assembled from recorded hits.

All material comes from the evaluation-only recording directories of
:data:`clip2frame.data.synth.timbres.EVAL_ONLY_RECORDINGS` (Debian ``sonic-pi-samples``, ``lmms-common``,
``freepats``); :data:`REAL_SOURCES` is the table of which file plays which tag, and how.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import DatasetError
from ..synth.timbres import EVAL_ONLY_RECORDINGS
from .nonmusic import load_audio

RELEASE_S = 0.08
_FP, _LM, _SP = "freepats", "lmms-common", "sonic-pi-samples"


def _pats(*names: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((_FP, f"Tone_000/{n}.pat", "patch") for n in names)


#: tag -> (package, path under the package's sample directory, mode). Modes: ``patch`` (a freepats GUS
#: patch played at the notes' pitches), ``note`` (a one-shot resampled around its own pitch), ``phrase`` (a
#: recorded phrase or loop tiled over the part's playing spans), ``kit`` (drum hits by General MIDI key).
REAL_SOURCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "piano": _pats("000_Acoustic_Grand_Piano", "001_Acoustic_Brite_Piano")
    + ((_LM, "instruments/piano01.ogg", "note"), (_LM, "instruments/piano02.ogg", "phrase"),
       (_SP, "ambi_piano.flac", "phrase")),
    "acoustic guitar": _pats("024_Nylon_Guitar", "025_Steel_Guitar")
    + ((_LM, "instruments/steel_guitar01.ogg", "phrase"), (_LM, "latin/latin_guitar01.ogg", "phrase"),
       (_LM, "latin/latin_guitar03.ogg", "phrase")),
    "clean electric guitar": _pats("026_Jazz_Guitar", "027_Clean_Electric_Guitar", "028_Muted_Electric_Guitar")
    + ((_SP, "guit_e_fifths.flac", "phrase"), (_SP, "guit_em9.flac", "phrase"), (_SP, "guit_e_slide.flac", "phrase")),
    "distorted electric guitar": _pats("029_Overdriven_Guitar", "030_Distortion_Guitar")
    + ((_LM, "instruments/steel_guitar_heavy_distorted01.ogg", "phrase"),
       (_LM, "instruments/steel_guitar_medium_distorted01.ogg", "phrase")),
    "electric bass": _pats("033_Finger_Bass", "034_Pick_Bass", "035_Fretless_Bass", "036_Slap_Bass_1")
    + ((_LM, "instruments/bassslap02.ogg", "note"),),
    "violin": _pats("040_Violin") + ((_LM, "instruments/violin_fingered01.ogg", "note"),),
    "cello": _pats("042_Cello") + ((_LM, "instruments/cello01.ogg", "note"),),
    "flute": _pats("073_Flute") + ((_LM, "instruments/flute01.ogg", "phrase"),),
    "trumpet": _pats("056_Trumpet", "059_Muted_Trumpet") + ((_LM, "instruments/trumpet01.ogg", "note"),),
    "saxophone": _pats("064_Soprano_Sax", "065_Alto_Sax", "066_Tenor_Sax", "067_Baritone_Sax"),
    "accordion": _pats("021_Accordion", "023_Tango_Accordion"),
    "synthesizer": _pats("080_Square_Wave", "084_Charang", "088_New_Age", "094_Halo_Pad")
    + ((_LM, "stringsnpads/juno_pad01.ogg", "phrase"), (_LM, "stringsnpads/nord_ambient01.ogg", "phrase"),
       (_LM, "bassloops/tb303_01.ogg", "phrase"), (_LM, "bassloops/techno_synth04.ogg", "phrase"),
       (_SP, "bass_voxy_c.flac", "phrase")),
    "drums": ((_FP, "Drum_000", "kit"), (_LM, "drums", "kit"), (_SP, "", "kit"), (_LM, "beats/909beat01.ogg", "phrase"),
              (_LM, "beats/break01.ogg", "phrase"), (_SP, "loop_amen_full.flac", "phrase"),
              (_SP, "loop_breakbeat.flac", "phrase")),
}
#: Untagged recorded instruments that may join a real mix (organ, choir, bells).
REAL_OTHERS: tuple[tuple[str, str, str], ...] = (
    (_LM, "instruments/church_organ01.ogg", "phrase"), (_LM, "instruments/e_organ01.ogg", "phrase"),
    (_LM, "stringsnpads/chorus02.ogg", "phrase"), (_LM, "stringsnpads/bell_choir01.ogg", "phrase"))


def source_path(package: str, rel: str) -> Path:
    """Absolute path of a :data:`REAL_SOURCES` entry."""
    return EVAL_ONLY_RECORDINGS[package] / rel if rel else EVAL_ONLY_RECORDINGS[package]


@dataclass(frozen=True)
class PatchSample:
    """One recorded sample of a patch: float32 audio at its own rate ``sr``, the key range it plays (Hz), its
    root frequency (Hz) and its loop points (samples), if any.
    """

    data: np.ndarray          # float32 at the patch's own rate
    sr: int
    low_hz: float
    high_hz: float
    root_hz: float
    loop: tuple[int, int] | None


@lru_cache(maxsize=64)
def read_patch(path: str) -> tuple[PatchSample, ...]:
    """Read a Gravis UltraSound ``.pat`` file (GF1PATCH100/110): its samples, key ranges and loops."""
    raw = Path(path).read_bytes()
    if not raw.startswith(b"GF1PATCH1") or len(raw) < 239:
        raise DatasetError(f"{path}: not a GUS patch (no GF1PATCH header)")
    n_samples = raw[198]
    out: list[PatchSample] = []
    off = 239
    for _ in range(n_samples):
        if off + 96 > len(raw):
            raise DatasetError(f"{path}: truncated sample header")
        size, ls, le, rate, lo, hi, root = struct.unpack_from("<IIIHIII", raw, off + 8)
        modes = raw[off + 55]
        off += 96
        body = raw[off: off + size]
        off += size
        if modes & 1:
            x = np.frombuffer(body[: len(body) // 2 * 2], dtype="<u2" if modes & 2 else "<i2").astype(np.float32)
            x = (x - 32768.0 if modes & 2 else x) / 32768.0
            ls, le = ls // 2, le // 2
        else:
            x = np.frombuffer(body, dtype=np.uint8 if modes & 2 else np.int8).astype(np.float32)
            x = (x - 128.0 if modes & 2 else x) / 128.0
        loop = (ls, le) if modes & 4 and 0 <= ls < le <= len(x) and le - ls > 16 else None
        out.append(PatchSample(x, int(rate), lo / 1000.0, hi / 1000.0, root / 1000.0, loop))
    if not out:
        raise DatasetError(f"{path}: no samples")
    return tuple(out)


def _envelope(y: np.ndarray, sr: int) -> np.ndarray:
    a, r = min(len(y), int(0.004 * sr)), min(len(y), int(RELEASE_S * sr))
    if a:
        y[:a] *= np.linspace(0, 1, a, dtype=np.float32)
    if r:
        y[-r:] *= np.linspace(1, 0, r, dtype=np.float32)
    return y


def _play_patch(samples: tuple[PatchSample, ...], pitch: int, dur_s: float, sr: int) -> np.ndarray:
    hz = 440.0 * 2 ** ((pitch - 69) / 12)
    inside = [s for s in samples if s.low_hz <= hz <= s.high_hz]
    s = inside[0] if inside else min(samples, key=lambda s: abs(np.log(hz / max(s.root_hz, 1e-3))))
    step = hz / max(s.root_hz, 1e-3) * s.sr / sr            # input samples per output sample
    n_out = int((dur_s + RELEASE_S) * sr)
    pos = np.arange(n_out) * step
    if s.loop is not None:
        a, b = s.loop
        over = pos >= b
        pos[over] = a + np.mod(pos[over] - a, b - a)
    pos = pos[pos < len(s.data) - 1]
    return _envelope(np.interp(pos, np.arange(len(s.data)), s.data).astype(np.float32), sr)


def _place(out: np.ndarray, y: np.ndarray, at: int, gain: float) -> None:
    if at >= len(out) or at < 0:
        return
    m = min(len(y), len(out) - at)
    out[at: at + m] += gain * y[:m]


_KIT_CATS = {"kick": (35, 36), "snare": (38, 40, 25), "side": (37, 31), "clap": (39, 26), "chh": (42, 44),
             "ohh": (46,), "crash": (49, 52, 55, 57), "ride": (51, 53, 59), "tom": (41, 43, 45, 47, 48, 50),
             "perc": tuple(range(54, 83))}
_FALLBACK = {"side": "snare", "clap": "snare", "ride": "crash", "ohh": "chh", "perc": "chh", "tom": "snare"}
_NAME_CATS = ((r"kick|bassdrum|bd_|drum_bass|heavy_kick", "kick"), (r"snare|sn_", "snare"),
              (r"rim|sidestick|stick", "side"), (r"clap|snap", "clap"),
              (r"hihat_closed|cymbal_closed|hihat_foot|cymbal_pedal", "chh"), (r"hihat_open|cymbal_open", "ohh"),
              (r"crash|splash|cymbal_hard|cymbal_soft", "crash"), (r"ride", "ride"), (r"tom", "tom"),
              (r"shaker", "perc"))


def _category(key: int) -> str:
    return next((c for c, keys in _KIT_CATS.items() if key in keys), "perc")


@lru_cache(maxsize=8)
def kit_files(package: str, rel: str) -> dict[str, tuple[str, ...]]:
    """``{category: files}`` of a recorded drum kit (freepats' Drum_000 by key, lmms / sonic-pi by name)."""
    root = source_path(package, rel)
    cats: dict[str, list[str]] = {}
    files = sorted(root.glob("*.pat" if package == _FP else "*.ogg" if package == _LM else "*.flac"))
    for f in files:
        if package == _FP:
            m = re.match(r"(\d+)_", f.name)
            cat = _category(int(m.group(1))) if m else None
        else:
            cat = next((c for pat, c in _NAME_CATS if re.search(pat, f.name)), None)
            if package == _SP and not re.match(r"(drum_|bd_|sn_)", f.name):
                cat = None
        if cat:
            cats.setdefault(cat, []).append(str(f))
    return {c: tuple(v) for c, v in cats.items()}


@lru_cache(maxsize=512)
def _hit(path: str, sr: int) -> np.ndarray:
    if path.endswith(".pat"):
        s = read_patch(path)[0]                   # a drum patch plays at its own rate
        pos = np.arange(int(len(s.data) * sr / s.sr)) * s.sr / sr
        y = np.interp(pos, np.arange(len(s.data)), s.data).astype(np.float32)
    else:
        y = load_audio(path, sr)
    return _envelope(y[: int(1.5 * sr)].copy(), sr)


def render_part(entry: tuple[str, str, str], notes, spans, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Render one part (``notes``: (onset s, offset s, pitch, velocity); ``spans``: where it plays) from a
    :data:`REAL_SOURCES` entry to a mono stem of ``n`` samples."""
    package, rel, mode = entry
    out = np.zeros(n, dtype=np.float32)
    if mode == "kit":
        cats = kit_files(package, rel)
        choice = {c: v[int(rng.integers(len(v)))] for c, v in cats.items()}
        for on, _off, key, vel in notes:
            cat = _category(int(key))
            cat = cat if cat in choice else _FALLBACK.get(cat, "snare")
            if cat in choice:
                _place(out, _hit(choice[cat], sr), int(on * sr), (vel / 127) ** 1.5)
        return out
    path = source_path(package, rel)
    if mode == "patch":
        samples = read_patch(str(path))
        for on, off, pitch, vel in notes:
            _place(out, _play_patch(samples, int(pitch), off - on, sr), int(on * sr), (vel / 127) ** 1.5)
        return out
    y = load_audio(path, sr)
    if mode == "note":
        centre = int(np.median([p for _, _, p, _ in notes])) if notes else 60
        for on, off, pitch, vel in notes:
            ratio = 2 ** (float(np.clip(pitch - centre, -7, 7)) / 12)
            pos = np.arange(int((off - on + RELEASE_S) * sr)) * ratio
            seg = np.interp(pos[pos < len(y) - 1], np.arange(len(y)), y).astype(np.float32)
            _place(out, _envelope(seg, sr), int(on * sr), (vel / 127) ** 1.5)
        return out
    for a, b in spans:                                    # phrase: tile excerpts over the playing spans
        t = a
        while t < b - 0.05:
            start = int(rng.integers(0, max(1, len(y) - sr // 2)))
            seg = y[start: start + int((b - t) * sr)].copy()
            if len(seg) < sr // 10:
                seg = y[: int((b - t) * sr)].copy()
            _place(out, _envelope(seg, sr), int(t * sr), 1.0)
            t += len(seg) / sr
    return out
