"""``clip2frame detect`` end to end: throughput (seconds of video per second) and peak memory, 1 vs 10 minutes.

Generates videos at 256x192, 20 fps with an audio track (a moving pattern over noise, a pulsed tone; made
here, nothing downloaded), then runs the whole detection of each in a fresh process — the packaged
sound, object and SOT0503 action models (A·O·S), the events, the heat maps and the overlay video — and
reports wall time, x real time and the process' peak RSS. Memory should not grow with the video's length:
frames and flow are streamed in batches, the sound stream is predicted in chunks, the overlay re-reads
the source. Usage::

    python benchmarks/bench_detect.py [--minutes 1 10] [--threads 2] [--models DIR] [--keep DIR]

``--models DIR`` takes ``video_{sound,object,action}.safetensors`` from DIR instead of the packaged ones.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import pin_threads_from_argv, print_machine_info

THREADS = pin_threads_from_argv()

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(int(sys.argv[4]))
from clip2frame.video.inference.detect import detect_files
models = sys.argv[3]
kw = {} if models == "-" else {k: f"{models}/video_{k}.safetensors" for k in ("action", "object", "sound")}
t = time.perf_counter()
rep = detect_files([sys.argv[1]], out_dir=sys.argv[2], device="cpu", overwrite=True, **kw)
wall = time.perf_counter() - t
assert rep.exit_code == 0, rep.to_dict()
print(json.dumps({"wall_s": wall, "video_s": rep.tagged[0].audio_s,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_video(path: Path, seconds: float, *, fps: int = 20, width: int = 256, height: int = 192) -> None:
    """A moving bright square and a slowly drifting texture over noise, with a pulsed tone (16 kHz mono)."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    n = int(seconds * fps)
    sr = 16000
    with av.open(str(path), "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"crf": "23", "preset": "veryfast"}
        as_ = c.add_stream("aac", rate=sr)
        as_.layout = "mono"
        apts = 0
        for i in range(n):
            img = np.roll(noise, i % width, axis=1)
            x = int((width - 40) * (0.5 + 0.5 * np.sin(i / 7.0)))
            y = int((height - 40) * (0.5 + 0.5 * np.cos(i / 11.0)))
            img[y:y + 40, x:x + 40] = 230
            for pkt in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
            t = (apts + np.arange(sr // fps)) / sr
            wave = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(wave[None], format="fltp", layout="mono")
            af.sample_rate, af.pts = sr, apts
            apts += len(wave)
            for pkt in as_.encode(af):
                c.mux(pkt)
        for pkt in vs.encode():
            c.mux(pkt)
        for pkt in as_.encode():
            c.mux(pkt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--models", default="-", help="folder with video_{sound,object,action}.safetensors")
    ap.add_argument("--keep", default=None, help="keep the videos and outputs here")
    args = ap.parse_args()
    print_machine_info()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_detect."))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for minutes in args.minutes:
        video = work / f"video_{minutes:g}min.mp4"
        if not video.is_file():
            t = time.perf_counter()
            make_video(video, minutes * 60)
            print(f"# generated {video.name} ({minutes:g} min, 256x192, 20 fps) in {time.perf_counter() - t:.0f} s",
                  flush=True)
        out = work / f"det_{minutes:g}min"
        res = subprocess.run([sys.executable, "-c", CHILD, str(video), str(out), args.models, str(args.threads)],
                             check=True, capture_output=True, text=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append((minutes, r))
        print(f"# {minutes:g} min: {json.dumps(r)}", flush=True)
    print("\n| video | wall (s) | x real time | peak RSS (MiB) |")
    print("|---|---|---|---|")
    for minutes, r in rows:
        print(f"| {minutes:g} min | {r['wall_s']:.1f} | {r['video_s'] / r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} |")
    if len(rows) > 1:
        print(f"\npeak RSS {rows[-1][0]:g} min / {rows[0][0]:g} min: "
              f"{rows[-1][1]['peak_rss_mib'] / rows[0][1]['peak_rss_mib']:.3f}")


if __name__ == "__main__":
    main()
