"""``--shard I/N``: which share of a batch's inputs this process tags (stdlib only, so the CLI checks the flag
while parsing, before anything heavy loads)."""
from __future__ import annotations

from ..errors import ConfigError

def parse_shard(spec: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"I/N"`` (0-based I < N) -> ``(I, N)``; ``None`` passes through."""
    if spec is None:
        return None
    if isinstance(spec, tuple):
        i, n = spec
    else:
        try:
            a, b = str(spec).split("/")
            i, n = int(a), int(b)
        except ValueError:
            raise ConfigError(f"--shard {spec!r}: expected I/N with integers, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {i}/{n}: need N >= 1 and 0 <= I < N (I is 0-based)")
    return i, n
