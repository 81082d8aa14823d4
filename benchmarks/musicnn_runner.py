"""Run musicnn (MTT_musicnn) on a list of audio files; run INSIDE the musicnn venv (scripts/setup_musicnn.sh).

    .venv-musicnn/bin/python benchmarks/musicnn_runner.py LIST.txt OUT_DIR [--hop 0.5]

Writes ``OUT_DIR/<key>.npz`` per line of LIST.txt, ``key = cache_key(path)`` (a digest of the file's bytes
and the hop, so a re-rendered file or another list order never reads another file's output): ``taggram``
[P, 50] (one row per 3-s patch, patch p covering [p·hop, p·hop + 3) s), ``tags`` (the 50 MTT tag names),
``hop_s``, ``patch_s``. Files already done are skipped (resumable). Used by bench_generalisation.py (which
imports ``cache_key``); never imported by the package.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import hashlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def cache_key(path: str | Path, hop: float) -> str:
    """The output name of ``path`` at ``hop`` seconds: sha256 of the file's bytes and the hop, 24 hex digits."""
    h = hashlib.sha256(Path(path).read_bytes())
    h.update(f"hop={hop!r}".encode())
    return h.hexdigest()[:24]


def main(argv: list[str]) -> int:
    import numpy as np

    list_path, out_dir = Path(argv[0]), Path(argv[1])
    hop = float(argv[argv.index("--hop") + 1]) if "--hop" in argv else 0.5
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [p for p in list_path.read_text().splitlines() if p.strip()]
    for i, p in enumerate(paths):
        dest = out_dir / f"{cache_key(p, hop)}.npz"
        if dest.is_file():
            continue
        from musicnn.extractor import extractor  # only when a file is left to do (its start-up is slow)

        taggram, tags = extractor(p, model="MTT_musicnn", input_length=3, input_overlap=3 - hop,
                                  extract_features=False)
        tmp = out_dir / f"{dest.stem}.tmp.npz"
        np.savez(tmp, taggram=np.asarray(taggram, dtype=np.float32), tags=np.array(tags), hop_s=hop, patch_s=3.0)
        os.replace(tmp, dest)
        print(f"{i + 1}/{len(paths)} {p}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
