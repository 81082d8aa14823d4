"""clip2frame: weakly-supervised event detection for music audio and video.

Learn from clip-level tags, detect per frame (and, in video, per pixel). The public one-call API::

    import clip2frame
    acts = clip2frame.tag("song.wav")        # FrameActivations with the shipped default model
    acts.to_events()                         # time-stamped tag events

Heavy modules (torch) load on first use so ``import clip2frame`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import AudioError, Clip2FrameError, ConfigError, DatasetError, ModelFileError, OutputError

__all__ = [
    "__version__", "Clip2FrameError", "AudioError", "ConfigError", "DatasetError", "ModelFileError",
    "OutputError", "load_audio", "predict", "tag", "load_model", "FrameActivations",
]

_LAZY = {
    "load_audio": ("clip2frame.audio", "load_audio"),
    "iter_audio_blocks": ("clip2frame.audio", "iter_audio_blocks"),
    "predict": ("clip2frame.infer.predict", "predict"),
    "tag": ("clip2frame.infer.predict", "tag"),
    "load_model": ("clip2frame.models.io", "load_model"),
    "FrameActivations": ("clip2frame.results.activations", "FrameActivations"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'clip2frame' has no attribute {name!r}")
