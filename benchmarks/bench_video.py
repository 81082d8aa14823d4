"""Speed of the video pipeline on this machine: decoding, Farneback flow, object/action FCN inference.

Prints machine info and ratios measured in the same run (seconds of video processed per second of wall
time). Usage: ``python benchmarks/bench_video.py [--seconds 10] [--width 0.125]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--width", type=float, default=0.125)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from clip2frame.video.inference.flow import flow_stacks
    from clip2frame.video.inference.io import decode_video
    from clip2frame.models.visual import VisualFCN, VisualFCNConfig, flow_to_input, rgb_to_input
    from clip2frame.video.rendering.corpus import render_video
    from clip2frame.video.rendering.scene import VideoSynthConfig

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"threads {args.threads}, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "v.mp4"
        cfg = VideoSynthConfig(duration_s=args.seconds)
        t = time.perf_counter()
        render_video(cfg, 0, "violin", p)
        t_render = time.perf_counter() - t
        t = time.perf_counter()
        dv = decode_video(p)
        t_dec = time.perf_counter() - t
        t = time.perf_counter()
        flow = flow_stacks(dv.flow_frames, dv.n_frames)
        t_flow = time.perf_counter() - t
    res = {"render (256x192, 20 fps, + audio)": t_render, "decode (RGB 1.95 fps + flow frames 7.8 fps)": t_dec,
           "Farneback flow stacks": t_flow}
    for kind, x in (("object", rgb_to_input(dv.rgb)), ("action", flow_to_input(flow))):
        for width in (args.width, 1.0):
            net = VisualFCN(VisualFCNConfig(kind=kind, in_channels=x.shape[1], width=width), 9).eval()
            with torch.no_grad():
                net(x[:2])
                t = time.perf_counter()
                net(x)
            res[f"{kind} FCN width {width} inference"] = time.perf_counter() - t
    print(f"video: {args.seconds:g} s, {dv.n_frames} output frames of {dv.frame_size[1]}x{dv.frame_size[0]}")
    for k, v in res.items():
        print(f"{k:48s} {v:8.3f} s   {args.seconds / v:8.1f}x real time")


if __name__ == "__main__":
    main()
