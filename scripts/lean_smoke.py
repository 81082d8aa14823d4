"""Smoke test of the lean install, run by scripts/check_dist.sh with the lean venv's python (base deps only).

Checks, in a scratch folder: no optional package is importable (the venv really is lean); ``clip2frame tag``
on a generated 8-s WAV with the default model writes scores.tsv (15 tags, one row per 0.512-s frame,
probabilities in [0, 1]), events.tsv, failures.tsv and the event index; ``inspect --model default``,
``evaluate`` (on a 3-clip manifest written here), ``train``, ``thresholds`` and ``search`` run; ``serve``,
``inspect --plot`` and ``evaluate``'s event metrics each name the extra to install. Exits 1 with the failed
check's message.

    LEAN/bin/python scripts/lean_smoke.py WORKDIR
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
CLI = [sys.executable, "-m", "clip2frame"]


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"[lean] FAILED: {what}")
    print(f"[lean] ok: {what}", file=sys.stderr)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``clip2frame ARGS`` in this process (torch is imported once for every command) from ``cwd``."""
    from clip2frame.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(list(args))
            except SystemExit as e:  # argparse
                rc = e.code if isinstance(e.code, int) else 2
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["clip2frame", *args], rc, out.getvalue(), err.getvalue())


def cli_process(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m clip2frame ARGS`` in a new process: what a user sees on stderr, tracebacks included."""
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=300)


def wav(path: Path, seconds: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t) + 0.02 * rng.standard_normal(t.size)
    x[:: SR // 4] += 0.8  # clicks every 0.25 s
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(x, -1, 1).astype(np.float32), SR, subtype="PCM_16")
    return path


def main() -> None:
    work = Path(sys.argv[1]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    import clip2frame
    from clip2frame.extras import EXTRA_OF_MODULE
    from clip2frame.tags import MUSIC_TAGS

    check("site-packages" in clip2frame.__file__, f"clip2frame comes from the installed wheel ({clip2frame.__file__})")
    present = sorted(m for m in EXTRA_OF_MODULE if importlib.util.find_spec(m) is not None)
    check(not present, f"no optional package installed (found: {present or 'none'})")

    # tag: the default model on an 8-s WAV
    wav(work / "in" / "song.wav", 8.0, seed=0)
    r = cli("tag", "in/song.wav", "--out", "tags", "-q", "--device", "cpu", cwd=work)
    check(r.returncode == 0, f"clip2frame tag exits 0 (got {r.returncode}: {r.stderr.strip()[-500:]})")
    report = json.loads(r.stdout)
    check(report["tagged"] == 1 and report["failed"] == 0, f"one file tagged, none failed ({r.stdout[:300]})")
    lines = (work / "tags" / "song.scores.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    check(header == ["onset", "offset", *MUSIC_TAGS], f"scores.tsv header is onset, offset + 15 tags ({header})")
    rows = np.array([[float(v) for v in ln.split("\t")] for ln in lines[1:]])
    check(rows.shape == (math.ceil(8.0 / 0.512), 2 + len(MUSIC_TAGS)), f"one row per 0.512-s frame ({rows.shape})")
    check(bool(np.all((rows[:, 2:] >= 0) & (rows[:, 2:] <= 1))), "probabilities in [0, 1]")
    check(abs(rows[-1, 1] - 8.0) < 1e-3 and rows[0, 0] == 0.0, "frames span 0-8 s")
    ev = (work / "tags" / "song.events.tsv").read_text().splitlines()
    check(ev[0] == "filename\tonset\toffset\tevent_label", "events.tsv has the DCASE header")
    check((work / "tags" / "failures.tsv").read_text() == "path\terror\n", "failures.tsv lists no failure")
    check((work / "tags" / "index.sqlite").is_file(), "event index written")

    r = cli("inspect", "--model", "default", cwd=work)
    check(r.returncode == 0 and "piano" in r.stdout, f"clip2frame inspect default ({r.stderr.strip()[-300:]})")

    # evaluate: 3 clips of the embedded tags, scored without the 'eval' extra (frame/segment metrics)
    from clip2frame.data.manifest import ClipRecord, Event, write_manifest
    from clip2frame.tags import MUSIC_TAG_KINDS

    clips = [ClipRecord(f"c{i}", wav(work / "data" / "audio" / f"c{i}.wav", 6.0, seed=i + 1), ("piano",), "test",
                        (Event(1.0, 4.0, "piano"),), 6.0) for i in range(3)]
    write_manifest(work / "data", name="lean", labels=MUSIC_TAGS, kinds=dict(MUSIC_TAG_KINDS), clips=clips)
    r = cli("evaluate", "--data", "data", "--json", cwd=work)
    check(r.returncode == 0, f"clip2frame evaluate exits 0 ({r.stderr.strip()[-500:]})")
    check(math.isfinite(json.loads(r.stdout)["test"]["frame_micro_f1"]), "evaluate reports frame F1")
    check("clip2frame[eval]" in r.stderr, f"evaluate names the 'eval' extra for event metrics ({r.stderr.strip()})")

    # train (tiny preset, 1 epoch) and refit thresholds on the procedural toy corpus, then search the tags
    from clip2frame.data.toy import make_toy_corpus

    make_toy_corpus(work / "toy", n_clips={"train": 6, "validation": 2, "test": 2}, duration_s=3.0)
    r = cli("train", "--data", "toy", "--out", "run", "--preset", "tiny", "--set", "epochs=1", cwd=work)
    check(r.returncode == 0 and (work / "run" / "model.safetensors").is_file(),
          f"clip2frame train (tiny, 1 epoch) ({r.stderr.strip()[-300:]})")
    r = cli("thresholds", "--model", "run/model.safetensors", "--data", "toy", "--split", "validation",
            "--out", "refit.safetensors", cwd=work)
    check(r.returncode == 0 and (work / "refit.safetensors").is_file(), f"clip2frame thresholds ({r.stderr[-300:]})")
    r = cli("search", "tags", "piano", "--json", cwd=work)
    check(r.returncode == 0, f"clip2frame search ({r.stderr.strip()[-300:]})")

    # commands of an extra: one line naming it, exit 2, no traceback
    for args, extra in ((["serve", "tags"], "serve"), (["inspect", "--model", "default", "--plot", "s.png"], "plots")):
        r = cli_process(*args, cwd=work)
        err = r.stderr.strip()
        check(r.returncode == 2 and f"pip install 'clip2frame[{extra}]'" in err and "Traceback" not in err
              and len(err.splitlines()) == 1, f"`clip2frame {' '.join(args)}` names [{extra}] ({err[-300:]})")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
