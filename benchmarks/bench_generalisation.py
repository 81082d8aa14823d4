"""Generalisation benchmark: a model on held-in and held-out timbres, beside the oracle, "always on" and musicnn.

On a timbre-randomised corpus (``clip2frame synth music --timbres random``; renderer synth-music-4) it
scores, per split and per tag, in one run:

* the model under test (default: the packaged default model) — frame macro/micro ROC-AUC, frame F1 at its
  own thresholds, the all-positive baseline, its lowest threshold, and the share of frames it marks active
  in clips where the tag is absent (the "detected everywhere" failure); segment F1 (1-s segments, micro
  and macro), event F1 (1-s onset collar, macro) and PSDS (scenario 1) from the evaluation protocol;
* ``--oracle``: a frame-supervised model, scored the same way;
* ``--musicnn-python``: musicnn (MTT_musicnn, 3-s patches at a 0.5-s hop) run on the same files in its
  own virtual environment (``bash scripts/setup_musicnn.sh``), frame ROC-AUC on the tags it shares with
  ours (its ``guitar`` scores stand for each of our three guitar tags), next to the model's on the same
  tags and frames.

Splits: ``test`` (held-in timbres, unseen works), ``heldout-musescore`` and ``heldout-timgm`` (the same
unseen scores rendered with the held-out soundfonts), ``heldout-recorded`` (held-out recorded drum kit and
piano), ``degraded`` (the MuseScore renders through a room, a codec and noise).

Axes outside the training renderer (issue #24; corpora from ``clip2frame synth outside|real|nonmusic``,
evaluation only), each per tag with the always-on baseline, the oracle and musicnn when given:

* ``--outside DIR``: held-out arrangements and production (a second generator and producer) rendered with
  MuseScore General and TimGM6mb: its ``test`` split pooled and per soundfont, and the *renderer gap*
  (held-in ``test`` of ``--data`` minus this axis);
* ``--real DIR``: real recorded samples sequenced into parts, truth from stem energy (macro over the tags
  with truth; tempo tags have none there);
* ``--nonmusic DIR``: silence, noise, hum, speech, applause, everyday sounds, tones, sweeps: the share of
  frames with any instrument detection, per non-music family and instrument family, and which tags fire.

    .venv/bin/python benchmarks/bench_generalisation.py --data CORPUS [--model default] \\
        [--oracle runs/oracle/model.safetensors] [--musicnn-python .venv-musicnn/bin/python] \\
        [--splits test,heldout-musescore,...] [--max-clips N] [--json out.json] \\
        [--outside DIR] [--real DIR] [--nonmusic DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import print_machine_info  # noqa: E402

SPLITS = ("test", "heldout-musescore", "heldout-timgm", "heldout-recorded", "degraded")
MUSICNN_TAG = {"piano": "piano", "acoustic guitar": "guitar", "clean electric guitar": "guitar",
               "distorted electric guitar": "guitar", "drums": "drums", "violin": "violin", "cello": "cello",
               "flute": "flute", "synthesizer": "synth", "fast": "fast", "slow": "slow"}
EVENT_KEYS = ("segment_f1", "segment_macro_f1", "event_f1_macro", "psds")


def _score_model(tagger, manifest, split, work: Path, max_clips: int):
    import numpy as np

    from clip2frame.eval.protocol import evaluate_split, frame_truth_at, split_outputs
    from clip2frame.train.data import load_split

    data = load_split(manifest, split, tagger.feature_spec, tagger.labels, total_stride=tagger.total_stride,
                      run_dir=work, max_clips=max_clips, progress=False)
    scores = evaluate_split(tagger.net, tagger.standardizer, data, tagger.labels, tagger.thresholds,
                            spec=tagger.feature_spec, events=True)
    _, frames = split_outputs(tagger.net, tagger.standardizer, data)
    truth = frame_truth_at(data, tagger.labels, frames, tagger.frame_seconds)
    # share of frames marked active in clips where the tag is absent, per tag
    absent_on = {}
    for k, lab in enumerate(tagger.labels):
        on = [float((fr[:, k] >= tagger.thresholds[k]).mean()) for fr, y in zip(frames, data.clip_labels)
              if not y[k]]
        absent_on[lab] = float(np.mean(on)) if on else float("nan")
    return data, frames, truth, scores, absent_on


def _musicnn_scores(python: str, paths: list[Path], work: Path) -> list:
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)
    lst = work / "musicnn_files.txt"
    lst.write_text("\n".join(str(p) for p in paths))
    out = work / "musicnn"
    runner = Path(__file__).resolve().parent / "musicnn_runner.py"
    # musicnn prints a line per file on stdout: keep it off this script's table
    subprocess.run([python, str(runner), str(lst), str(out), "--hop", "0.5"], check=True, stdout=sys.stderr)
    from musicnn_runner import cache_key

    return [np.load(out / f"{cache_key(p, 0.5)}.npz") for p in paths]


def _musicnn_on_grid(res, n_frames: int, frame_s: float, tag: str):
    import numpy as np

    tags = [str(t) for t in res["tags"]]
    tg = res["taggram"][:, tags.index(tag)]
    centres = (np.arange(n_frames) + 0.5) * frame_s
    p = np.clip(np.round((centres - float(res["patch_s"]) / 2) / float(res["hop_s"])), 0, len(tg) - 1).astype(int)
    return tg[p]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="a synth-music-4 corpus directory (its test split is the "
                    "held-in reference of the renderer gap)")
    ap.add_argument("--outside", default=None, help="a `clip2frame synth outside` corpus")
    ap.add_argument("--real", default=None, help="a `clip2frame synth real` corpus")
    ap.add_argument("--nonmusic", default=None, help="a `clip2frame synth nonmusic` corpus")
    ap.add_argument("--model", default="default")
    ap.add_argument("--oracle", default=None, help="a frame-supervised model file")
    ap.add_argument("--musicnn-python", default=None, help="python of the musicnn venv")
    ap.add_argument("--splits", default=",".join(SPLITS))
    ap.add_argument("--max-clips", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--work", default=None, help="keep features and musicnn outputs in this directory (a rerun "
                    "resumes from it) instead of a temporary one")
    args = ap.parse_args(argv)

    import numpy as np

    from clip2frame.data.manifest import load_manifest
    from clip2frame.eval.metrics import frame_auc
    from clip2frame.models.io import load_model

    print_machine_info()
    if not (args.data or args.outside or args.real or args.nonmusic):
        ap.error("give --data and/or --outside/--real/--nonmusic")
    man = load_manifest(args.data) if args.data else None
    splits = [s for s in args.splits.split(",") if man is not None and s in man.splits]
    models = {"model": load_model(args.model)}
    if args.oracle:
        models["oracle"] = load_model(args.oracle)
    results: dict = {"data": str(args.data), "model": str(args.model), "splits": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        if args.outside or args.real or args.nonmusic:
            results["axes"] = _outside_axes(args, man, models, work)
        for split in splits:
            res: dict = {}
            for name, tagger in models.items():
                data, frames, truth, scores, absent_on = _score_model(tagger, man, split, work, args.max_clips)
                res[name] = {**scores, "min_threshold": float(np.min(tagger.thresholds)),
                             **{f"absent_active/{k}": v for k, v in absent_on.items()}}
                if name == "model":
                    kept = (data, frames, truth, tagger)
            if args.musicnn_python:
                data, frames, truth, tagger = kept
                clips = {c.clip_id: c for c in man.split(split)}
                mres = _musicnn_scores(args.musicnn_python, [clips[i].audio_path for i in data.clip_ids],
                                       work / split)
                shared = [t for t in tagger.labels if t in MUSICNN_TAG]
                y = np.concatenate(truth)[:, [tagger.labels.index(t) for t in shared]]
                s_ours = np.concatenate(frames)[:, [tagger.labels.index(t) for t in shared]]
                s_mn = np.concatenate([np.stack([_musicnn_on_grid(r, fr.shape[0], tagger.frame_seconds,
                                                                  MUSICNN_TAG[t]) for t in shared], axis=1)
                                       for r, fr in zip(mres, frames)])
                a_ours, a_mn = frame_auc(y, s_ours), frame_auc(y, s_mn)
                res["musicnn"] = {"shared_tags": shared, "frame_auc": a_mn["auc"],
                                  "model_frame_auc_on_shared": a_ours["auc"],
                                  **{f"frame_auc/{t}": float(v) for t, v in zip(shared, a_mn["auc_values"])}}
            results["splits"][split] = res
            _print_split(split, res, models["model"].labels)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def _outside_axes(args, heldin_man, models, work: Path) -> dict:
    """The issue-#24 axes (see the module docstring); printed as it goes, returned for the JSON."""
    import _outside_axes as ax

    from clip2frame.data.manifest import load_manifest

    labels = models["model"].labels
    out: dict = {}
    todo: list = []
    if args.outside:
        om = load_manifest(args.outside)
        todo += [(name, sub, sub.splits[0]) for name, sub in ax.outside_splits(om).items()]
        if heldin_man is not None and "test" in heldin_man.splits:
            todo.insert(0, ("heldin-test", heldin_man, "test"))
    if args.real:
        todo.append(("real", load_manifest(args.real), "real"))
    nm = load_manifest(args.nonmusic) if args.nonmusic else None
    mn_of: dict = {}
    if args.musicnn_python:   # one musicnn run over every file of every axis (its start-up is slow)
        paths = list(dict.fromkeys([c.audio_path for _, m, split in todo for c in m.split(split)[:args.max_clips or None]]
                                   + [c.audio_path for c in (nm.split("nonmusic") if nm else [])][:args.max_clips or None]))
        mn_of = dict(zip(paths, _musicnn_scores(args.musicnn_python, paths, work / "musicnn-all")))
    for name, m, split in todo:
        res: dict = {}
        for who, tagger in models.items():
            data, frames = ax.frames_of(tagger, m, split, work / who, args.max_clips)
            res[who], truth = ax.score_axis(tagger, data, frames, m.labels)
            if who == "model":
                kept = (data, frames, truth)
        if args.musicnn_python:
            data, frames, truth = kept
            clips = {c.clip_id: c for c in m.split(split)}
            mres = [mn_of[clips[i].audio_path] for i in data.clip_ids]
            res["musicnn"] = ax.musicnn_axis(mres, frames, truth, models["model"], MUSICNN_TAG, _musicnn_on_grid,
                                             res["model"]["labels_scored"])
        out[name] = res
        ax.print_axis(name, res, labels)
    gaps = {name: ax.renderer_gap(out["heldin-test"]["model"], out[name]["model"], labels)
            for name in out if name.startswith("outside-test") and "heldin-test" in out}
    if gaps:
        out["renderer_gap"] = gaps
        ax.print_gap(gaps, labels)
    if nm is not None:
        data, frames = ax.frames_of(models["model"], nm, "nonmusic", work / "model", args.max_clips)
        mres = None
        if args.musicnn_python:
            clips = {c.clip_id: c for c in nm.split("nonmusic")}
            mres = [mn_of[clips[i].audio_path] for i in data.clip_ids]
        out["nonmusic"] = ax.nonmusic_axis(nm, data, frames, models["model"], mres, MUSICNN_TAG, _musicnn_on_grid)
        ax.print_nonmusic(out["nonmusic"], labels)
    return out


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else f"{v:.3f}"


def _print_split(split: str, res: dict, labels: list[str]) -> None:
    m = res["model"]
    print(f"\n## {split}\n")
    print("| | frame macro-AUC | frame micro-AUC | macro-F1 (own thr.) | micro-F1 | all-positive macro-F1 | "
          + " | ".join(EVENT_KEYS) + " | min thr. |")
    print("|---" * (7 + len(EVENT_KEYS)) + "|")
    for name in ("model", "oracle"):
        if name in res:
            r = res[name]
            print(f"| {name} | {_fmt(r.get('frame_auc'))} | {_fmt(r.get('frame_micro_auc'))} | "
                  f"{_fmt(r.get('frame_macro_f1'))} | {_fmt(r.get('frame_micro_f1'))} | "
                  f"{_fmt(r.get('baseline_macro_f1'))} | " + " | ".join(_fmt(r.get(k)) for k in EVENT_KEYS)
                  + f" | {_fmt(r.get('min_threshold'))} |")
    mn = res.get("musicnn")
    if mn:
        print(f"| musicnn ({len(mn['shared_tags'])} shared tags) | {_fmt(mn['frame_auc'])} | | | | | "
              + " | ".join("" for _ in EVENT_KEYS) + " | |")
        print(f"| model on the same tags | {_fmt(mn['model_frame_auc_on_shared'])} | | | | | "
              + " | ".join("" for _ in EVENT_KEYS) + " | |")
    print("\n| tag | AUC | F1 | absent-clip frames active | oracle AUC | musicnn AUC |\n|---|---|---|---|---|---|")
    for t in labels:
        o = res.get("oracle", {})
        print(f"| {t} | {_fmt(m.get(f'frame_auc/{t}'))} | {_fmt(m.get(f'frame_f1/{t}'))} | "
              f"{_fmt(m.get(f'absent_active/{t}'))} | {_fmt(o.get(f'frame_auc/{t}'))} | "
              f"{_fmt((mn or {}).get(f'frame_auc/{t}'))} |")


if __name__ == "__main__":
    sys.exit(main())
