"""What a pluggable callable (a batch back-end, the viewer's analyzer) accepts."""
from __future__ import annotations

import inspect
from typing import Any, Callable


def accepts_keyword(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes keyword argument ``name`` (by name or through ``**kwargs``).

    False when the signature cannot be read (some builtins and C extensions): an optional keyword
    (``batch_size``, ``progress``) is then left out, which a callable without it survives, whereas
    passing it to one that refuses it would fail every call.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
