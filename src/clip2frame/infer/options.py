"""The inputs of a batch (:func:`clip2frame.infer.batch.tag_files`): :class:`TagOptions`, its one frozen options
object, checked when made (a bad value is a ``ConfigError`` before anything is loaded or written), with
:func:`check_device`; and :class:`ResultHook`, the protocol of what a batch calls around its results.

``clip2frame tag``, ``clip2frame detect`` (:mod:`clip2frame.video.inference.detect`) and library callers build a
:class:`TagOptions`; :class:`clip2frame.index.ingest.BatchIndexHook` implements :class:`ResultHook`. The batch
runner itself (discovery, resume, decoding, failures) is :mod:`.batch`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

from ..errors import ConfigError
from ..results.formats import DEFAULT_FORMATS, parse_formats
from ..results.provenance import OutputSettings
from ..timebase import RESOLUTIONS
from .predict import resolve_device
from .shards import parse_shard
from .summary import FileResult


def check_device(device: str) -> str:
    """``device`` resolved by :func:`clip2frame.infer.predict.resolve_device` (``auto`` -> ``cuda`` or
    ``cpu``), as a name that worker processes take; a bad name or a missing GPU is a
    ``ConfigError``."""
    return str(resolve_device(device))


@dataclass(frozen=True)
class TagOptions:
    """The options of one batch (:func:`~.batch.tag_files`), checked when made: a bad value is a ``ConfigError``
    before anything is loaded or written. ``clip2frame tag``, ``clip2frame detect`` and a library caller
    (a local run, or one shard of many) pass the same object.

    Attributes
    ----------
    model : ``"default"``, a model file path or a loaded ``TaggerModel``
    formats : names or ``"scores,events"``
        Any of :data:`~clip2frame.results.formats.FORMATS`; kept as the parsed tuple.
    resolution : ``"model"`` (one row per model frame) or ``"frame"`` (31.25 rows/s)
    min_duration, merge_gap : float
        Seconds, >= 0: event post-processing (see :func:`~clip2frame.results.writers.write_outputs`).
    device : ``"auto"``, ``"cpu"`` or ``"cuda[:N]"``
    batch_size : int
        Chunks per forward pass inside ``predict`` (>= 1).
    jobs : int
        Decoding threads running ahead of the model (0: decode in the calling thread).
    overwrite : bool
        Redo files whose outputs all exist (default: skip them).
    shard : ``"I/N"``, ``(I, N)`` or None
        Process only ``sorted(items)[I::N]`` (0-based ``I``); kept as ``(I, N)``.
    progress : bool
        tqdm bar (files, ETA) on stderr.
    prefetch_max_s : float
        Files longer than this (seconds, from the header) are not decoded ahead but passed to ``predict``
        as paths, which streams them.
    progress_desc : str
        The progress bar's label.
    """

    model: Any = "default"
    formats: str | Iterable[str] = DEFAULT_FORMATS
    resolution: str = "model"
    min_duration: float = 0.0
    merge_gap: float = 0.0
    device: str = "auto"
    batch_size: int = 8
    jobs: int = 1
    overwrite: bool = False
    shard: str | tuple[int, int] | None = None
    progress: bool = False
    prefetch_max_s: float = 600.0
    progress_desc: str = "tagging"

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", parse_formats(self.formats))
        if self.resolution not in RESOLUTIONS:
            raise ConfigError(f"--resolution {self.resolution!r}: choose from {', '.join(RESOLUTIONS)}")
        if self.min_duration < 0 or self.merge_gap < 0:
            raise ConfigError(f"--min-event {self.min_duration} / --merge-gap {self.merge_gap}: must be >= 0 seconds")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size {self.batch_size}: must be >= 1")
        if self.jobs < 0:
            raise ConfigError(f"--jobs {self.jobs}: must be >= 0")
        object.__setattr__(self, "shard", parse_shard(self.shard))

    @property
    def output_settings(self) -> OutputSettings:
        """The settings recorded with each file's provenance and compared on resume (resolution, event
        post-processing)."""
        return OutputSettings(self.resolution, float(self.min_duration), float(self.merge_gap))

    @property
    def shard_range(self) -> tuple[int, int] | None:
        """``shard`` as parsed: ``(I, N)``, or None for every input."""
        return parse_shard(self.shard)


class ResultHook(Protocol):
    """What a batch calls around its results (``clip2frame tag``: the event index, see
    :class:`clip2frame.index.ingest.BatchIndexHook`): ``open(out_dir)`` once the model is loaded and the
    output folder exists, before any output is written (a failure there is a setup error); the hook itself
    with each decided :class:`FileResult` (tagged, skipped or failed), returning it or a replacement (a
    ``"failed"`` one when the hook's own work failed); ``close()`` after the last."""

    def open(self, out_dir: Path) -> None:
        """Prepare for ``out_dir`` (before any output is written); a failure is a setup error."""

    def __call__(self, result: FileResult) -> FileResult: ...

    def close(self) -> None:
        """Finish after the batch's last file."""
