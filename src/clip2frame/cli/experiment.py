"""``clip2frame experiment NAME [--seeds N]``: regenerate a thesis table, or decide one of the thesis' ten
findings over N seeds (mean ± 95% CI per cell, a paired test and a verdict per claim)."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError
from .flags import flag_help


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``experiment`` subcommand's parser (stdlib imports only)."""
    p = sub.add_parser(
        "experiment", help="regenerate a thesis table (3.1-3.8) or decide a thesis finding (1-10) over seeds",
        description="Train every row of a thesis table's grid (rows already trained are reused: resumable), "
                    "evaluate on the test (and shift) split and write <out>/table_X.csv and table_X.md with "
                    "the thesis' figures side by side. A finding (1-10, or its name: gaussian, multiscale, "
                    "stride, thresholds, scarce, everyday, sigma, targets, fusion, soundmodel) runs its rows for "
                    "--seeds N seeds under the thesis' protocol and writes <out>/finding_K.{md,csv,json}: mean ± "
                    "95%% CI per cell, a paired test and a verdict (holds / opposite / smaller than the thesis' effect / inconclusive) per "
                    "claim. 'experiment findings' runs all ten (or --only K,...) resumably: runs under --work, "
                    "reports and every run's small files under --out, the verdict table in "
                    "<out>/findings_table.md (and RESULTS.md with --results). --list shows every table and "
                    "finding; docs/EXPERIMENTS.md has the commands.",
    )
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="table numbers (3.3) or findings (1-10, F3, stride); several run in order")
    p.add_argument("--list", action="store_true", help="list the tables and findings and exit")
    p.add_argument("--seeds", type=int, help="run every row for N seeds (--seed, --seed+1, ...) and report mean ± "
                                             "95%% CI (findings: default 5; tables: default one seed, no CI)")
    p.add_argument("--data", help=flag_help("--data", "a manifest directory, or with --dataset a real dataset root"))
    p.add_argument("--dataset", help="reader for --data (magnatagatune, medleydb, urbansound, ...)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help=flag_help("--option", "for --dataset"))
    p.add_argument("--corpus", choices=["embedded", "everyday"],
                   help="render an embedded corpus once, shared by all recipes: 'embedded' = the music corpus "
                        "(<out>/corpus; Tables 3.1-3.6), 'everyday' = the everyday-sound corpus "
                        "(<out>/corpus-everyday; Tables 3.7-3.8)")
    p.add_argument("--hours", type=float, default=0.6, help=flag_help("--hours", "the embedded corpus (default 0.6)"))
    p.add_argument("--corpus-seed", type=int, default=0, help="seed of the embedded corpus (default 0)")
    p.add_argument("--jobs", type=int, default=1, help=flag_help("--jobs", "render processes (default 1)"))
    p.add_argument("--epochs", type=int, help=flag_help("--epochs", "at most, per row (default: the preset's)"))
    p.add_argument("--patience", type=int, help="early-stopping patience per row (findings: default 20, with "
                                                "--epochs the cap: default 200, 300 for finding 6)")
    p.add_argument("--seed", type=int, default=0, help=flag_help("--seed", "training seed of every row, or the "
                                                                           "first of --seeds (default 0)"))
    p.add_argument("--preset", help=flag_help("--preset", "the rows' base (Table 3.4 rows set their own)"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help=flag_help("--set", "a TrainConfig key, applied to every row"))
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="train only the rows whose table column has this value (repeatable; rows already "
                        "trained are still shown), e.g. --where 'Final pooling=Mean'")
    g = p.add_argument_group("evaluation protocol (default: 'legacy' for tables, 'thesis' for findings)")
    g.add_argument("--protocol", choices=("legacy", "thesis"),
                   help="thesis = up-sampled frame scoring, source-domain thresholds from whole clips, event "
                        "metrics, frame F1 over the thesis' 9 instruments beside all labels, runs trained until "
                        "flat (early stopping with --patience, --epochs the cap; best-on-validation kept)")
    g.add_argument("--frame-labels", choices=("all", "thesis9"),
                   help="thesis9: also score frames over the thesis' 9 instruments the dataset has")
    g.add_argument("--frame-scoring", choices=("model", "upsampled"),
                   help="score frames at the model's output rate, or up-sampled to 32-ms input frames")
    g.add_argument("--source-thresholds", choices=("clip320", "clips"),
                   help="Table 3.2 source-domain thresholds: 320-frame cuts, or whole clips vs clip tags")
    g.add_argument("--thresholds", choices=("model", "frame"),
                   help="thresholds of the evaluations: the run's own, or refitted on validation frame truth")
    g.add_argument("--threshold-floor", type=float, help="no threshold below this value (e.g. 0.02)")
    g.add_argument("--events", action=argparse.BooleanOptionalAction, default=None,
                   help="event-level metrics (segment F1, event F1, PSDS) beside the frame metrics")
    g.add_argument("--shift-split", default="shift", metavar="SPLIT",
                   help="the target-domain split the tables call 'shift' (default: shift; in a corpus of "
                        "`synth music --timbres random`, a held-out split such as heldout-musescore)")
    g.add_argument("--scarce-clips", type=int, default=40,
                   help="training clips of the scarce frame-supervised baseline (finding 5; default 40)")
    p.add_argument("--video-scale", choices=("quick", "demo"), default="demo",
                   help="findings 8-10: corpus and epoch budgets of 'demo --video --quick' or 'demo --video'")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="findings 8-10: CPU threads per video training (default: the recipe's 2); on a small "
                        "CPU run seeds as parallel processes with one thread each (--seed K --seeds 1)")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (findings 8-10; default 2000)")
    p.add_argument("--out", default="experiments", help=flag_help("--out", "a directory (default: experiments/)"))
    f = p.add_argument_group("experiment findings (the resumable driver of all ten)")
    f.add_argument("--only", default="", metavar="K,...", help="findings to run (default: all ten)")
    f.add_argument("--work", metavar="DIR", help="where the runs live (default: experiments/findings-work)")
    f.add_argument("--everyday-data", metavar="DIR", help="everyday-sound corpus of finding 6 (a manifest "
                                                          "directory); without it finding 6 is skipped")
    f.add_argument("--no-video", action="store_true", help="skip findings 8-10")
    f.add_argument("--results", metavar="FILE", help="replace the findings-table block of this RESULTS.md")
    p.add_argument("--progress", action="store_true", help="progress bars")
    p.set_defaults(handler=run)


DEFAULT_SEEDS = 5


def _driver(args, xr: ModuleType, run_findings) -> int:
    """``experiment findings``: all ten findings (``xr``: :mod:`clip2frame.experiments.runner`, ``run_findings``:
    :func:`clip2frame.experiments.findings_driver.run_findings`, both imported by :func:`run`)."""
    if not args.data:
        raise ConfigError("experiment findings: --data CORPUS (a manifest directory of the music corpus) is needed")
    out, work = Path(args.out), Path(args.work or "experiments/findings-work")
    n = args.seeds if args.seeds is not None else DEFAULT_SEEDS
    seeds = list(range(args.seed, args.seed + n))
    runners: dict = {}  # data -> its first Runner (manifest, splits, models shared)

    def runner_for(f, data=args.data):
        if data not in runners:
            runners[data] = xr.Runner(_settings(args, data, work, finding=f, xr=xr))
        r = runners[data]
        return xr.Runner(_settings(args, data, work, finding=f, xr=xr), _shared=(r.manifest, r._splits, r._models))

    everyday = (lambda f: runner_for(f, args.everyday_data)) if args.everyday_data else None
    video = None if args.no_video else {"quick": args.video_scale == "quick", "n_boot": args.boot,
                                        "threads": args.threads}
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    path = run_findings(keys, runner_for, out, work, seeds, everyday_runner=everyday, video=video,
                        results=Path(args.results) if args.results else None)
    print(f"findings table: {path}")
    return 0


def _settings(args, data, out, *, finding, xr: ModuleType):
    """The runner's ``Settings`` of the flags (``xr``: :mod:`clip2frame.experiments.runner`)."""
    thesis = (args.protocol or ("thesis" if finding is not None else "legacy")) == "thesis"
    proto = dict(xr.THESIS_PROTOCOL) if thesis else {}
    if finding is not None:
        proto.update(finding.protocol)
    for key in ("frame_scoring", "source_thresholds", "thresholds", "threshold_floor", "events", "frame_labels"):
        if getattr(args, key) is not None:
            proto[key] = getattr(args, key)
    training = tuple(xr.THESIS_TRAINING) if thesis else ()
    s = xr.Settings(data=str(data), out=out, epochs=args.epochs, patience=args.patience, seed=args.seed,
                 preset=args.preset, overrides=training + tuple(args.overrides), progress=args.progress,
                 where=tuple(tuple(w.split("=", 1)) for w in args.where if "=" in w),
                 scarce_clips=args.scarce_clips, shift_split=args.shift_split)
    return replace(s, **proto)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame experiment``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from ..experiments import runner as xr
    from ..experiments.findings import all_findings, find, run_finding, run_table_seeds
    from ..experiments.datasets import prepare_dataset, prepare_embedded, prepare_everyday
    from ..experiments.grids import get_recipe, list_recipes
    from ..experiments.findings_driver import run_findings
    from ..experiments.runner import Runner, run_recipe

    if args.list:
        for _, line in list_recipes():
            print(line)
        for fd in all_findings():
            print(f"Finding {fd.key} ({fd.name}, {fd.source}): {fd.title}")
        return 0
    if not args.names:
        raise ConfigError("experiment: give a table number or a finding (see 'clip2frame experiment --list')")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds: must be >= 1, got {args.seeds}")
    if args.names == ["findings"]:
        return _driver(args, xr, run_findings)
    found = [find(n) for n in args.names]
    video = [f for f in found if f is not None and f.recipe is None]
    # (finding or None, its recipe or the table's)
    audio = [(f, f.recipe if f is not None else get_recipe(n)) for n, f in zip(args.names, found)
             if f is None or f.recipe is not None]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_seeds = args.seeds if args.seeds is not None else (DEFAULT_SEEDS if any(found) else None)
    seeds = list(range(args.seed, args.seed + (n_seeds or 1)))
    if video:
        from ..experiments.video_findings import run_video_findings

        for path in run_video_findings(video, out, seeds, quick=args.video_scale == "quick", n_boot=args.boot,
                                       threads=args.threads):
            print(f"{path.stem}: {path}")
    if not audio:
        return 0
    if args.corpus:
        if args.data:
            raise ConfigError(f"experiment: give either --corpus {args.corpus} or --data, not both")
        needs = "music" if args.corpus == "embedded" else "urbansound"
        wrong = [r.name for _, r in audio if r is not None and r.needs != needs]
        if wrong:
            raise ConfigError(f"experiment: {wrong[0]} does not run on --corpus {args.corpus} (Tables 3.1-3.6 and "
                              f"findings 1-5, 7: --corpus embedded; 3.7-3.8 and finding 6: --corpus everyday)")
        prepare = prepare_embedded if args.corpus == "embedded" else prepare_everyday
        data = prepare(out, hours=args.hours, seed=args.corpus_seed, jobs=args.jobs, progress=args.progress)
    elif args.data:
        if args.dataset and args.dataset != "embedded":
            opts = dict(o.split("=", 1) for o in args.option if "=" in o)
            data = prepare_dataset(args.dataset, args.data, out, options=opts)
        else:
            data = Path(args.data)
    else:
        raise ConfigError("experiment: no data: give --corpus embedded or --data ROOT [--dataset NAME]")
    for f, r in audio:
        assert r is not None
        runner = Runner(_settings(args, data, out, finding=f, xr=xr))
        if f is not None:
            csv_path, md_path = run_finding(f, runner, seeds)
            print(f"Finding {f.key}: {csv_path} {md_path}")
        elif n_seeds is not None:
            csv_path, md_path = run_table_seeds(r, runner, seeds)
            print(f"Table {r.name} over {n_seeds} seeds: {csv_path} {md_path}")
        else:
            csv_path, md_path = run_recipe(r, runner)
            print(f"Table {r.name}: {csv_path} {md_path}")
    return 0
