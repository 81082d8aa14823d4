"""The clip-to-frame model family: config, layers, network, presets, model file."""
from .config import AudioModelConfig, EarlyLayer
from .fcn import Clip2FrameNet, ModelOutput
from .layers import GaussianAccumulation, gaussian_kernel
from .registry import PRESETS, Preset, get_preset

__all__ = ["AudioModelConfig", "EarlyLayer", "Clip2FrameNet", "ModelOutput",
           "GaussianAccumulation", "gaussian_kernel", "PRESETS", "Preset", "get_preset"]
