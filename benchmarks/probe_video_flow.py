"""How much of a corpus' optical flow comes from playing (issue #14 item 5): mean Farneback flow magnitude
(px per flow step) in 16 px around the contact points of the instruments being played, in played and idle
instruments' boxes and over the whole frame, and the pixel distance of the class-agnostic arg-max of the
blurred flow magnitude (the centre guess beside it).

    python benchmarks/probe_video_flow.py CORPUS [--split test]
"""
from __future__ import annotations

import argparse

import numpy as np


def main() -> int:
    import cv2

    from clip2frame.video.training.data import corpus_cache_dir, load_item, load_truth
    from clip2frame.video.training.evaluate import truths_of
    from clip2frame.video.inference.metrics import centre_baseline, evaluate_maps
    from clip2frame.video.inference.predict import fit_len

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--split", default="test")
    a = p.parse_args()
    pairs, maps = [], []
    near, played, idle, frame = [], [], [], []
    for tr in load_truth(a.corpus, a.split):
        it = load_item(tr["path"], need={"flow"}, cache_dir=corpus_cache_dir(a.corpus), tags=tr["tags"], truth=tr)
        T = len(tr["frames"])
        fl = np.asarray(it.loaded("flow"), np.float32)
        mag = fit_len(np.sqrt(fl[:, 0::2] ** 2 + fl[:, 1::2] ** 2).mean(1), T)  # [T, H, W]
        for t, f in enumerate(tr["frames"]):
            frame.append(mag[t].mean())
            for inst, boxes in f["boxes"].items():
                for x0, y0, x1, y1 in (np.round(b).astype(int) for b in boxes):
                    (played if inst in f["playing"] else idle).append(mag[t, max(0, y0):y1 + 1, max(0, x0):x1 + 1].mean())
            for kps in f["keypoints"].values():
                for x, y in kps:
                    near.append(mag[t, max(0, int(y) - 8):int(y) + 9, max(0, int(x) - 8):int(x) + 9].mean())
        blurred = np.stack([cv2.GaussianBlur(m, (0, 0), 8) for m in mag])
        for vt in truths_of(tr):
            pairs.append(vt)
            maps.append(blurred)
    print(f"{a.corpus} {a.split}: flow px/step near contact points {np.mean(near):.2f}, played box "
          f"{np.mean(played):.2f}, idle box {np.mean(idle):.2f}, frame {np.mean(frame):.2f}; arg-max of blurred "
          f"magnitude {evaluate_maps(pairs, maps).spatial_px:.1f} px (centre {centre_baseline(pairs).spatial_px:.1f} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
