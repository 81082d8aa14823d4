"""Optional dependencies: which extra of ``pyproject.toml`` provides a module, and the error when it is missing.

The base install (torch, numpy, soundfile, av, soxr, safetensors, pyyaml, tqdm) tags, inspects and evaluates;
everything else comes with an extra (``pip install 'clip2frame[plots]'``, ``[all]`` for every one). Code that
needs an optional package imports it where it is used, through :func:`require`, so ``import clip2frame`` and
the base commands never touch it and a missing one is a one-line :class:`MissingExtraError` naming the extra.
The CLI turns any other ``ModuleNotFoundError`` of a module listed here into the same one-line error
(:func:`missing_extra_message`).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingExtraError

# top-level import name -> the extra that installs it (tests/test_packaging.py checks this against
# pyproject.toml).
EXTRA_OF_MODULE: dict[str, str] = {
    "music21": "synth", "fluidsynth": "synth", "pedalboard": "synth",
    "fastapi": "serve", "starlette": "serve", "uvicorn": "serve", "multipart": "serve", "python_multipart": "serve",
    "cv2": "video",
    "jams": "jams",
    "onnx": "onnx", "onnxruntime": "onnx",
    "sed_eval": "eval", "sed_scores_eval": "eval",
    "psycopg": "index-postgres",
    "matplotlib": "plots",
    "scipy": "synth",  # the mixer's IIR filters
    "shtab": "completion",
    "sounddevice": "live",
}


def require(module: str, *, what: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"scipy.stats"``), or raise the one-line error naming its extra.

    Parameters
    ----------
    module : str
        Dotted module name; its top-level package decides the extra unless ``extra`` is given.
    what : str
        What needs it, the start of the message (``"inspect --plot"``, ``"format jams"``).
    extra : str, optional
        The extra to name (default: ``EXTRA_OF_MODULE`` of the top-level package).

    Returns
    -------
    ModuleType
        The imported module.

    Raises
    ------
    MissingExtraError
        ``module`` (or a package it imports) is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing = (getattr(e, "name", None) or module).split(".")[0]
        raise MissingExtraError(what, missing, extra or EXTRA_OF_MODULE.get(missing)
                                or EXTRA_OF_MODULE.get(module.split(".")[0], "all")) from None


def missing_extra_message(e: ImportError, *, what: str) -> str | None:
    """The one-line message for ``e`` when it is a missing optional package, else ``None`` (a real bug)."""
    name = (getattr(e, "name", None) or "").split(".")[0]
    if name not in EXTRA_OF_MODULE:
        return None
    return str(MissingExtraError(what, name, EXTRA_OF_MODULE[name]))
