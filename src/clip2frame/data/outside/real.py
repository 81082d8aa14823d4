"""Real recordings with frame truth (``clip2frame synth real``): recorded one-shots, patches, phrases and
loops sequenced into parts, truth from each part's energy in the mix. Evaluation only.

Each clip takes a held-out arrangement (:func:`~clip2frame.data.outside.parts.make_arrangement`, its own
seed stream) and plays every part with real recorded material of its tag (:data:`REAL_SOURCES`: freepats
GUS patches, lmms-common and sonic-pi-samples one-shots, phrases, loops and drum hits); untagged parts
(organ, choir, bells) come from :data:`REAL_OTHERS`. The parts are mixed without per-part effects
(levels as in :mod:`~clip2frame.data.outside.produce`, sometimes one part buried 15-25 dB under the lead,
bus compression and a limiter), folded to mono.

**Truth rule** (``TRUTH_FLOOR_DB``): a part is active in a 32-ms hop where its stem, as it sits in the
mix, has an RMS within 40 dB of the mix's active level (:func:`~clip2frame.data.outside.produce.active_level`);
active hops closer than 0.3 s merge, and a tag needs 1 s of events. Tempo tags are not labelled here
(phrases and loops keep their own tempo): ``fast``/``slow`` have no truth in this corpus.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DatasetError
from ...fileio import atomic_write_bytes
from ...tags import INSTRUMENT_FAMILY, INSTRUMENT_TAGS
from ...timebase import SAMPLE_RATE, frame_seconds
from ..manifest import ClipRecord, Event, Manifest, load_manifest, write_manifest
from ..synth.compose import MERGE_GAP_S, MIN_ACTIVE_S, merge_spans
from ..synth.driver import wav_bytes
from ..synth.timbres import EVAL_ONLY_RECORDINGS
from .arrange import OutsidePart
from .parts import make_arrangement
from .produce import active_level, draw_mix, mix_down
from .recorded import REAL_OTHERS, REAL_SOURCES, render_part, source_path

log = logging.getLogger(__name__)

RENDERER = "outside-real-1"
TRUTH_FLOOR_DB = -40.0
HOP_S = frame_seconds()  # the model's input hop, 32 ms
REAL_STREAM = 0x4EA1


def energy_truth(stem: np.ndarray, reference: float, sr: int, *, floor_db: float = TRUTH_FLOOR_DB
                 ) -> list[tuple[float, float]]:
    """Spans (s) where ``stem`` (shape (N,)) has hop RMS >= ``reference`` · 10^(floor_db/20), merged."""
    hop = int(round(HOP_S * sr))
    m = len(stem) // hop
    if m == 0 or reference <= 0:
        return []
    r = np.sqrt(np.mean(np.square(stem[: m * hop].reshape(m, hop), dtype=np.float64), axis=1))
    on = r >= reference * 10 ** (floor_db / 20)
    spans = [(i * HOP_S, (i + 1) * HOP_S) for i in np.flatnonzero(on)]
    return merge_spans(spans, MERGE_GAP_S)


def _entry_ok(entry) -> bool:
    p = source_path(entry[0], entry[1])
    return p.is_dir() if entry[2] == "kit" else p.is_file()


def real_clip(index: int, *, seed: int, clip_seconds: float = 30.0, sr: int = SAMPLE_RATE):
    """Render real clip ``index``: ``(audio (N,), tags, events, description)``."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, REAL_STREAM, int(index)])
    arr = make_arrangement(rng, duration_s=clip_seconds)
    n = int(round(clip_seconds * sr))
    stems: list[np.ndarray] = []
    names: list[OutsidePart] = []
    tags_of: list[str | None] = []
    used: list[str] = []
    for p in arr.parts:
        pool = REAL_OTHERS if p.tag is None else REAL_SOURCES[p.tag]
        pool = tuple(e for e in pool if _entry_ok(e))
        if not pool:
            continue
        entry = pool[int(rng.integers(len(pool)))]
        spans = merge_spans(p.spans(clip_seconds), 1.0)
        try:
            x = render_part(entry, p.notes, spans, n, sr, rng)
        except DatasetError as e:            # one unreadable file never kills the corpus
            log.warning("real clip %d: part %s skipped: %s", index, p.name, e)
            continue
        stems.append(x)
        names.append(p)
        tags_of.append(p.tag)
        used.append(f"{entry[0]}:{entry[1]}")
    plan = draw_mix(rng, names)
    for pp in plan["parts"]:
        pp["chain"] = []                       # real recordings: no per-part effects
    audio, placed = mix_down(stems, [[(0.0, clip_seconds)]] * len(stems), plan, sr)
    ref = active_level(audio, sr)
    per: dict[str, list[tuple[float, float]]] = {}
    for tag, y in zip(tags_of, placed):
        if tag is not None:
            per[tag] = merge_spans(per.get(tag, []) + energy_truth(y, ref, sr), MERGE_GAP_S)
    per = {t: s for t, s in per.items() if sum(b - a for a, b in s) >= MIN_ACTIVE_S}
    tags = tuple(t for t in INSTRUMENT_TAGS if t in per)
    events = tuple(sorted((Event(round(a, 3), round(b, 3), t) for t in tags for a, b in per[t]),
                          key=lambda e: (e.onset, e.label)))
    desc = {"genre": arr.genre, "bpm": round(arr.bpm, 2), "buried": plan["buried"],
            "parts": [{"name": p.name, "tag": p.tag, "role": p.role, "source": u, "level_db": pp["level_db"]}
                      for p, u, pp in zip(names, used, plan["parts"])]}
    return audio, tags, events, desc


def render_real_corpus(out_dir: str | Path, *, seed: int = 0, minutes: float = 32.0, clip_seconds: float = 30.0,
                       sr: int = SAMPLE_RATE) -> Manifest:
    """Write ``ceil(minutes·60 / clip_seconds)`` real clips (split ``real``) with energy-based frame truth."""
    if not (minutes > 0 and clip_seconds > 1):
        raise ConfigError("synth real: --minutes must be > 0 and --clip-seconds > 1")
    missing = [k for k, p in EVAL_ONLY_RECORDINGS.items() if not p.is_dir()]
    if missing:
        raise ConfigError(f"synth real: {', '.join(missing)} not installed (apt-get install {' '.join(missing)})")
    out = Path(out_dir)
    n_clips = int(np.ceil(minutes * 60 / clip_seconds))
    clips: list[ClipRecord] = []
    described: dict[str, dict] = {}
    for i in range(n_clips):
        cid = f"real_{i:04d}"
        rel = f"audio/real/{cid}.wav"
        audio, tags, events, desc = real_clip(i, seed=seed, clip_seconds=clip_seconds, sr=sr)
        if not (out / rel).is_file():
            atomic_write_bytes(out / rel, wav_bytes(audio, sr))
        clips.append(ClipRecord(cid, out / rel, tags, "real", events, duration=clip_seconds))
        described[cid] = desc
        log.info("real %d/%d %s", i + 1, n_clips, ",".join(tags))
    covered = sorted({t for c in clips for t in c.tags}, key=INSTRUMENT_TAGS.index)
    extra = {"renderer": RENDERER, "evaluation_only": True, "seed": seed, "sample_rate": sr,
             "packages": {k: str(v) for k, v in EVAL_ONLY_RECORDINGS.items()}, "clips_described": described,
             "covered_tags": covered, "families": {t: INSTRUMENT_FAMILY[t] for t in covered},
             "rules": {"truth": f"a part is active in a {HOP_S * 1000:.0f}-ms hop where its stem as mixed has RMS "
                                f">= the mix's active level {TRUTH_FLOOR_DB:+.0f} dB; hops closer than "
                                f"{MERGE_GAP_S} s merge; a tag needs {MIN_ACTIVE_S} s",
                       "tempo": "not labelled (fast/slow have no truth here)"}}
    write_manifest(out, name="outside-real", labels=INSTRUMENT_TAGS, kinds=dict(INSTRUMENT_FAMILY), clips=clips,
                   extra=extra)
    return load_manifest(out)
