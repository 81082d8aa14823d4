"""The output formats of a tagged or detected recording: names, file suffixes, which commands can produce
them and the optional packages they need (no third-party import, so the command-line parsers can list them without
loading numpy). The files themselves are written by :mod:`clip2frame.results.writers` (see its docstring for
their layouts) and read back by :mod:`clip2frame.results.readers`; the ``<stem>.meta.json`` sidecar is
:mod:`clip2frame.results.provenance`'s."""
from __future__ import annotations

import importlib.util
from typing import Iterable

from ..errors import ConfigError
from ..extras import EXTRA_OF_MODULE

#: format name -> file suffix (appended to the stem)
SUFFIXES: dict[str, str] = {
    "scores": ".scores.tsv",
    "events": ".events.tsv",
    "audacity": ".audacity.txt",
    "npz": ".npz",
    "jams": ".jams",
    "heatmaps": ".heatmaps.npz",
    "overlay": ".overlay.mp4",
}
FORMATS: tuple[str, ...] = tuple(SUFFIXES)
SCORES_SUFFIX = SUFFIXES["scores"]
EVENTS_SUFFIX = SUFFIXES["events"]
NPZ_SUFFIX = SUFFIXES["npz"]
HEATMAPS_SUFFIX = SUFFIXES["heatmaps"]
OVERLAY_SUFFIX = SUFFIXES["overlay"]
DEFAULT_FORMATS: tuple[str, ...] = ("scores", "events")
#: Formats that need the spatial maps of a detector (``FrameActivations.maps``): ``clip2frame detect`` only.
MAP_FORMATS: tuple[str, ...] = ("heatmaps", "overlay")
#: What ``clip2frame tag`` (audio, no spatial maps) can produce.
TAG_FORMATS: tuple[str, ...] = tuple(f for f in FORMATS if f not in MAP_FORMATS)
#: format -> the optional module it imports (the extra that installs it: clip2frame.extras.EXTRA_OF_MODULE)
FORMAT_MODULES: dict[str, str] = {"jams": "jams"}


def parse_formats(formats: str | Iterable[str], *, allowed: tuple[str, ...] = FORMATS,
                  check_packages: bool = True) -> tuple[str, ...]:
    """``"scores,events"`` or an iterable of names -> validated tuple (order kept, duplicates dropped).

    Parameters
    ----------
    formats : str or iterable of str
        Comma-separated names or names.
    allowed : tuple of str
        The formats the caller can produce (default every format; ``clip2frame tag``: :data:`TAG_FORMATS`).
    check_packages : bool
        Also check that the optional package of each format is installed (the command-line parser leaves
        it to the batch, which fails with one line before any work).

    Raises
    ------
    ConfigError
        For an unknown or empty format list, a format not in ``allowed``, or one whose optional package is
        not installed (checked here, before any work, so a batch does not fail file by file).
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for f in (str(x).strip().lower() for x in items):
        if not f:
            continue
        if f not in allowed:
            raise ConfigError(f"format: unknown output format {f!r} (choose from {', '.join(allowed)})")
        if f not in out:
            out.append(f)
    if not out:
        raise ConfigError(f"format: no output format given (choose from {', '.join(allowed)})")
    for f in out if check_packages else ():
        module = FORMAT_MODULES.get(f)
        if module is not None and importlib.util.find_spec(module) is None:
            raise ConfigError(f"format {f}: the '{module}' package is not installed "
                              f"(pip install 'clip2frame[{EXTRA_OF_MODULE[module]}]')")
    return tuple(out)
