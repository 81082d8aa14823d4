"""The embedded everyday-sound corpus (the UrbanSound analogue of thesis §3.5), with exact frame truth.

Ten sound classes rendered with FluidSynth from the General MIDI sound-effect programs (120-127) and the
percussion kit, placed over noise and music backgrounds at random event-to-background ratios, in clips of
1-30 s (skewed towards short). Like UrbanSound, a clip holds one labelled class that occurs one or more
times; one clip in 12 holds a second class (so every split stays >= 90 % single-label, which the
clip-accuracy evaluation of thesis Table 3.7/3.8 asks for). Everything is deterministic from the seed.

The classes (their table, occurrences, and the rules of the truth and the levels) are in
:mod:`clip2frame.data.synth.everyday_classes`.

Layout written by :func:`render_everyday_corpus` (``clip2frame synth everyday --out DIR``)::

    DIR/metadata.json               labels (EVERYDAY_LABELS), kinds (short/medium/long), splits, durations,
                                    plus families, seed, hours, sample_rate, clips_per_split, soundfont,
                                    renderer_version, rules, classes (programs, keys, ranges),
                                    folds {filename: 1..K} when asked, label_agreement, complete
    DIR/<split>.weak.tsv            filename<TAB>comma-separated classes
    DIR/<split>.strong.tsv          filename<TAB>onset<TAB>offset<TAB>event_label
    DIR/audio/<split>/<clip_id>.wav 44.1 kHz (or 16 kHz) mono PCM16, clip_id = <split>_<index:05d>
    DIR/.synth-run.json             render settings, checked on resume

Splits ``train`` / ``validation`` / ``test`` (default 70/15/15 %). Resume: rerunning the same command
skips clips whose wav exists (wavs are written atomically); a partial manifest (``"complete": false``)
is rewritten every 25 clips.

Public API: :func:`render_everyday_corpus`, :func:`everyday_clip_spec`, :func:`render_everyday_clip`,
:func:`plan_everyday_clips`, :func:`clip_seconds_for`, :data:`EVERYDAY_CLASSES`, :data:`EVERYDAY_LABELS`,
:data:`EVERYDAY_KINDS`.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ...errors import ConfigError
from ...fileio import atomic_write_bytes
from ...timebase import frame_seconds
from ..manifest import Event, Manifest, load_manifest, write_manifest
from .compose import merge_spans, split_code
from .engine import BLOCK, DEFAULT_SOUNDFONT, NoteEvent, SynthEngine, check_soundfont, get_engine
from .everyday_classes import (BACKGROUND_DBFS, CLASS_BY_LABEL, CLIP_SECONDS, EBR_DB, EVERYDAY_CLASSES,
                               EVERYDAY_FAMILIES, EVERYDAY_KINDS, EVERYDAY_LABELS, HIT_HOLD_S, MERGE_GAP_S, RULES,
                               SECOND_CLASS_EVERY, EverydayClass)
from .mix import active_rms, coloured_noise, gate, label_agreement
from .driver import claim_output_dir, clip_id_for, drive, log_plan, records_to_clips, split_tasks, wav_bytes

log = logging.getLogger(__name__)

RENDERER_VERSION = "synth-everyday-1"
DEFAULT_PROPORTIONS: dict[str, float] = {"train": 0.70, "validation": 0.15, "test": 0.15}
SPLIT_ORDER = tuple(DEFAULT_PROPORTIONS)
SAMPLE_RATES = (44100, 16000)
AGREEMENT_FRAME_S = frame_seconds()  # label-vs-stem agreement frame (the model's input hop, 32 ms)
AGREEMENT_WARN = 0.9                 # a class whose mean agreement is lower is reported (log warning)
BACKGROUND_PROGRAMS = (0, 4, 19, 24, 48, 52, 89)   # piano, e-piano, organ, guitar, strings, choir, pad


# ------------------------------------------------------------------------------------------------ specs
@dataclass
class Source:
    """One class of a clip: its notes (seconds, on the block grid), its events and its level."""

    label: str
    program: int
    is_drum: bool
    notes: list[NoteEvent]
    events: list[tuple[float, float]]
    ebr_db: float
    fade_s: float


@dataclass
class EverydaySpec:
    """Everything needed to render one everyday clip deterministically."""

    clip_id: str
    split: str
    seed: int
    index: int
    duration_s: float
    sr: int
    soundfont: str
    sources: list[Source]
    background: dict = field(default_factory=dict)   # kind, colour, noise_seed, bg_dbfs, music_db, program, notes

    @property
    def tags(self) -> tuple[str, ...]:
        """The clip's tags: labels with at least one event, in ``EVERYDAY_LABELS`` order."""
        present = {s.label for s in self.sources if s.events}
        return tuple(lab for lab in EVERYDAY_LABELS if lab in present)

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event of the clip (seconds rounded to 1 ms), sorted by onset then label."""
        evs = [Event(round(a, 3), round(b, 3), s.label) for s in self.sources for a, b in s.events]
        return tuple(sorted(evs, key=lambda e: (e.onset, e.label)))

    def to_dict(self) -> dict:
        """The spec as a JSON-able dict (:func:`dataclasses.asdict`)."""
        return asdict(self)


def _rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, split_code(split), int(index), int(stream)])


def clip_seconds_for(split: str, index: int, *, seed: int) -> float:
    """Length of clip ``index`` of ``split``: log-uniform in [1, 30] s, rounded to 10 ms."""
    lo, hi = CLIP_SECONDS
    u = _rng(seed, split, index, 1).uniform(math.log(lo), math.log(hi))
    return float(min(hi, max(lo, round(math.exp(u), 2))))


def _grid(t: float, sr: int) -> float:
    """``t`` rounded to FluidSynth's 64-sample block grid (events take effect there)."""
    return round(t * sr / BLOCK) * BLOCK / sr


def _one_event(cls: EverydayClass, rng: np.random.Generator) -> tuple[float, list[tuple[float, float, int, int]]]:
    """Notes ``(on, off, pitch, velocity)`` of one event starting at 0, and its duration (to off + tail)."""
    vel = int(rng.integers(cls.velocity[0], cls.velocity[1] + 1))
    if cls.pattern == "held":
        d = float(rng.uniform(*cls.event_s))
        return d, [(0.0, d - cls.tail_s, int(rng.choice(cls.keys)), vel)]
    if cls.pattern == "hits":
        n = int(rng.integers(cls.count[0], cls.count[1] + 1))
        t, notes = 0.0, []
        for _ in range(n):
            v = int(np.clip(vel + rng.integers(-12, 13), 1, 127))
            notes.append((t, t + HIT_HOLD_S, int(rng.choice(cls.keys)), v))
            t += float(rng.uniform(*cls.spacing_s))
        return notes[-1][1] + cls.tail_s, notes
    if cls.pattern == "chain":
        d = float(rng.uniform(*cls.event_s))
        end_off = d - cls.tail_s
        t, notes = 0.0, []
        while True:
            # a note-off releases every voice of its key: no key twice while it is held
            held = [p for on, off, p, _ in notes if off > t]
            pitch = int(rng.choice([k for k in cls.keys if all(abs(k - h) > 2 for h in held)
                                    and (not notes or abs(k - notes[-1][2]) > 2)]))
            nxt = t + float(rng.uniform(*cls.spacing_s))
            if nxt > end_off - 0.1:  # the last note ends the event exactly
                notes.append((t, end_off, pitch, vel))
                break
            notes.append((t, t + float(rng.uniform(0.1, 0.4)), pitch, vel))
            t = nxt
        return d, notes
    raise ValueError(cls.pattern)  # pragma: no cover - the table holds only these


def _place(cls: EverydayClass, rng: np.random.Generator, duration_s: float, sr: int) -> tuple[list, list]:
    """Notes and events of ``cls`` in a clip of ``duration_s`` seconds (see the cut rule)."""
    n = int(rng.integers(cls.occurrences[0], cls.occurrences[1] + 1))
    made = [_one_event(cls, rng) for _ in range(n)]
    gaps = [float(rng.uniform(*cls.gap_s)) for _ in range(n - 1)]
    while len(made) > 1 and sum(d for d, _ in made) + sum(gaps[: len(made) - 1]) > duration_s:
        made.pop()
    total = sum(d for d, _ in made) + sum(gaps[: len(made) - 1])
    if total <= duration_s:
        start = float(rng.uniform(0.0, duration_s - total))
    elif cls.loops:
        start = float(rng.uniform(duration_s - total, 0.0))   # already sounding at the clip's start
    else:
        start = 0.0                                            # cut at the clip's end
    notes: list[NoteEvent] = []
    spans: list[tuple[float, float]] = []
    t = start
    for k, (d, ns) in enumerate(made):
        t0 = _grid(t, sr)
        ev_notes = []
        for on, off, pitch, vel in ns:
            a, b = _grid(max(0.0, t0 + on), sr), _grid(t0 + off, sr)
            if a >= duration_s or b <= a:
                continue
            ev_notes.append(NoteEvent(a, b, pitch, vel))
        if ev_notes:
            notes.extend(ev_notes)
            spans.extend((n_.onset, min(duration_s, _grid(n_.offset + cls.tail_s, sr))) for n_ in ev_notes)
        t += d + (gaps[k] if k < len(gaps) else 0.0)
    return notes, merge_spans(spans, MERGE_GAP_S)


def _background(rng: np.random.Generator, duration_s: float, sr: int) -> dict:
    kind = str(rng.choice(["noise", "music", "noise+music"], p=[0.4, 0.25, 0.35]))
    bg: dict[str, Any] = {
          "kind": kind, "colour": str(rng.choice(["pink", "brown"])), "noise_seed": int(rng.integers(2 ** 31)),
          "bg_dbfs": float(rng.uniform(*BACKGROUND_DBFS)), "music_db": float(rng.uniform(-10.0, 10.0)),
          "program": int(rng.choice(BACKGROUND_PROGRAMS)), "notes": []}
    if kind != "noise":
        tonic = int(rng.integers(12))
        minor = bool(rng.integers(2))
        scale = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
        t, vel = 0.0, int(rng.integers(40, 70))
        while t < duration_s:
            dur = float(rng.uniform(1.5, 3.0))
            deg = int(rng.integers(7))
            a, b = _grid(t, sr), _grid(min(duration_s + 0.5, t + dur), sr)
            for k in (0, 2, 4):
                pc = (tonic + scale[(deg + k) % 7]) % 12
                bg["notes"].append(NoteEvent(a, b, 48 + pc + (12 if k and pc < 6 else 0), vel))
            t += dur
    return bg


def everyday_clip_spec(split: str, index: int, *, seed: int, sr: int = 44100,
                       soundfont: str | Path | None = None, classes: Iterable[str] | None = None,
                       duration_s: float | None = None) -> EverydaySpec:
    """The spec of clip ``index`` of ``split`` in an everyday corpus rendered with ``seed``.

    Parameters
    ----------
    classes : labels, optional
        Force the clip's classes (in this order) instead of drawing one (or two); for tests and demos.
    duration_s : float, optional
        Force the clip length instead of :func:`clip_seconds_for`.
    """
    _check_sr(sr)
    L = clip_seconds_for(split, index, seed=seed) if duration_s is None else float(duration_s)
    if not (math.isfinite(L) and L > 0):
        raise ConfigError(f"duration_s: must be > 0, got {duration_s}")
    rng = _rng(seed, split, index, 2)
    if classes is None:
        k = 2 if index % SECOND_CLASS_EVERY == SECOND_CLASS_EVERY - 1 else 1
        labels = [EVERYDAY_LABELS[int(i)] for i in rng.choice(len(EVERYDAY_LABELS), size=k, replace=False)]
    else:
        labels = list(classes)
        bad = [c for c in labels if c not in CLASS_BY_LABEL]
        if bad or not labels:
            raise ConfigError(f"classes: unknown class '{bad[0] if bad else ''}' (expected some of "
                              f"{', '.join(EVERYDAY_LABELS)})")
    sources = []
    for lab in labels:
        cls = CLASS_BY_LABEL[lab]
        notes, spans = _place(cls, rng, L, sr)
        program = 0 if cls.is_drum or cls.program is None else int(cls.program)  # drums: channel 10
        sources.append(Source(lab, program, cls.is_drum, notes, spans,
                              float(rng.uniform(*EBR_DB)), cls.fade_s))
    sf = check_soundfont(DEFAULT_SOUNDFONT if soundfont is None else soundfont)
    return EverydaySpec(clip_id=clip_id_for(split, index), split=split, seed=int(seed), index=int(index),
                        duration_s=L, sr=int(sr), soundfont=str(sf), sources=sources,
                        background=_background(rng, L, sr))


# ---------------------------------------------------------------------------------------------- render
@dataclass
class RenderedEverydayClip:
    """A rendered everyday clip.

    Attributes
    ----------
    audio : np.ndarray, shape (N,), float32
        The mix (events + background), in [-1, 1].
    stems : {label: np.ndarray of shape (N,)}
        Each class as it is in the mix (gated, scaled).
    background : np.ndarray, shape (N,)
        The background as it is in the mix.
    """

    audio: np.ndarray
    stems: dict[str, np.ndarray]
    background: np.ndarray
    tags: tuple[str, ...]
    events: tuple[Event, ...]
    spec: EverydaySpec

    def agreement(self) -> dict[str, float]:
        """Label-vs-stem-energy agreement on 32-ms frames (:func:`~clip2frame.data.synth.mix.label_agreement`)."""
        hop = max(1, int(round(AGREEMENT_FRAME_S * self.spec.sr)))
        return label_agreement(self.stems, self.events, sr=self.spec.sr, hop=hop)


def render_everyday_clip(spec: EverydaySpec, *, engine: SynthEngine | None = None) -> RenderedEverydayClip:
    """Render one :class:`EverydaySpec` (deterministic: same spec → same samples)."""
    sr = spec.sr
    eng = engine if engine is not None else get_engine(spec.soundfont, sr=sr)
    n = int(round(spec.duration_s * sr))
    b = spec.background
    bg = np.zeros(n, dtype=np.float32)
    if b["kind"] != "music":
        bg += coloured_noise(n, b["colour"], np.random.default_rng(b["noise_seed"]))
    if b["kind"] != "noise" and b["notes"]:
        music = eng.render(b["notes"], program=b["program"], n_samples=n)
        r = active_rms(music)
        if r > 0:
            rel = 10 ** (b["music_db"] / 20) if b["kind"] == "noise+music" else 1.0
            bg += (music * (rel / r)).astype(np.float32)
    r_bg = float(np.sqrt(np.mean(np.square(bg, dtype=np.float64)))) if n else 0.0
    bg_rms = 10 ** (b["bg_dbfs"] / 20)
    if r_bg > 0:
        bg = (bg * (bg_rms / r_bg)).astype(np.float32)
    stems: dict[str, np.ndarray] = {}
    for src in spec.sources:
        if not src.events:
            continue
        x = eng.render(src.notes, program=src.program, n_samples=n, is_drum=src.is_drum)
        x = gate(x, src.events, sr=sr, fade_s=src.fade_s)
        r = active_rms(x)
        if r > 0:
            x = (x * (bg_rms * 10 ** (src.ebr_db / 20) / r)).astype(np.float32)
        stems[src.label] = x
    mix = bg.copy()
    for x in stems.values():
        mix += x
    peak = float(np.max(np.abs(mix))) if n else 0.0
    if peak > 0.99:
        g = np.float32(0.99 / peak)
        mix, bg = mix * g, bg * g
        stems = {k: v * g for k, v in stems.items()}
    return RenderedEverydayClip(mix.astype(np.float32), stems, bg, spec.tags, spec.events, spec)


# -------------------------------------------------------------------------------------- corpus level
def _check_sr(sr) -> None:
    if not isinstance(sr, (int, np.integer)) or int(sr) not in SAMPLE_RATES:
        raise ConfigError(f"sr: must be one of {', '.join(map(str, SAMPLE_RATES))} Hz, got {sr}")


def plan_everyday_clips(*, seed: int, n_clips: Mapping[str, int] | None = None,
                        hours: float | None = None) -> dict[str, int]:
    """Clips per split: ``n_clips`` as given, or as many as it takes to fill ``hours`` (70/15/15 %).

    With ``hours``, each split takes clips (of their seeded lengths) until its share is reached, at least one.
    """
    if (n_clips is None) == (hours is None):
        raise ConfigError("n_clips/hours: give exactly one of them")
    if n_clips is not None:
        if not isinstance(n_clips, Mapping) or not n_clips:
            raise ConfigError(f"n_clips: expected {{split: count}}, got {n_clips!r}")
        out = {}
        for s in SPLIT_ORDER:
            if s in n_clips:
                v = n_clips[s]
                if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                    raise ConfigError(f"n_clips: count of '{s}' must be an integer >= 0, got {v!r}")
                if v:
                    out[s] = int(v)
        bad = [s for s in n_clips if s not in DEFAULT_PROPORTIONS]
        if bad:
            raise ConfigError(f"n_clips: unknown split '{bad[0]}' (expected {', '.join(SPLIT_ORDER)})")
        if not out:
            raise ConfigError("n_clips: no clips asked for")
        return out
    if isinstance(hours, bool) or not (isinstance(hours, (int, float)) and math.isfinite(hours) and hours > 0):
        raise ConfigError(f"hours: must be a positive number, got {hours}")
    if hours > 1000:
        raise ConfigError(f"hours: at most 1000, got {hours}")
    out = {}
    for s, frac in DEFAULT_PROPORTIONS.items():
        goal, total, k = hours * 3600 * frac, 0.0, 0
        while total < goal or k == 0:
            total += clip_seconds_for(s, k, seed=seed)
            k += 1
        out[s] = k
    return out


def _render_task(task) -> dict:
    """Worker: build the spec, render + write the wav unless it exists, return the record as a dict."""
    split, index, cfg = task
    spec = everyday_clip_spec(split, index, seed=cfg["seed"], sr=cfg["sr"], soundfont=cfg["soundfont"])
    rel = f"audio/{split}/{spec.clip_id}.wav"
    path = Path(cfg["out_dir"]) / rel
    t0 = time.perf_counter()
    agreement = None
    rendered = not path.is_file()
    if rendered:
        clip = render_everyday_clip(spec)
        atomic_write_bytes(path, wav_bytes(clip.audio, spec.sr))
        agreement = clip.agreement()
    return {"split": split, "index": index, "clip_id": spec.clip_id, "filename": rel, "tags": list(spec.tags),
            "events": [(e.onset, e.offset, e.label) for e in spec.events], "duration": round(spec.duration_s, 4),
            "rendered": rendered, "seconds": time.perf_counter() - t0, "agreement": agreement,
            "background": spec.background["kind"]}


def _write(out_dir: Path, records: list[dict], extra: dict, complete: bool, folds: int | None) -> None:
    order = {s: i for i, s in enumerate(SPLIT_ORDER)}
    recs = sorted(records, key=lambda r: (order.get(r["split"], 99), r["index"]))
    clips = records_to_clips(out_dir, recs, SPLIT_ORDER)
    more: dict = {"complete": complete, "backgrounds": {r["filename"]: r["background"] for r in recs},
                  "label_agreement": _agreement_summary(recs),
                  "label_agreement_clips": {r["filename"]: {k: round(v, 4) for k, v in r["agreement"].items() if v == v}
                                            for r in recs if r.get("agreement")}}
    if folds:
        more["folds"] = {r["filename"]: 1 + r["index"] % folds for r in recs}
    write_manifest(out_dir, name="clip2frame-synth-everyday", labels=EVERYDAY_LABELS, kinds=EVERYDAY_KINDS,
                   clips=clips, extra={**extra, **more})


def _agreement_summary(records: list[dict]) -> dict:
    per: dict[str, list[float]] = {}
    for r in records:
        for k, v in (r.get("agreement") or {}).items():
            if k != "all" and v == v:
                per.setdefault(k, []).append(v)
    allv = [v for vs in per.values() for v in vs]
    return {"clips_measured": sum(1 for r in records if r.get("agreement")),
            "mean": round(float(np.mean(allv)), 4) if allv else None,
            "min": round(float(np.min(allv)), 4) if allv else None,
            "per_class": {k: round(float(np.mean(per[k])), 4) for k in EVERYDAY_LABELS if k in per}}


def render_everyday_corpus(out_dir: str | Path, *, n_clips: Mapping[str, int] | None = None,
                           hours: float | None = None, seed: int, jobs: int = 1, sr: int = 44100,
                           folds: int | None = None, soundfont: str | Path | None = None,
                           progress: bool = True) -> Manifest:
    """Render the embedded everyday-sound corpus into a manifest directory (see the module docstring).

    Parameters
    ----------
    out_dir : path
        Output manifest directory; an existing partial render with the same settings is resumed.
    n_clips : {split: count}, optional
        Clips per split (``train`` / ``validation`` / ``test``); or give ``hours``.
    hours : float, optional
        Total audio over all splits, 70/15/15 % train/validation/test.
    seed : int
        Everything (classes, notes, levels, backgrounds) follows from it: same seed → same audio bytes.
    jobs : int
        Worker processes (each with its own synth).
    sr : int
        44100 (the thesis' UrbanSound rate) or 16000.
    folds : int, optional
        Also assign every clip a fold 1..``folds`` (``metadata.json`` ``folds``, for cross-validation).
    soundfont : path, optional
        Default FluidR3_GM, on which the class timings were measured. Other SoundFonts have other sample
        lengths: TimGM6mb gives bird_tweet / telephone_ring events that are partly silent (agreement 0.81 /
        0.68); a class whose mean agreement falls below 0.9 is logged as a warning.

    Returns
    -------
    Manifest
        As read back by :func:`clip2frame.data.load_manifest`.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed: must be an integer, got {seed!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs: must be an integer >= 1, got {jobs!r}")
    _check_sr(sr)
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= 100):
        raise ConfigError(f"folds: must be an integer in 2..100, got {folds!r}")
    plan = plan_everyday_clips(seed=int(seed), n_clips=n_clips, hours=hours)
    sf = check_soundfont(DEFAULT_SOUNDFONT if soundfont is None else soundfont).resolve()
    out = Path(out_dir)
    signature = {"renderer": RENDERER_VERSION, "seed": int(seed), "sr": int(sr), "soundfont": str(sf)}
    claim_output_dir(out, signature)
    cfg = {"seed": int(seed), "sr": int(sr), "soundfont": str(sf), "out_dir": str(out)}
    extra = {
        "seed": int(seed), "hours": None if hours is None else float(hours), "sample_rate": int(sr),
        "clips_per_split": plan, "soundfont": sf.name, "soundfont_path": str(sf),
        "renderer_version": RENDERER_VERSION, "rules": RULES, "families": EVERYDAY_FAMILIES,
        "classes": {c.label: {"program": c.program, "keys": [min(c.keys), max(c.keys)] if c.program is not None
                              else list(c.keys), "pattern": c.pattern, "event_s": list(c.event_s),
                              "occurrences": list(c.occurrences), "tail_s": c.tail_s}
                    for c in EVERYDAY_CLASSES},
    }
    if folds:
        extra["n_folds"] = int(folds)
    old_agreement: dict = {}
    if (out / "metadata.json").is_file():  # resume: keep the measurements of clips rendered before
        try:
            old_agreement = dict(json.loads((out / "metadata.json").read_text(encoding="utf-8"))
                                 .get("label_agreement_clips", {}))
        except (OSError, json.JSONDecodeError, TypeError, ValueError):
            old_agreement = {}

    def restore(r: dict) -> None:
        if r["agreement"] is None and isinstance(old_agreement.get(r["filename"]), dict):
            r["agreement"] = old_agreement[r["filename"]]

    log_plan("everyday clips", plan, out, jobs)
    t0 = time.perf_counter()
    records = drive(split_tasks(plan, cfg), _render_task, jobs=jobs, desc="synth everyday", progress=progress,
                    checkpoint=lambda recs: _write(out, recs, extra, False, folds), on_record=restore)
    wall = time.perf_counter() - t0
    done = [r for r in records if r["rendered"]]
    if done:
        audio_s = sum(r["duration"] for r in done)
        log.info("rendered %d clips (%.0f s of audio) in %.1f s wall; %.0fx real time per process", len(done),
                 audio_s, wall, audio_s / max(sum(r["seconds"] for r in done), 1e-9))
    summary = _agreement_summary(records)
    low = {k: v for k, v in summary["per_class"].items() if v < AGREEMENT_WARN}
    if low:  # the class timings (pitch ranges vs one-shot sample lengths) are measured on FluidR3_GM
        log.warning("%s: label-vs-stem agreement below %.2f for %s with %s; the class timings are measured on "
                    "FluidR3_GM", out, AGREEMENT_WARN, ", ".join(f"{k} {v:.2f}" for k, v in low.items()), sf.name)
    _write(out, records, extra, True, folds)
    return load_manifest(out)
