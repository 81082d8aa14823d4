"""The one time base shared by audio features, models, outputs and video frames (DESIGN.md §1)."""
from __future__ import annotations

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
    return 1 + n_samples // hop_length
