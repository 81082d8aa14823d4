"""Non-music clips (``clip2frame synth nonmusic``): no instrument plays, so the frame truth is empty.

Families (``FAMILIES``; ``metadata.json`` ``family_of`` maps each file to its family):

=================  ===========================================================================================
silence            digital zero
near-silence       white or pink noise at -80..-60 dBFS RMS
white/pink/brown   coloured noise at -35..-12 dBFS
hum                mains hum: 50 or 60 Hz and harmonics 2-9 (random amplitudes), a faint noise floor
speech-espeak      espeak-ng sentences (English, German, French, Spanish, Italian; male and female variants)
speech-festival    Festival ``text2wave`` (kal_diphone)
applause-recorded  lmms-common's recorded applause and crowd (evaluation-only recordings), tiled
applause-synth     thousands of short band-passed noise bursts (claps) at 20-200 per second
everyday           the project's everyday-sound corpus (``clip2frame synth everyday`` classes) over noise only
tone               steady sines at 80-4000 Hz (one or two partials)
sweep              logarithmic sine sweeps 40 Hz - 7.5 kHz, up or down
=================  ===========================================================================================

MBROLA voices are not installable here (Debian bookworm ships no ``mbrola`` package), so speech is
espeak-ng's formant voices and Festival's diphone voice. A family whose tool is missing is skipped with a
warning and listed in ``metadata.json`` ``skipped_families``. Evaluation only.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import replace
from math import gcd
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DatasetError
from ...extras import require
from ...fileio import atomic_write_bytes
from ...tags import MUSIC_TAG_KINDS, MUSIC_TAGS
from ...timebase import SAMPLE_RATE
from ..manifest import ClipRecord, Manifest, load_manifest, write_manifest
from ..synth.driver import wav_bytes
from ..synth.everyday import everyday_clip_spec, render_everyday_clip
from ..synth.timbres import EVAL_ONLY_RECORDINGS

log = logging.getLogger(__name__)

FAMILIES = ("silence", "near-silence", "white noise", "pink noise", "brown noise", "hum", "speech-espeak",
            "speech-festival", "applause-recorded", "applause-synth", "everyday", "tone", "sweep")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and then it runs back into the forest.",
    "Please remember to turn off the lights before you leave the office this evening.",
    "Der Zug nach Hamburg hat heute leider zwanzig Minuten Verspätung.",
    "Le petit chat dort tranquillement sur le canapé du salon.",
    "Mañana vamos a visitar el museo de arte moderno con los niños.",
    "Il tempo oggi è molto variabile, con piogge sparse nel pomeriggio.",
    "Ladies and gentlemen, the next station is the central market. Mind the gap.",
    "In the beginning there was nothing but a long and quiet silence over the sea.",
)
ESPEAK_VOICES = (("en", "en"), ("en-us+f3", "en"), ("de+m3", "de"), ("fr+f2", "fr"), ("es", "es"), ("it+f4", "it"))


def _noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(n)
    if colour == "white":
        return w
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    shape = f ** (-0.5 if colour == "pink" else -1.0)
    return np.fft.irfft(np.fft.rfft(w) * shape, n)


def _at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    r = float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0
    y = x * (10 ** (dbfs / 20) / r) if r > 0 else x
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Tile ``x`` (with 20-ms crossfades) or cut it to ``n`` samples."""
    if len(x) == 0:
        return np.zeros(n, dtype=np.float32)
    out = np.asarray(x, dtype=np.float32)
    while len(out) < n:
        f = min(320, len(x) // 4, len(out) // 4)
        if f > 0:
            ramp = np.linspace(0, 1, f, dtype=np.float32)
            out = np.concatenate([out[:-f], out[-f:] * (1 - ramp) + x[:f] * ramp, x[f:]])
        else:
            out = np.concatenate([out, x])
    return out[:n]


def load_audio(path: str | Path, sr: int) -> np.ndarray:
    """A sound file as mono float32 at ``sr`` (shape (N,)); :class:`DatasetError` naming the file if unreadable."""
    import soundfile as sf  # lazy: libsndfile load order (see tests/test_layers.py LAZY_IMPORTS_KEPT)

    resample_poly = require("scipy.signal", what="non-music corpus rendering").resample_poly

    try:
        y, r = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise DatasetError(f"{path}: unreadable audio ({e})") from None
    y = y.mean(axis=1)
    if r != sr:
        g = gcd(int(r), int(sr))
        y = resample_poly(y, sr // g, int(r) // g)
    return np.asarray(y, dtype=np.float32)


def _speech(tool: str, rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    parts: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        k = 0
        while sum(map(len, parts)) < n:
            wav = Path(tmp) / f"{k}.wav"
            if tool == "espeak-ng":
                voice, lang = ESPEAK_VOICES[int(rng.integers(len(ESPEAK_VOICES)))]
                texts = [s for s in SENTENCES if _lang(s) == lang] or list(SENTENCES[:2])
                cmd = ["espeak-ng", "-v", voice, "-s", str(int(rng.integers(130, 190))), "-w", str(wav),
                       texts[int(rng.integers(len(texts)))]]
                subprocess.run(cmd, check=True, capture_output=True, timeout=60)
            else:
                text = [s for s in SENTENCES if _lang(s) == "en"][int(rng.integers(4))]
                subprocess.run(["text2wave", "-o", str(wav)], input=text.encode(), check=True,
                               capture_output=True, timeout=120)
            parts += [load_audio(wav, sr), np.zeros(int(rng.uniform(0.2, 0.8) * sr), dtype=np.float32)]
            k += 1
    return np.concatenate(parts)[:n]


def _lang(s: str) -> str:
    if "Zug" in s:
        return "de"
    if "chat" in s:
        return "fr"
    if "Mañana" in s:
        return "es"
    if "tempo" in s:
        return "it"
    return "en"


def _claps(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    signal = require("scipy.signal", what="non-music corpus rendering")

    out = np.zeros(n)
    rate = rng.uniform(20, 200)
    for t in np.cumsum(rng.exponential(1 / rate, size=int(rate * n / sr * 1.2) + 1)):
        i = int(t * sr)
        if i >= n:
            break
        L = int(rng.uniform(0.005, 0.02) * sr)
        burst = rng.standard_normal(L) * np.exp(-np.arange(L) / (L / 4)) * rng.uniform(0.2, 1.0)
        out[i:i + L] += burst[: n - i]
    lo = rng.uniform(600, 1200)
    return signal.sosfilt(signal.butter(2, [lo, min(lo * 4, sr / 2 - 100)], "bandpass", fs=sr, output="sos"), out)


def _everyday(seed: int, index: int, n: int, sr: int) -> np.ndarray:
    spec = everyday_clip_spec("test", index, seed=seed, sr=sr, duration_s=n / sr)
    spec = replace(spec, background={**spec.background, "kind": "noise", "notes": []})   # no music background
    return render_everyday_clip(spec).audio


def nonmusic_clip(family: str, index: int, *, seed: int, seconds: float = 10.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """One clip of ``family`` (shape (round(seconds·sr),), float32); deterministic from the arguments."""
    if family not in FAMILIES:
        raise ConfigError(f"family: expected one of {', '.join(FAMILIES)}, got '{family}'")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, FAMILIES.index(family), int(index)])
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    if family == "silence":
        return np.zeros(n, dtype=np.float32)
    if family == "near-silence":
        return _at_dbfs(_noise(n, str(rng.choice(["white", "pink"])), rng), float(rng.uniform(-80, -60)))
    if family.endswith(" noise"):
        return _at_dbfs(_noise(n, family.split()[0], rng), float(rng.uniform(-35, -12)))
    if family == "hum":
        f0 = float(rng.choice([50.0, 60.0]))
        x = sum(rng.uniform(0.05, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) for k in range(1, 10))
        return _at_dbfs(np.asarray(x) + 0.003 * rng.standard_normal(n), float(rng.uniform(-40, -15)))
    if family.startswith("speech"):
        tool = "espeak-ng" if family == "speech-espeak" else "text2wave"
        if shutil.which(tool) is None:
            raise ConfigError(f"{family}: '{tool}' is not installed (apt-get install espeak-ng festival)")
        return _at_dbfs(_speech(tool if tool == "espeak-ng" else "festival", rng, n, sr), float(rng.uniform(-26, -16)))
    if family == "applause-recorded":
        files = [EVAL_ONLY_RECORDINGS["lmms-common"] / "misc" / f for f in ("applause01.ogg", "raving_crowd01.ogg")]
        if not all(f.is_file() for f in files):
            raise ConfigError(f"{files[0].parent}: recorded applause missing (apt-get install lmms-common)")
        return _at_dbfs(_fit(load_audio(files[index % 2], sr), n), float(rng.uniform(-26, -14)))
    if family == "applause-synth":
        return _at_dbfs(_claps(rng, n, sr), float(rng.uniform(-28, -14)))
    if family == "everyday":
        return _everyday(seed, index, n, sr)
    if family == "tone":
        f = rng.uniform(80, 4000, size=int(rng.integers(1, 3)))
        return _at_dbfs(np.sum([np.sin(2 * np.pi * fi * t) for fi in f], axis=0), float(rng.uniform(-30, -12)))
    f0, f1 = (40.0, 7500.0) if rng.random() < 0.5 else (7500.0, 40.0)   # sweep
    phase = 2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(t / seconds * np.log(f1 / f0)) - 1)
    return _at_dbfs(np.sin(phase), float(rng.uniform(-30, -12)))


def render_nonmusic_corpus(out_dir: str | Path, *, seed: int = 0, clips_per_family: int = 3,
                           clip_seconds: float = 10.0, sr: int = SAMPLE_RATE,
                           families: tuple[str, ...] = FAMILIES) -> Manifest:
    """Write ``clips_per_family`` clips of each of ``families`` (split ``nonmusic``, empty frame truth)."""
    if clips_per_family < 1 or not clip_seconds > 0:
        raise ConfigError("synth nonmusic: --clips-per-family must be >= 1 and --clip-seconds > 0")
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise ConfigError(f"synth nonmusic: unknown family '{bad[0]}' (expected some of {', '.join(FAMILIES)})")
    out = Path(out_dir)
    clips: list[ClipRecord] = []
    family_of: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for fam in families:
        for i in range(clips_per_family):
            cid = f"{fam.replace(' ', '_')}_{i:02d}"
            rel = f"audio/nonmusic/{cid}.wav"
            if not (out / rel).is_file():
                try:
                    audio = nonmusic_clip(fam, i, seed=seed, seconds=clip_seconds, sr=sr)
                except (ConfigError, DatasetError, subprocess.SubprocessError, OSError) as e:
                    log.warning("nonmusic: %s skipped: %s", cid, e)
                    skipped[cid] = str(e)
                    continue
                atomic_write_bytes(out / rel, wav_bytes(audio, sr))
            clips.append(ClipRecord(cid, out / rel, (), "nonmusic", (), duration=clip_seconds))
            family_of[rel] = fam
    extra = {"renderer": "outside-nonmusic-1", "evaluation_only": True, "seed": seed, "family_of": family_of,
             "families": list(families), "skipped": skipped, "sample_rate": sr}
    write_manifest(out, name="outside-nonmusic", labels=MUSIC_TAGS, kinds=MUSIC_TAG_KINDS, clips=clips, extra=extra)
    return load_manifest(out)
