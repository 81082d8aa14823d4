"""Training of the sound, object and action models of thesis ch. 4 (``clip2frame video train``): the public
names of :mod:`clip2frame.video.training` (training loops and their configuration) and
:mod:`clip2frame.video.data` (corpus data); model files are :mod:`clip2frame.models.io`'s."""
from __future__ import annotations

from .data import VideoItem, corpus_cache_dir, load_item, load_split, load_truth, oracle_object_maps
from .training import (ORACLE, VideoTrainConfig, default_config, epoch_batches, flip_batch, save_visual,
                       sound_features, train, train_sound, train_visual)

__all__ = ["VideoTrainConfig", "default_config", "train", "train_sound", "train_visual", "save_visual",
           "sound_features", "epoch_batches", "flip_batch", "ORACLE", "VideoItem", "load_item", "load_split",
           "load_truth", "corpus_cache_dir", "oracle_object_maps"]
