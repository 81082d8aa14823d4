"""Live tagging: ``StreamTagger.feed(samples)`` returns every frame and event the moment it is final.

Audio arrives in blocks of any size. Each stage keeps only what the next one still needs, so memory is
flat however long the stream runs:

* **features** — a log-mel frame is computed once the audio reaches half the largest window past its
  centre (+ the delta's half-width); each step recomputes ``pad`` frames of context on the left only.
* **network** — pre-accumulation frames are computed over a view of the features that holds the early
  convolutions' whole receptive field (:func:`~clip2frame.models.latency.receptive_field`), its start on the
  stride grid, so max-pool windows fall where a whole-file pass puts them.
* **accumulation** — each tag's Gaussian reads ``D`` frames ahead (``lookahead_frames`` of the
  :class:`~clip2frame.models.latency.LatencyBudget`): the full kernel (exact), 4 sigma of the widest tag (the
  default) or fewer for a ``max_latency_s``. The taps beyond ``D`` are dropped and, by default, the
  remaining ones scaled up to the whole kernel's mass (``rescale``), so frames keep their level against the
  thresholds (BENCHMARKS.md measures both).
* **events** — per tag, runs of frames at or above the threshold, merged across gaps of at most
  ``merge_gap`` s and dropped when shorter than ``min_duration`` s, exactly as
  :meth:`FrameActivations.to_events`; an event is emitted once its end (and the gap after it) is final.

With the full look-ahead the frames equal :func:`~clip2frame.infer.predict.predict` on the whole recording
for any block sizes; they differ only by float rounding (the same sums in another order, ~1e-7), so an event
boundary can move by one frame only where a probability lies within that of its threshold.
Only the model resolution (one frame per total stride) is streamed.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import Clip2FrameError
from ..models.latency import LatencyBudget, latency_budget, receptive_field
from ..models.layers import GaussianAccumulation, gaussian_kernel
from ..results.activations import FrameActivations
from ..timebase import frame_boundaries, output_frames
from .predict import ModelLike, _front_end, _run_views, load_tagger, resolve_device


@dataclass(frozen=True)
class StreamEvent:
    """One final event: ``onset``/``offset`` in seconds from the stream's start (rounded to 1 ms, as
    :meth:`FrameActivations.to_events`), its tag and the highest frame probability inside it."""

    onset: float
    offset: float
    label: str
    peak: float

    def to_json(self) -> str:
        """The ``listen`` output line: ``{"onset", "offset", "tag", "peak"}``."""
        return json.dumps({"onset": self.onset, "offset": self.offset, "tag": self.label,
                           "peak": round(self.peak, 4)})


@dataclass
class StreamUpdate:
    """What one :meth:`StreamTagger.feed` made final: ``frames`` (probs [T_new, K], absolute boundaries)
    and ``events`` (sorted by onset, then tag)."""

    frames: FrameActivations
    events: list[StreamEvent]


class _Run:
    """A tag's current event: frames ``[on, off)`` seconds, peak, and whether it is still active."""

    __slots__ = ("on", "off", "peak", "active")

    def __init__(self, on: float, peak: float):
        self.on, self.off, self.peak, self.active = on, on, peak, True


class StreamTagger:
    """Tag one live stream incrementally.

    Parameters
    ----------
    model : "default", path or TaggerModel
    max_latency_s : float, optional
        ``None``: look ahead 4 sigma of the widest Gaussian; ``math.inf``: the full kernel (exact); a number:
        the largest look-ahead within this bound (see :func:`~clip2frame.models.latency.latency_budget`).
    min_duration, merge_gap : float
        Seconds, as in :meth:`FrameActivations.to_events`.
    device : str
    thresholds : sequence of float [K], optional
        Per-tag thresholds (default: the model's).
    min_new_frames : int
        Run the network only once this many new output frames are ready (1 = lowest latency; more = fewer,
        larger forward passes — more streams per core).
    rescale : bool
        With a truncated look-ahead, scale each tag's remaining taps up to the mass of its whole kernel, so
        frames keep the level the thresholds were fitted at (without it, a look-ahead of 0 halves every
        probability). No effect with the full look-ahead.
    """

    def __init__(self, model: ModelLike = "default", *, max_latency_s: float | None = None,
                 min_duration: float = 0.0, merge_gap: float = 0.0, device: str | torch.device = "cpu",
                 thresholds: Sequence[float] | np.ndarray | None = None, min_new_frames: int = 1,
                 rescale: bool = True):
        self.device = resolve_device(device)
        self.tagger = tagger = load_tagger(model, device=self.device)
        self.latency: LatencyBudget = latency_budget(tagger, max_latency_s=max_latency_s)
        spec = self.spec = tagger.feature_spec
        self.labels = list(tagger.labels)
        self.thresholds = np.asarray(tagger.thresholds if thresholds is None else thresholds, dtype=np.float32)
        if self.thresholds.shape != (len(self.labels),):
            raise Clip2FrameError(f"thresholds: expected {len(self.labels)} values, got {self.thresholds.shape}")
        self.min_duration, self.merge_gap = float(min_duration), float(merge_gap)
        self.min_new_frames = max(1, int(min_new_frames))
        self.rescale = bool(rescale)
        self.s = s = tagger.total_stride
        self.hop = spec.hop_length
        self.frame_s = self.latency.frame_s
        left, self._right = receptive_field(tagger.net.cfg)
        self._left = s * output_frames(left, s)  # view start before s·j, on the stride grid
        self._pad = math.ceil(max(spec.win_sizes) / 2 / self.hop) + (4 if spec.delta else 0)
        self._front = _front_end(spec, self.device)
        self._taps, self._back = self._accumulation_taps()
        # stage buffers, each with the global index of its first element
        self._buf, self._s0, self._n = np.zeros(0, np.float32), 0, 0
        self._feats: torch.Tensor | None = None
        self._f0, self._f_done = 0, 0
        self._raw = torch.zeros(len(self.labels), 0)
        self._r0, self._j_done = 0, 0
        self._k_done = 0
        self._runs: list[_Run | None] = [None] * len(self.labels)
        self.closed = False

    # ----------------------------------------------------------------------------------------- public
    @property
    def received_s(self) -> float:
        """Seconds of audio received."""
        return self._n / self.spec.sr

    @property
    def final_s(self) -> float:
        """Seconds of audio whose frames are final (and reported)."""
        return self._k_done * self.frame_s if not self.closed else self.received_s

    def feed(self, samples: np.ndarray) -> StreamUpdate:
        """Add mono samples at the model's rate (float32 [N]); returns the frames and events now final."""
        self._push(samples)
        return feed_many([self], eof=False)[0]

    def close(self) -> StreamUpdate:
        """End of stream: everything left becomes final (as at the end of a whole-file pass)."""
        return feed_many([self], eof=True)[0]

    # ----------------------------------------------------------------------------------------- stages
    def _accumulation_taps(self) -> tuple[torch.Tensor, int]:
        """Taps [K, back + D + 1] of each tag's Gaussian for offsets -back..D, and back."""
        acc = self.tagger.net.accumulation
        if not isinstance(acc, GaussianAccumulation):
            return torch.ones(len(self.labels), 1), 0
        L = acc.kernel_frames
        with torch.no_grad():
            g = gaussian_kernel(acc.sigma.detach().float().cpu(), L, renormalize=acc.renormalize)
        taps = g[:, :L // 2 + self.latency.lookahead_frames + 1]
        if self.rescale and not self.latency.exact:
            taps = taps * (g.sum(1, keepdim=True) / taps.sum(1, keepdim=True))
        return taps.contiguous(), L // 2

    def _push(self, samples: np.ndarray) -> None:
        if self.closed:
            raise Clip2FrameError("stream: audio fed after close()")
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not np.isfinite(x).all():
            raise Clip2FrameError(f"stream: NaN or infinite samples after {self.received_s:.3f} s")
        if x.size:
            self._buf = np.concatenate([self._buf, x]) if self._buf.size else x.copy()
            self._n += x.size

    def _feature_job(self, eof: bool) -> tuple[np.ndarray, int, int] | None:
        """(segment of samples, its first frame f0, G): log-mel frames [f_done, G) become final."""
        G = 1 + self._n // self.hop if eof else 1 + self._n // self.hop - self._pad
        # Before the end, compute features only once the next network run can use them (no latency cost;
        # every call recomputes ``pad`` frames of context, so calls per hop would cost 30x).
        need = self.s * (self._j_done + self.min_new_frames - 1) + self._right + 1
        if G <= self._f_done or (not eof and G < need):
            return None
        f0 = max(0, self._f_done - self._pad)
        end = self._n if eof else (G + self._pad - 1) * self.hop
        return self._buf[f0 * self.hop - self._s0:end - self._s0], f0, G

    def _take_features(self, feats: torch.Tensor, f0: int, G: int) -> None:
        """feats [S, M, T_seg] of the segment starting at frame f0: keep [f_done, G), standardised."""
        new = self.tagger.standardizer.apply(feats[..., self._f_done - f0:G - f0])
        self._feats = new if self._feats is None else torch.cat([self._feats, new], dim=-1)
        self._f_done = G
        keep = max(0, G - self._pad) * self.hop  # the next segment starts there
        self._buf, self._s0 = self._buf[keep - self._s0:], keep

    def _net_view(self, eof: bool) -> tuple[torch.Tensor, int, int] | None:
        """(features view [1, S, M, L], first output frame of the view, J): raw frames [j_done, J) final."""
        s, G = self.s, self._f_done
        J = output_frames(G, s) if eof else (G - self._right - 1) // s + 1
        if J <= self._j_done or (not eof and J - self._j_done < self.min_new_frames) or self._feats is None:
            return None
        v0 = max(0, s * self._j_done - self._left)
        v1 = G if eof else min(G, s * (J - 1) + self._right + 1)
        return self._feats[None, ..., v0 - self._f0:v1 - self._f0], v0 // s, J

    def _take_raw(self, raw: torch.Tensor, q0: int, J: int) -> None:
        """raw [K, T'_view] of a view whose first output frame is q0: keep frames [j_done, J)."""
        new = raw[:, self._j_done - q0:J - q0].float().cpu()
        self._raw = torch.cat([self._raw, new], dim=-1)
        self._j_done = J
        drop = max(0, self.s * J - self._left) - self._f0  # the next view starts there
        if self._feats is not None and drop > 0:
            self._feats, self._f0 = self._feats[..., drop:], self._f0 + drop

    def _accumulate(self, eof: bool) -> StreamUpdate:
        D, back = self.latency.lookahead_frames, self._back
        K_end = self._j_done if eof else self._j_done - D
        k0 = self._k_done
        if K_end <= k0:
            return StreamUpdate(self._frames(np.zeros((0, len(self.labels)), np.float32), k0, eof), [])
        # raw frames [k0 - back, K_end + D), zero outside [0, j_done) (the whole-file pass pads with zeros)
        lo, hi = k0 - back, K_end + D
        a, b = max(lo, self._r0), min(hi, self._j_done)
        x = F.pad(self._raw[:, a - self._r0:b - self._r0], (a - lo, hi - b))
        with torch.no_grad():
            probs = F.conv1d(x[None], self._taps[:, None, :], groups=x.shape[0])[0].numpy().T  # [T_new, K]
        drop = max(0, K_end - back) - self._r0
        if drop > 0:
            self._raw, self._r0 = self._raw[:, drop:], self._r0 + drop
        self._k_done = K_end
        frames = self._frames(probs, k0, eof)
        events = self._events(frames, eof)
        if eof:
            self.closed = True
        return StreamUpdate(frames, events)

    def _frames(self, probs: np.ndarray, k0: int, eof: bool) -> FrameActivations:
        # at the end of the stream, as predict(): the last frame ends with the audio
        bounds = frame_boundaries(probs.shape[0], self.frame_s, first=k0,
                                  duration_s=self._n / self.spec.sr if eof else None)
        meta = {"model": self.tagger.name, "model_version": self.tagger.version, "resolution": "model",
                "lookahead_frames": self.latency.lookahead_frames}
        return FrameActivations(self.labels, probs, bounds, self.thresholds, dict(self.tagger.kinds), None, meta)

    def _events(self, frames: FrameActivations, eof: bool) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        act = frames.active()
        b = frames.boundaries
        gap = self.merge_gap + 1e-9
        for t in range(frames.n_frames):
            for k in range(len(self.labels)):
                run = self._runs[k]
                if act[t, k]:
                    p = float(frames.probs[t, k])
                    if run is None:
                        self._runs[k] = _Run(b[t], p)
                    elif run.active or b[t] - run.off <= gap:
                        run.active, run.peak = True, max(run.peak, p)
                    else:
                        self._emit(k, out)
                        self._runs[k] = _Run(b[t], p)
                elif run is not None:
                    if run.active:
                        run.active, run.off = False, b[t]
                    if b[t + 1] - run.off > gap:  # no later onset can merge into it
                        self._emit(k, out)
        if eof:
            for k, run in enumerate(self._runs):
                if run is not None:
                    if run.active:
                        run.off = b[-1]
                    self._emit(k, out)
        return sorted(out, key=lambda e: (e.onset, e.label))

    def _emit(self, k: int, out: list[StreamEvent]) -> None:
        run = self._runs[k]
        self._runs[k] = None
        if run is not None and run.off - run.on >= self.min_duration - 1e-9:
            out.append(StreamEvent(round(float(run.on), 3), round(float(run.off), 3), self.labels[k], run.peak))


@torch.no_grad()
def feed_many(streams: Sequence[StreamTagger], *, eof: bool = False,
              samples: Sequence[np.ndarray] | None = None) -> list[StreamUpdate]:
    """Advance several streams of one model together: their feature segments of equal length go through
    the front-end as one batch, and their network views of equal length through the network as one batch.

    Parameters
    ----------
    streams : sequence of StreamTagger
        All with the same loaded model (same file and device).
    eof : bool
        Close every stream (as :meth:`StreamTagger.close`).
    samples : sequence of np.ndarray [N_i], optional
        New samples for each stream (as :meth:`StreamTagger.feed`).

    Returns
    -------
    list of StreamUpdate, one per stream.
    """
    if not streams:
        return []
    net = streams[0].tagger.net
    if any(st.tagger.net is not net for st in streams):
        raise Clip2FrameError("feed_many: all streams must share one loaded model")
    if samples is not None:
        for st, x in zip(streams, samples, strict=True):
            st._push(x)
    for st in streams:
        if st.closed:
            raise Clip2FrameError("stream: already closed")
    jobs = [(st, st._feature_job(eof)) for st in streams]
    by_len: dict[int, list[tuple[StreamTagger, tuple[np.ndarray, int, int]]]] = {}
    for st, job in jobs:
        if job is not None:
            by_len.setdefault(len(job[0]), []).append((st, job))
    front = streams[0]._front
    dev = streams[0].device
    for group in by_len.values():
        wave = torch.from_numpy(np.stack([job[0] for _, job in group])).to(dev)  # [B, N]
        feats = front(wave)  # [B, S, M, T]
        for i, (st, (_, f0, G)) in enumerate(group):
            st._take_features(feats[i], f0, G)
    views = [(st, st._net_view(eof)) for st in streams]
    todo = [(st, v) for st, v in views if v is not None]
    raws = _run_views(net, [v[0] for _, v in todo], batch_size=max(1, len(todo)))
    for (st, (_, q0, J)), raw in zip(todo, raws):
        st._take_raw(raw, q0, J)
    return [st._accumulate(eof) for st in streams]



def run_stream(blocks: Iterator[np.ndarray], stream: StreamTagger,
               on_update: Callable[[StreamUpdate], None]) -> str:
    """Feed ``blocks`` (mono float32 at the model's rate) to ``stream`` and pass every update to
    ``on_update``; at the end of the blocks — or when the source fails or the user interrupts — close
    the stream so its last events are flushed, then re-raise the failure.

    Returns
    -------
    str
        How the stream ended: ``"eof"`` or ``"interrupted"`` (Ctrl-C; the events so far are flushed).
    """
    how = "eof"
    try:
        for block in blocks:
            on_update(stream.feed(block))
    except KeyboardInterrupt:
        how = "interrupted"
    except Clip2FrameError:
        on_update(stream.close())
        raise
    on_update(stream.close())
    return how
