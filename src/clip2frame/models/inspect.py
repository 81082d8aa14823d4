"""Model introspection: tags, learned sigma per tag (in seconds), thresholds, provenance; thesis Fig. 3.4."""
from __future__ import annotations

import io
import math
import textwrap
from typing import Any

import numpy as np

from ..extras import require
from ..fileio import atomic_write_bytes
from .io import TaggerModel, VisualModel, load_model, load_visual_model, read_metadata, resolve_model_path
from .latency import latency_budget
from .registry import VISUAL_KINDS


def describe(path) -> dict[str, Any]:
    """Tags (kind, threshold, learned sigma, training count), architecture and provenance of a model file
    of any kind (or of a loaded :class:`~clip2frame.models.io.TaggerModel`)."""
    if not isinstance(path, TaggerModel):
        meta = read_metadata(resolve_model_path(path, "music"))
        if meta["kind"] in VISUAL_KINDS:
            return _describe_visual(load_visual_model(path))
    m = path if isinstance(path, TaggerModel) else load_model(path)
    sig = m.net.sigma()
    counts = m.provenance.get("train_tag_counts", {})
    tags = []
    for k, lab in enumerate(m.labels):
        tags.append({
            "tag": lab, "kind": m.kinds.get(lab, ""), "threshold": float(m.thresholds[k]),
            "sigma_frames": None if sig is None else float(sig[k]),
            "sigma_s": None if sig is None else float(sig[k]) * m.frame_seconds,
            "train_count": counts.get(lab),
        })
    cfg = m.provenance.get("config", {})
    return {
        "stream_latency": _stream_latency(m),
        "kind": m.kind, "name": m.name, "version": m.version, "path": str(m.path), "preset": cfg.get("preset", "?"),
        "win_sizes": list(m.feature_spec.win_sizes), "total_stride": m.total_stride,
        "frame_seconds": m.frame_seconds, "accumulation": m.net.cfg.accumulation, "pooling": m.net.cfg.pooling,
        "tags": tags, "provenance": {k: v for k, v in m.provenance.items() if k != "config"},
        "card": m.card,
    }


def _stream_latency(m: TaggerModel) -> dict[str, Any]:
    """``clip2frame listen``'s latency bound by look-ahead: default (4 sigma), exact, and the minimum."""
    default, exact = latency_budget(m), latency_budget(m, max_latency_s=math.inf)
    return {"default_s": default.bound_s, "default_lookahead_frames": default.lookahead_frames,
            "exact_s": exact.bound_s, "exact_lookahead_frames": exact.lookahead_frames,
            "minimum_s": default.fixed_s, "features_s": default.features_s, "network_s": default.network_s}


def _describe_visual(m: VisualModel) -> dict[str, Any]:
    """The :func:`describe` of an object or action model: no sigma or scales, its network and target."""
    tags = [{"tag": lab, "kind": m.kinds.get(lab, ""), "threshold": float(m.thresholds[k]), "sigma_frames": None,
             "sigma_s": None, "train_count": None} for k, lab in enumerate(m.labels)]
    cfg = m.net.cfg
    return {
        "kind": m.kind, "name": m.name, "version": m.version, "path": str(m.path),
        "network": f"Table 4.2 FCN, width {cfg.width:g}, {cfg.in_channels} input channels, batch norm "
                   f"{cfg.batch_norm}, conv6 padding {cfg.conv6_padding}",
        "target": (m.target or {}).get("name"), "tags": tags,
        "provenance": {k: v for k, v in m.provenance.items() if k != "config"}, "card": m.card,
    }


def format_card(card: dict[str, Any] | None) -> str:
    """The model card as text for ``clip2frame inspect`` (a line saying there is none, when so)."""
    if not card:
        return "model card: none stored in this file (clip2frame inspect --model MODEL --write-card CARD.yaml adds one)"

    def wrap(text: str, indent: str = "  ") -> str:
        return textwrap.fill(" ".join(str(text).split()), width=100, initial_indent=indent, subsequent_indent=indent)

    lines = ["MODEL CARD", "intended use", wrap(card.get("intended_use", "?")),
             "training data", wrap(card.get("training_data", "?")), "held-out results"]
    for r in card.get("held_out_results", []):
        figures = ", ".join(f"{k} {v:g}" for k, v in r.get("metrics", {}).items())
        lines.append(wrap(f"{r.get('data', '?')}: {figures} ({r.get('source', '?')})"))
    lines.append("known limits")
    lines += [wrap(f"- {x}") for x in card.get("known_limits", [])]
    return "\n".join(lines)


def plot_sigma(info: dict[str, Any], out_png) -> None:
    """Learned sigma (s) against the number of training clips per tag, with a regression line."""
    require("matplotlib", what="inspect --plot").use("Agg")
    plt = require("matplotlib.pyplot", what="inspect --plot")

    pts = [(t["train_count"], t["sigma_s"], t["tag"], t["kind"]) for t in info["tags"]
           if t["sigma_s"] is not None and t["train_count"] is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if pts:
        x = np.array([p[0] for p in pts], float)
        y = np.array([p[1] for p in pts], float)
        colors = ["tab:purple" if p[3] == "tempo" else "tab:red" for p in pts]
        ax.scatter(x, y, c=colors)
        for xi, yi, name, _ in pts:
            ax.annotate(name, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
        if len(pts) > 2 and np.ptp(x) > 0:
            a, b = np.polyfit(x, y, 1)
            xs = np.linspace(x.min(), x.max(), 10)
            ax.plot(xs, a * xs + b, "g--", label=f"fit (r = {np.corrcoef(x, y)[0, 1]:.2f})")
            ax.legend()
    ax.set_xlabel("training clips with the tag")
    ax.set_ylabel("learned sigma (s)")
    ax.set_title("Accumulation layer: learned sigma per tag")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(out_png, buf.getvalue())
