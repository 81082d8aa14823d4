"""Raw PCM sample formats of ``clip2frame listen -`` (stdlib only: the CLI checks ``--sample-format`` while
parsing, before numpy or PyAV load)."""
from __future__ import annotations

#: raw PCM sample formats (FFmpeg's names) -> (numpy dtype, offset, scale to [-1, 1))
SAMPLE_FORMATS: dict[str, tuple[str, float, float]] = {
    "s16le": ("<i2", 0.0, 1 / 32768.0),
    "s32le": ("<i4", 0.0, 1 / 2147483648.0),
    "f32le": ("<f4", 0.0, 1.0),
    "f64le": ("<f8", 0.0, 1.0),
    "u8": ("u1", -128.0, 1 / 128.0),
}
