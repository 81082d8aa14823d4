"""Audio: decoding (``io``) and the multi-scale log-mel front-end (``features``)."""
from __future__ import annotations

from .features import FeatureSpec, MultiScaleLogMel, Standardizer, fit_standardizer, mel_filterbank
from .io import (
    AUDIO_EXTENSIONS, MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, audio_info, is_media_file, iter_audio_blocks,
    load_audio,
)

__all__ = [
    "FeatureSpec", "MultiScaleLogMel", "Standardizer", "fit_standardizer", "mel_filterbank",
    "load_audio", "iter_audio_blocks", "audio_info", "is_media_file",
    "AUDIO_EXTENSIONS", "VIDEO_EXTENSIONS", "MEDIA_EXTENSIONS",
]
