"""How soon a frame of a model's output is final when audio arrives live: receptive field and latency.

An output frame ``q`` (after the accumulation layer) depends on

* the **feature front-end**: a log-mel frame ``f`` is centred on sample ``f·hop`` and needs audio up to
  half the largest window past it (plus the delta's half-width of frames when the spec has deltas);
* the **early convolutions**: the pre-accumulation frame ``q`` reads input frames ``[s·q - left, s·q + right]``
  (:func:`receptive_field`; ``s`` the total stride);
* the **accumulation layer**: a Gaussian over ``kernel_frames`` output frames reads ``kernel_frames - 1 -
  kernel_frames // 2`` frames ahead (127 for the thesis' 256-frame kernel: 65 s). The taps far out weigh
  almost nothing — beyond 4 sigma of a tag's Gaussian lies less than 3.2e-5 of its mass — so a live tagger
  may stop reading ahead at ``lookahead`` frames (``D``), trading exactness for latency.

The latency bound runs from an event's reported offset — the start of its first inactive frame ``j`` — to
the moment enough audio has arrived for frame ``j`` to be final::

    bound = D · frame_s  +  right · hop / sr  +  (max(win) / 2 + delta · hop) / sr
            accumulation    early convolutions   features

Processing time and the input's own block size come on top (measured by ``benchmarks/bench_stream.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

#: Look-ahead in sigmas of the widest Gaussian used by default (tail mass beyond 4 sigma < 3.2e-5).
SPAN_SIGMAS = 4.0


def receptive_field(cfg: Any) -> tuple[int, int]:
    """Input frames read by pre-accumulation output frame ``q``: ``[s·q - left, s·q + right]``.

    Parameters
    ----------
    cfg : AudioModelConfig
        Its early layers (kernel ``k`` with "same" padding ``k//2`` before, ``k-1-k//2`` after; max-pool ``p``).

    Returns
    -------
    (left, right) : tuple[int, int]
        Input frames before / after ``s·q`` (``s`` = total stride), inclusive. Late layers are 1x1.
    """
    lo, hi = 0, 0  # interval in units of the current layer's output, relative to q (lo <= 0 <= hi)
    for layer in reversed(cfg.early):
        p, k = layer.pool, layer.kernel
        lo, hi = p * lo - k // 2, p * hi + p - 1 + (k - 1 - k // 2)
    return -lo, hi


@dataclass(frozen=True)
class LatencyBudget:
    """The parts of a live tagger's latency bound, in seconds (see the module docstring).

    Attributes
    ----------
    frame_s : float             one output frame.
    features_s : float          audio needed past a feature frame's centre (half the largest window, + delta).
    network_s : float           input frames the early convolutions read past an output frame's first one.
    lookahead_frames : int      D, output frames the accumulation reads ahead (0 without accumulation).
    full_lookahead_frames : int the accumulation kernel's own reach (exact equality with a whole-file pass).
    span_frames : int           the default D: ceil(4 sigma) of the widest tag's Gaussian, at most the full reach.
    """

    frame_s: float
    features_s: float
    network_s: float
    lookahead_frames: int
    full_lookahead_frames: int
    span_frames: int

    @property
    def accumulation_s(self) -> float:
        """Seconds the accumulation layer reads ahead: ``D · frame_s``."""
        return self.lookahead_frames * self.frame_s

    @property
    def fixed_s(self) -> float:
        """The part no setting removes: features + early convolutions."""
        return self.features_s + self.network_s

    @property
    def bound_s(self) -> float:
        """Seconds from an event's offset (a frame edge) until it can be reported."""
        return self.fixed_s + self.accumulation_s

    @property
    def exact(self) -> bool:
        """Whether frames equal a whole-file pass (the accumulation reads its full reach)."""
        return self.lookahead_frames >= self.full_lookahead_frames

    def to_dict(self) -> dict[str, Any]:
        """The budget as a JSON-ready dict."""
        return {"frame_s": self.frame_s, "features_s": self.features_s, "network_s": self.network_s,
                "lookahead_frames": self.lookahead_frames, "full_lookahead_frames": self.full_lookahead_frames,
                "span_frames": self.span_frames, "bound_s": self.bound_s, "exact": self.exact}


def latency_budget(tagger: Any, *, max_latency_s: float | None = None) -> LatencyBudget:
    """The latency bound of live tagging with ``tagger`` and the accumulation look-ahead that meets it.

    Parameters
    ----------
    tagger : TaggerModel
    max_latency_s : float, optional
        ``None``: look ahead ``span_frames`` (4 sigma of the widest Gaussian; frames within ~3e-5 of a
        whole-file pass). ``math.inf``: the full kernel (exactly a whole-file pass). A number: the largest
        look-ahead whose bound is at most this many seconds.

    Raises
    ------
    ConfigError
        ``max_latency_s`` below the fixed part of the bound (it names the minimum).
    """
    spec, cfg = tagger.feature_spec, tagger.net.cfg
    s, hop, sr = tagger.total_stride, spec.hop_length, spec.sr
    frame_s = s * hop / sr
    _, right = receptive_field(cfg)
    delta = 4 if spec.delta else 0  # half of DELTA_WIDTH (9) frames
    features_s = (max(spec.win_sizes) / 2 + delta * hop) / sr
    network_s = right * hop / sr
    sigma = tagger.net.sigma()
    if sigma is None:
        full = span = 0
    else:
        L = int(tagger.net.accumulation.kernel_frames)
        full = L - 1 - L // 2
        span = min(full, math.ceil(SPAN_SIGMAS * float(sigma.max())))
    if max_latency_s is None:
        D = span
    elif math.isinf(max_latency_s):
        D = full
    else:
        fixed = features_s + network_s
        if not max_latency_s >= fixed - 1e-9:
            raise ConfigError(f"--max-latency {max_latency_s:g}: this model needs at least {fixed:.3f} s "
                              f"(features {features_s:.3f} s + early convolutions {network_s:.3f} s)")
        D = min(full, int(math.floor((max_latency_s - fixed) / frame_s + 1e-9)))
    return LatencyBudget(frame_s, features_s, network_s, D, full, span)
