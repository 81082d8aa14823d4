"""Music corpus renderer: x real time per process and label-vs-stem-energy agreement.

    .venv/bin/python benchmarks/bench_synth.py                 # 8 clips of 29.1 s per split (train, shift)
    .venv/bin/python benchmarks/bench_synth.py --clips 20 --corpus-hours 0.1 --jobs 2
    .venv/bin/python benchmarks/bench_synth.py --timbres random --splits train,heldout-musescore,heldout-recorded

Per split it times :func:`render_clip` on pre-built specs (synth warm, corpus notes cached; the spec
time is printed apart) and reports x real time = audio seconds / render seconds of one process (wall and
CPU). Agreement is the fraction of (instrument, frame) pairs where "label active" (frame centre inside an
event) equals "stem energy > threshold re the stem's loudest frame", at hop 512 (model input frames) and
8192 (0.512-s model output frames), on the stems as mixed (gated to their events) and, for reference, on
the raw FluidSynth stems before the gate. ``--corpus-hours`` also runs the whole corpus pipeline (specs,
render, wav writing, manifest) with ``--jobs`` processes into a temp folder.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import print_machine_info  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8, help="clips per split")
    ap.add_argument("--clip-seconds", type=float, default=29.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--splits", default="train,shift")
    ap.add_argument("--threshold-db", type=float, default=-60.0)
    ap.add_argument("--corpus-hours", type=float, default=0.0, help="also render a corpus of this size")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--timbres", choices=("fixed", "random"), default="fixed",
                    help="renderer synth-music-3 (fixed) or synth-music-4 (random: timbre pools, effects)")
    args = ap.parse_args(argv)

    from clip2frame.data.synth import compose, label_agreement, render_clip, render_music_corpus
    from clip2frame.data.synth.engine import get_engine
    from clip2frame.data.synth.render import RENDERER_V4, RENDERER_VERSION, corpus_clip_spec, varied_clip_spec
    from clip2frame.data.synth.sources import stem_renderer

    info = print_machine_info()
    random = args.timbres == "random"
    print(f"# renderer {RENDERER_V4 if random else RENDERER_VERSION}; {args.clips} clips x {args.clip_seconds} s per split; "
          f"threshold {args.threshold_db} dB re stem peak")
    if (info.get("load_avg_1m") or 0) > (info.get("cores_usable") or 1):
        print("# note: the machine is loaded (load average > usable cores): timings are pessimistic")
    for split in [s for s in args.splits.split(",") if s]:
        t0 = time.perf_counter()
        make = varied_clip_spec if random else corpus_clip_spec
        specs = [make(split, i, seed=args.seed, clip_seconds=args.clip_seconds,
                      cache_dir=args.cache_dir) for i in range(args.clips)]
        spec_s = time.perf_counter() - t0
        eng = None if random else get_engine(specs[0].soundfont, sr=specs[0].sr)
        for spec in specs:  # warm-up (sample and soundfont loading, caches): not part of the timing
            render_clip(spec, engine=eng)
            if not random:
                break
        wall = cpu = 0.0
        agree = {512: [0, 0], 8192: [0, 0]}
        raw_agree = [0, 0]
        per_tag: dict[str, list[float]] = {}
        n_inst = 0
        for spec in specs:
            w0, c0 = time.perf_counter(), time.process_time()
            clip = render_clip(spec, engine=eng)
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
            n_inst += len(clip.stems)
            for hop in agree:
                a = label_agreement(clip.stems, clip.events, sr=spec.sr, hop=hop, threshold_db=args.threshold_db)
                n = sum(len(x) // hop for x in clip.stems.values())
                agree[hop][0] += a["all"] * n
                agree[hop][1] += n
                if hop == 512:
                    for t, v in a.items():
                        if t != "all":
                            per_tag.setdefault(t, []).append(v)
            n = int(round(spec.duration_s * spec.sr))
            raw = {p.tag: (eng if p.source is None else stem_renderer(p.source, sr=spec.sr)).render(
                       p.notes, program=p.program, n_samples=n, is_drum=p.is_drum, controls=p.controls)
                   for p in spec.parts if p.tag in clip.stems}
            a = label_agreement(raw, clip.events, sr=spec.sr, hop=512, threshold_db=args.threshold_db)
            m = sum(len(x) // 512 for x in raw.values())
            raw_agree[0] += a["all"] * m
            raw_agree[1] += m
        audio_s = sum(s.duration_s for s in specs)
        where = "timbre pools" if random else Path(specs[0].soundfont).name
        print(f"\n## split {split} ({where}, {n_inst / len(specs):.1f} instruments/clip)")
        print(f"spec (corpus cached after first use): {spec_s:.2f} s for {len(specs)} clips")
        print(f"render: {audio_s:.0f} s audio in {wall:.2f} s wall / {cpu:.2f} s CPU -> "
              f"{audio_s / wall:.0f}x real time per process (wall), {audio_s / cpu:.0f}x (CPU)")
        print(f"agreement hop 512: {agree[512][0] / agree[512][1]:.4f}   hop 8192 (0.512 s): "
              f"{agree[8192][0] / agree[8192][1]:.4f}   raw stems before gate (hop 512): "
              f"{raw_agree[0] / raw_agree[1]:.4f}")
        print("per instrument (hop 512): " + ", ".join(
            f"{t} {np.mean(v):.3f}" for t, v in sorted(per_tag.items(), key=lambda kv: np.mean(kv[1]))))
    if args.corpus_hours > 0:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            man = render_music_corpus(Path(tmp) / "m", hours=args.corpus_hours, seed=args.seed, jobs=args.jobs,
                                      clip_seconds=args.clip_seconds, cache_dir=args.cache_dir, progress=False,
                                      timbres=args.timbres)
            wall = time.perf_counter() - t0
        audio_s = sum(c.duration or 0 for c in man.clips)
        print(f"\n## corpus: {len(man.clips)} clips, {audio_s / 3600:.3f} h in {wall:.1f} s wall with {args.jobs} "
              f"job(s) -> {audio_s / wall:.0f}x real time overall, {audio_s / wall / args.jobs:.0f}x per process "
              "(start-up, corpus parsing and wav writing included)")
    print(f"\nrules: {compose.RULES['release_tail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
