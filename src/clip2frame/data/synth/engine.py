"""Offline FluidSynth rendering (pyfluidsynth, no audio driver) of note events to a mono float stem.

Measured FluidSynth 2.3 behaviour this module works around:

* note events take effect on 64-sample block boundaries, so every event time is rounded to a multiple
  of 64 samples and the synth is rendered exactly up to it before the event is sent;
* ``system_reset()`` only releases notes and can revive notes killed by ``all_sounds_off()``; reverb and
  chorus keep state between renders. Reverb and chorus are therefore switched off in the settings, and
  a stem ends only when the synth has no active voice left (after ``all_sounds_off`` and a short
  throw-away render), so the next stem starts from a silent synth;
* voice slots are reused without clearing all their DSP state: the same events rendered after a
  different history differ by up to ~1 % of the peak. Before each stem every slot is therefore
  *primed* (a fixed chord sounded on all slots, then killed), which makes a stem's samples depend
  only on its own events: same events → same samples, whatever was rendered before in that process.

Samples are read as float (``fluid_synth_write_float``) so there is no int16 dither, clipping or
quantisation in the stems; the left and right outputs are averaged to mono.
"""
from __future__ import annotations

import logging
from ctypes import c_int, c_void_p
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DatasetError
from ...timebase import SAMPLE_RATE
from .instruments import DRUM_CHANNEL, PERCUSSION_BANK

log = logging.getLogger(__name__)

BLOCK = 64                       # FluidSynth's internal block: events are quantised to it
DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SHIFT_SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
MAX_TAIL_S = 4.0                 # longest release rendered after the last note-off
SYNTH_GAIN = 0.2
PRIME_CHANNELS = (14, 15)        # channels used only to prime the voice slots (see SynthEngine._prime)


@dataclass(frozen=True)
class NoteEvent:
    """One note: onset and offset in seconds, MIDI pitch, MIDI velocity (1..127)."""

    onset: float
    offset: float
    pitch: int
    velocity: int


def _import_fluidsynth():
    try:
        import fluidsynth  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError(
            f"pyfluidsynth/libfluidsynth: not available ({e}); install 'clip2frame[synth]' and the "
            "fluidsynth system library") from None
    return fluidsynth


def check_soundfont(path: str | Path) -> Path:
    """Return ``path`` as a Path if it is a readable SoundFont file, else raise :class:`DatasetError`."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: soundfont file not found (install fluid-soundfont-gm / timgm6mb-soundfont "
                           "or pass another .sf2)")
    with open(p, "rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise DatasetError(f"{p}: not a SoundFont 2 file (no RIFF/sfbk header)")
    return p


class SynthEngine:
    """One FluidSynth instance with one SoundFont loaded, rendering stems offline."""

    def __init__(self, soundfont: str | Path = DEFAULT_SOUNDFONT, *, sr: int = SAMPLE_RATE):
        self.soundfont = check_soundfont(soundfont)
        self.sr = int(sr)
        fs = _import_fluidsynth()
        self._write_float = fs.cfunc(
            "fluid_synth_write_float", c_int, ("synth", c_void_p, 1), ("len", c_int, 1),
            ("lout", c_void_p, 1), ("loff", c_int, 1), ("lincr", c_int, 1),
            ("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
        if self._write_float is None:  # pragma: no cover
            raise ConfigError("libfluidsynth: fluid_synth_write_float missing (FluidSynth >= 2 needed)")
        self._synth = fs.Synth(gain=SYNTH_GAIN, samplerate=float(self.sr), **{
            "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1,
            "synth.polyphony": 256})
        self.sfid = self._synth.sfload(str(self.soundfont))
        if self.sfid < 0:
            raise DatasetError(f"{self.soundfont}: FluidSynth cannot load this SoundFont")

    def close(self) -> None:
        """Free the FluidSynth instance (idempotent)."""
        if self._synth is not None:
            self._synth.delete()
            self._synth = None

    def _render(self, n: int) -> np.ndarray:
        buf = np.zeros(2 * n, dtype=np.float32)
        if n:
            ptr = buf.ctypes.data
            self._write_float(self._synth.synth, n, ptr, 0, 2, ptr, 1, 2)
        return 0.5 * (buf[0::2] + buf[1::2])

    def _prime(self) -> None:
        """Put every voice slot into the same state, whatever was rendered before.

        FluidSynth reuses voice slots without clearing all of their DSP state, so the same events
        rendered after different histories differ (by up to 1 % of the peak, measured). Sounding a
        fixed chord on every slot, then killing it, leaves the slots identical before each stem.
        """
        s = self._synth
        poly = int(s.get_setting("synth.polyphony") or 256)
        for chan in PRIME_CHANNELS:
            s.program_select(chan, self.sfid, 0, 0)
        count, per = 0, 1
        for chan in PRIME_CHANNELS:
            for key in range(128):
                if count + per > poly:
                    break
                s.noteon(chan, key, 100)
                now = s.get_active_voice_count()
                per, count = max(1, now - count), now
        self._render(BLOCK * 4)
        self._silence(*PRIME_CHANNELS)

    def _silence(self, *chans: int) -> None:
        s = self._synth
        for chan in chans:
            s.all_notes_off(chan)
            s.all_sounds_off(chan)
        for _ in range(200):  # throw-away audio until no voice is left (usually one block)
            self._render(BLOCK * 16)
            if s.get_active_voice_count() == 0:
                break
        else:
            log.warning("%s: voices still active after all_sounds_off", self.soundfont)
        for chan in chans:
            s.cc(chan, 121, 0)  # reset all controllers

    def render(self, events, *, program: int, n_samples: int, is_drum: bool = False,
               bank: int | None = None, controls=()) -> np.ndarray:
        """Render ``events`` (``NoteEvent`` or ``(onset_s, offset_s, pitch, velocity)``) to a mono stem.

        ``controls``: ``(time_s, "cc", number, value)`` or ``(time_s, "bend", value, _)`` messages
        (pitch bend value in -8192..8191), sent before the notes of the same block.

        Returns
        -------
        np.ndarray, shape (n_samples,), float32
            The dry stem (no reverb or chorus), cut at ``n_samples``; notes still sounding then are cut.
        """
        s = self._synth
        self._prime()
        chan = DRUM_CHANNEL if is_drum else 0
        bank = (PERCUSSION_BANK if is_drum else 0) if bank is None else bank
        if s.program_select(chan, self.sfid, bank, int(program)) != 0:
            raise ConfigError(f"{self.soundfont}: no preset bank {bank} program {program}")
        msgs = []
        for ev in events:
            on, off, pitch, vel = (ev.onset, ev.offset, ev.pitch, ev.velocity) if isinstance(ev, NoteEvent) else ev
            a = int(round(on * self.sr / BLOCK)) * BLOCK
            b = max(a + BLOCK, int(round(off * self.sr / BLOCK)) * BLOCK)
            if a >= n_samples or not 0 <= pitch <= 127:
                continue
            msgs.append((a, 1, int(pitch), int(min(127, max(1, vel)))))
            msgs.append((b, 0, int(pitch), 0))
        for t, kind, a_, b_ in controls:
            smp = int(round(t * self.sr / BLOCK)) * BLOCK
            if smp < n_samples:
                msgs.append((smp, -1 if kind == "cc" else -2, int(a_), int(b_)))
        # controls, then note-offs, then note-ons at the same sample
        msgs.sort(key=lambda m: (m[0], m[1], m[2]))
        out = np.zeros(n_samples, dtype=np.float32)
        pos = 0
        for smp, kind, pitch, vel in msgs:
            if smp >= n_samples:
                break  # the rest happens after the end of the stem
            if smp > pos:
                out[pos:smp] = self._render(smp - pos)
                pos = smp
            if kind == 1:
                s.noteon(chan, pitch, vel)
            elif kind == 0:
                s.noteoff(chan, pitch)
            elif kind == -1:
                s.cc(chan, pitch, max(0, min(127, vel)))
            else:
                s.pitch_bend(chan, max(-8192, min(8191, pitch)))
        if pos < n_samples:
            out[pos:] = self._render(n_samples - pos)
        if n_samples % BLOCK:  # keep FluidSynth's block grid aligned with sample 0 of the next stem
            self._render(BLOCK - n_samples % BLOCK)
        self._silence(chan)
        return out


_ENGINES: dict[tuple[str, int], SynthEngine] = {}


def get_engine(soundfont: str | Path | None = None, *, sr: int = SAMPLE_RATE) -> SynthEngine:
    """A per-process cached :class:`SynthEngine` for ``(soundfont, sr)``."""
    sf = check_soundfont(DEFAULT_SOUNDFONT if soundfont is None else soundfont)
    key = (str(sf.resolve()), int(sr))
    eng = _ENGINES.get(key)
    if eng is None:
        eng = _ENGINES[key] = SynthEngine(sf, sr=sr)
    return eng
