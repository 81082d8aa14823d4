"""The one time base shared by audio features, models, outputs and video frames (DESIGN.md §1).

Every module takes the time base from here, never re-spelled:

* the constants: 16 kHz, hop 512 samples (31.25 input frames/s), 128 mel bands, the six window sizes;
* input frames of ``N`` samples: :func:`n_frames` ``= 1 + N // hop`` (centred STFT frames);
* output frames of a model of total stride ``s``: :func:`output_frames` ``= ceil(T / s)`` (pooling with
  ``ceil_mode``: every input frame belongs to an output frame);
* the duration of an output frame: :func:`frame_seconds` ``= s · hop / sr`` (0.512 s at ``s = 16``), its rate
  :func:`frame_rate_hz` ``= sr / hop / s``;
* frame edges: :func:`frame_boundaries` (frame ``t`` covers ``[t·d, (t+1)·d)``; the last edge clipped to the
  audio's duration when that is later than the last frame's onset).

The video time base is the sound model's: its stride is the sound preset's total stride
(:data:`clip2frame.video.inference.io.OUTPUT_STRIDE`), not a constant of its own.
"""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
HOP_LENGTH = 512
N_MELS = 128
FRAME_RATE = SAMPLE_RATE / HOP_LENGTH  # 31.25 input frames per second
DEFAULT_WIN_SIZES: tuple[int, ...] = (512, 1024, 2048, 4096, 8192, 16384)
#: Time resolutions of frame outputs (``predict``, ``clip2frame tag`` and ``evaluate``): ``model`` one value per
#: model output frame (``total_stride`` input frames, 0.512 s at stride 16); ``upsampled`` the model frames
#: repeated to the 32-ms input frames (the thesis' frame scoring); ``frame`` one value per input frame by patching
#: (the network run on shifted inputs).
RESOLUTIONS: tuple[str, ...] = ("model", "upsampled", "frame")


def n_frames(n_samples: int, hop_length: int = HOP_LENGTH) -> int:
    """Number of centred feature frames for ``n_samples`` samples: ``1 + n_samples // hop``."""
    return 1 + int(n_samples) // int(hop_length)


def output_frames(n_input_frames: int, total_stride: int) -> int:
    """Output frames ``T'`` of a model of total stride ``s`` on ``T`` input frames: ``ceil(T / s)``.

    Parameters
    ----------
    n_input_frames : int
        ``T``, input (feature) frames; 0 gives 0.
    total_stride : int
        ``s``, input frames per output frame (16 for two early layers of pool 4).
    """
    return -(-int(n_input_frames) // int(total_stride))


def frame_seconds(total_stride: int = 1, *, hop_length: int = HOP_LENGTH, sr: int = SAMPLE_RATE) -> float:
    """Duration (s) of one output frame of a model of total stride ``s``: ``s · hop / sr`` (0.512 s at 16)."""
    return total_stride * hop_length / sr


def frame_rate_hz(total_stride: int = 1, *, hop_length: int = HOP_LENGTH, sr: int = SAMPLE_RATE) -> float:
    """Output frames per second of a model of total stride ``s``: ``sr / hop / s`` (1.953125 at 16)."""
    return sr / hop_length / total_stride


def frame_boundaries(n: int, frame_s: float, *, first: int = 0, duration_s: float | None = None) -> np.ndarray:
    """Edges (s) [n + 1] float64 of ``n`` frames of ``frame_s`` seconds, frame ``first + t`` covering
    ``[(first + t)·d, (first + t + 1)·d)``.

    The one clipping rule: with ``duration_s``, the last edge becomes ``min(last edge, duration_s)`` when the
    duration is later than the last frame's onset (the last frame ends with the audio); otherwise, and
    without ``duration_s``, the edges are the regular grid.

    Parameters
    ----------
    n : int
        Number of frames (``T``); 0 gives the single edge ``[first·d]``.
    frame_s : float
        Frame duration ``d``, seconds (:func:`frame_seconds`).
    first : int
        Index of the first frame (a stream's frames after the ``first`` already emitted).
    duration_s : float, optional
        Duration of the audio, seconds.
    """
    bounds = (first + np.arange(int(n) + 1)) * frame_s
    if duration_s is not None and n and duration_s > bounds[-2]:
        bounds[-1] = min(bounds[-1], duration_s)
    return bounds
