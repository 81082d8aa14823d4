"""Byte-identity check of a refactoring: run the same small workload on two source trees, compare outputs.

Workload (through the command line only, so it does not depend on module paths):

1. ``clip2frame video synth`` — a 2-video corpus of 4 s each (rendering);
2. ``clip2frame detect`` of those videos with the packaged models (events, scores, heat maps, NPZ, JAMS,
   overlay; inference);
3. ``clip2frame demo --video --quick`` (corpus, training, evaluation, report: the video demo's quick path);
4. the music path: ``clip2frame demo --quick`` (render, train, evaluate, report), ``clip2frame synth music``
   (a few clips), ``clip2frame tag`` of them in every format, ``clip2frame index`` and ``clip2frame search``
   (its JSON answer kept as a file; the SQLite file itself is left out: its pages carry insertion order and
   times, not results).

Usage::

    python scripts/check_identical.py run SRC OUT      # run the workload with PYTHONPATH=SRC into OUT
    python scripts/check_identical.py compare OUT_A OUT_B

``run`` writes ``OUT/manifest.json``: the sha256 of every file written (path relative to OUT). Files whose
contents carry a wall-clock time or run duration (model provenance ``created`` and the packaged model's absolute path, timing lines) are compared
after those fields are masked (and the wall-clock columns of CSV files, e.g. ``metrics.csv``'s ``seconds``,
and the per-epoch ``seconds`` of a ``train_state.pt``, compared by its tensors and values);
the masks are printed with the comparison so they can be judged. ``compare`` recomputes the digests from
``OUT/work`` when it is there, exits 1 when a file differs or exists on one side only, and prints each
such file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

#: Volatile text: provenance timestamps, durations in seconds / minutes; one renamed module path.
_MASKS = [
    (re.compile(rb'"created": ?"[^"]*"'), b'"created": "<masked>"'),
    (re.compile(rb'\\"created\\": ?\\"[^"\\]*\\"'), b'\\"created\\": \\"<masked>\\"'),
    (re.compile(rb'"(wall_s|seconds|elapsed_s|duration_s|time_s|train_s|render_s)": ?[0-9.eE+-]+'),
     rb'"\1": <masked>'),
    (re.compile(rb"[0-9]+(\.[0-9]+)? ?(s|min) (wall|elapsed)"), b"<masked> wall"),
    (re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), b"<timestamp>"),
    # the video demo's wall-clock timings: demo.json "timings", report.md "## Timings (s)" and "total N min"
    (re.compile(rb'"timings(_s)?": ?\{[^}]*\}'), b'"timings": <masked>'),
    (re.compile(rb"Timings: [^\n]*"), b"Timings: <masked>"),   # the music demo's report
    # the packaged model's absolute path in provenance (the source tree the run used)
    (re.compile(rb'"[^"]*/clip2frame/assets/'), b'"<package>/clip2frame/assets/'),
    (re.compile(rb'\\"[^"\\]*/clip2frame/assets/'), b'\\"<package>/clip2frame/assets/'),
    (re.compile(rb"## Timings \(s\)\n(\n|\* [^\n]*\n)*"), b"## Timings (s) <masked>\n"),
    (re.compile(rb"total [0-9.]+ min"), b"total <masked> min"),
    # the video demo's report names the corpus' module, which issue #26 moved (video.synth -> video.rendering)
    (re.compile(rb"clip2frame\.video\.(synth|rendering)\b"), b"clip2frame.video.<corpus module>"),
]
#: Binary containers whose members may hold timestamps; compared as a whole after the metadata mask.
_MASKED_SUFFIXES = {".json", ".yaml", ".yml", ".md", ".txt", ".csv", ".tsv", ".jams", ".safetensors", ".log"}


#: CSV columns of wall-clock time (a trainer's ``metrics.csv``: seconds per epoch).
_TIME_COLUMNS = {"seconds", "wall_s", "elapsed_s"}


def _mask_csv(data: bytes) -> bytes:
    lines = data.split(b"\n")
    cols = [i for i, name in enumerate(lines[0].split(b",")) if name.decode(errors="replace").strip() in _TIME_COLUMNS]
    if not cols:
        return data
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(b",")
        for i in cols:
            if i < len(cells):
                cells[i] = b"<masked>"
        out.append(b",".join(cells))
    return b"\n".join(out)


def _canonical_state(path: Path) -> bytes:
    """A trainer's ``train_state.pt`` as bytes with the epochs' wall-clock ``seconds`` left out: tensors by
    their values, everything else by its repr, keys sorted."""
    import torch

    def canon(x, out: list) -> None:
        if isinstance(x, dict):
            for k in sorted(x, key=str):
                if k != "seconds":
                    out.append(repr(k).encode())
                    canon(x[k], out)
        elif isinstance(x, (list, tuple)):
            out.append(b"[")
            for v in x:
                canon(v, out)
            out.append(b"]")
        elif torch.is_tensor(x):
            out.append(str((x.dtype, tuple(x.shape))).encode() + x.detach().cpu().contiguous().numpy().tobytes())
        else:
            out.append(repr(x).encode())

    parts: list = []
    canon(torch.load(path, map_location="cpu", weights_only=False), parts)
    return b"\0".join(parts)


def _canonical_npz(path: Path) -> bytes:
    """An NPZ's arrays by name and value, its text arrays (e.g. ``provenance``) through the masks."""
    import numpy as np

    parts = []
    with np.load(path, allow_pickle=False) as z:
        for name in sorted(z.files):
            a = z[name]
            data = str(a).encode() if a.dtype.kind in "US" else a.tobytes()
            if a.dtype.kind in "US":
                for pat, rep in _MASKS:
                    data = pat.sub(rep, data)
            parts.append(name.encode() + str((a.dtype.kind if a.dtype.kind in "US" else a.dtype.str, a.shape)).encode()
                         + data)
    return b"\0".join(parts)


def _digest(path: Path) -> str:
    data = (_canonical_state(path) if path.suffix == ".pt" else _canonical_npz(path) if path.suffix == ".npz"
            else path.read_bytes())
    if path.suffix == ".csv":
        data = _mask_csv(data)
    if path.suffix in _MASKED_SUFFIXES:
        for pat, rep in _MASKS:
            data = pat.sub(rep, data)
    return hashlib.sha256(data).hexdigest()


def _cli(src: Path, *args: str, cwd: Path, capture: bool = False) -> bytes:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "clip2frame", "-q", *args]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, env=env, cwd=cwd, stdout=subprocess.PIPE if capture else None).stdout


def run(src: Path, out: Path) -> None:
    """Run the workload with the package found under ``src`` and write ``out/manifest.json``."""
    out.mkdir(parents=True, exist_ok=False)
    work = out / "work"
    work.mkdir()
    _cli(src, "video", "synth", "--out", "corpus", "--train", "1", "--validation", "0", "--test", "1",
         "--seconds", "4", "--seed", "3", "--no-progress", cwd=work)
    _cli(src, "detect", "corpus/videos", "--out", "detected", "--device", "cpu",
         "--format", "scores,events,audacity,npz,jams,heatmaps,overlay", cwd=work)
    _cli(src, "demo", "--video", "--quick", "--out", "demo", "--jobs", "1", cwd=work)
    _cli(src, "demo", "--quick", "--out", "music-demo", "--jobs", "1", cwd=work)
    _cli(src, "synth", "music", "--out", "music", "--hours", "0.01", "--clip-seconds", "6", "--splits", "test",
         "--seed", "3", "--jobs", "1", "--no-progress", cwd=work)
    _cli(src, "tag", "music/audio", "--out", "tagged", "--device", "cpu",
         "--format", "scores,events,audacity,npz,jams", cwd=work)
    _cli(src, "index", "tagged", cwd=work)
    search = _cli(src, "search", "tagged", "drums", "--json", cwd=work, capture=True)
    (work / "search-drums.json").write_bytes(search)
    for p in work.rglob("index.sqlite*"):
        p.unlink()
    files = sorted(p for p in work.rglob("*") if p.is_file())
    manifest = {str(p.relative_to(work)): _digest(p) for p in files}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(manifest)} files -> {out / 'manifest.json'}")


#: The flow and sound caches' file names carry a key hashed from the video's absolute path and mtime (two runs in two
#: folders differ there by design): compared with the key masked.
_CACHE_KEY = re.compile(r"\.[0-9a-f]{24}\.(flow\.npy|logmel\.npy|rgb\.npz)$")


def _name(rel: str) -> str:
    return _CACHE_KEY.sub(r".<key>.\1", rel)


def _manifest(out: Path) -> dict[str, str]:
    """The run's digests by masked name, recomputed from ``out/work`` when it is there (so a changed mask
    applies)."""
    work = out / "work"
    if work.is_dir():
        return {_name(str(p.relative_to(work))): _digest(p) for p in sorted(work.rglob("*")) if p.is_file()}
    return {_name(k): v for k, v in json.loads((out / "manifest.json").read_text()).items()}


def compare(a: Path, b: Path) -> int:
    """Exit status 0 when both runs wrote the same files with the same (masked) contents, else 1."""
    ma, mb = _manifest(a), _manifest(b)
    bad = 0
    for name in sorted(set(ma) | set(mb)):
        if ma.get(name) != mb.get(name):
            bad += 1
            side = "only in A" if name not in mb else "only in B" if name not in ma else "differs"
            print(f"{side}: {name}")
    print(f"{len(set(ma) | set(mb))} files compared, {bad} differ; masks: "
          + "; ".join(p.pattern.decode() for p, _ in _MASKS) + f"; CSV columns {sorted(_TIME_COLUMNS)}")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        run(Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve())
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
