"""Learned movements of the action model (thesis §4.3.5, Figs. 4.9–4.10): stacked average movements of
the conv1 filters.

A conv1 filter sees 5 consecutive flows as 10 channels (interleaved dx, dy). Its *average movement* for
flow ``j`` is the mean of its dx and dy kernel weights ``(mean W[2j], mean W[2j+1])``; stacking the five
vectors head to tail (flow 0 first) draws the movement pattern the filter responds to.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...extras import require
from ...fileio import atomic_write_bytes
from ...models.io import load_visual_model
from ...models.visual import flow_to_input
from ..inference.predict import fit_len
from .data import corpus_cache_dir, load_item, load_truth


def average_movements(conv1_weight: np.ndarray) -> np.ndarray:
    """[F, 10, kh, kw] conv1 weights -> [F, 5, 2] average (dx, dy) per flow of the stack."""
    w = np.asarray(conv1_weight, dtype=np.float64)
    if w.ndim != 4 or w.shape[1] % 2:
        raise ValueError(f"average_movements: expected [F, 2n, kh, kw] weights, got {w.shape}")
    m = w.mean(axis=(2, 3))  # [F, 10]
    return m.reshape(w.shape[0], -1, 2)


def draw_movements(mov: np.ndarray, *, cell: int = 64, cols: int = 12) -> np.ndarray:
    """A grid image (RGB uint8) with one stacked-arrow drawing per filter (colour: early → late flow)."""
    cv2 = require("cv2", what="video training")

    F, J, _ = mov.shape
    rows = -(-F // cols)
    img = np.full((rows * cell, cols * cell, 3), 255, np.uint8)
    chain = np.cumsum(mov, axis=1)
    span = np.abs(np.concatenate([np.zeros((F, 1, 2)), chain], 1)).max() or 1.0
    scale = 0.42 * cell / span
    for f in range(F):
        r, c = divmod(f, cols)
        o = np.array([c * cell + cell / 2, r * cell + cell / 2])
        p = o.copy()
        cv2.rectangle(img, (c * cell, r * cell), ((c + 1) * cell - 1, (r + 1) * cell - 1), (220, 220, 220), 1)
        for j in range(J):
            q = p + mov[f, j] * scale
            col = tuple(int(v) for v in (255 * j / max(J - 1, 1), 60, 255 * (1 - j / max(J - 1, 1))))
            cv2.arrowedLine(img, tuple(int(round(v)) for v in p), tuple(int(round(v)) for v in q), col, 1,
                            cv2.LINE_AA, tipLength=0.3)
            p = q
    return img


def filter_responses(net, flows_by_instrument: dict[str, list[np.ndarray]]) -> tuple[list[str], np.ndarray]:
    """Thesis Fig. 4.11: for instrument m and conv1 filter n, the mean over m's positive frames of the
    spatial max of the rectified conv1 output. Returns (instruments, [M, F])."""
    names, rows = [], []
    with torch.no_grad():
        for inst, stacks in flows_by_instrument.items():
            if not stacks:
                continue
            x = flow_to_input(np.stack(stacks))
            r = torch.relu(net.conv1(x)).amax(dim=(-2, -1)).mean(0)
            names.append(inst)
            rows.append(r.numpy())
    return names, np.stack(rows) if rows else np.zeros((0, net.conv1.out_channels))


def characterising_filters(resp: np.ndarray, *, top: int = 5) -> np.ndarray:
    """z-score ``resp`` [M, F] along the instrument axis, then the ``top`` filters per instrument [M, top]."""
    z = (resp - resp.mean(0, keepdims=True)) / (resp.std(0, keepdims=True) + 1e-12)
    return np.argsort(-z, axis=1)[:, :top]


def write_movements(action_run: str | Path, out_dir: str | Path, *, data_dir=None, split: str = "test") -> Path:
    """``conv1_movements.png`` (and ``.npy``) of an action run, plus ``instrument_movements.png`` (top 5
    characterising filters per instrument, one row each, order in ``instrument_movements.txt``) when a corpus
    with truth is given; returns the first PNG's path."""
    cv2 = require("cv2", what="video training")

    net = load_visual_model(action_run, kind="action").net
    if net.cfg.in_channels != 10:
        raise ValueError(f"{action_run}: not an action model (input channels {net.cfg.in_channels})")
    mov = average_movements(net.conv1.weight.detach().numpy())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    img = draw_movements(mov)
    ok, buf = cv2.imencode(".png", img[..., ::-1])
    path = out / "conv1_movements.png"
    atomic_write_bytes(path, buf.tobytes())
    np.save(out / "conv1_movements.npy", mov)
    if data_dir is not None:
        by_inst: dict[str, list[np.ndarray]] = {}
        for tr in load_truth(data_dir, split):
            it = load_item(tr["path"], need={"flow"}, cache_dir=corpus_cache_dir(data_dir), tags=tr["tags"], truth=tr)
            flow = fit_len(it.loaded("flow"), len(tr["frames"]))
            for t, f in enumerate(tr["frames"]):
                for inst in f["playing"]:
                    by_inst.setdefault(inst, []).append(flow[t].astype(np.float32))
        names, resp = filter_responses(net, by_inst)
        if len(names) > 1:
            top = characterising_filters(resp)
            grid = draw_movements(mov[top.reshape(-1)], cols=top.shape[1])
            ok, buf = cv2.imencode(".png", grid[..., ::-1])
            atomic_write_bytes(out / "instrument_movements.png", buf.tobytes())
            atomic_write_bytes(out / "instrument_movements.txt", "".join(
                f"{n}\t{' '.join(map(str, row))}\n" for n, row in zip(names, top)).encode())
    return path
