"""One exception family for everything a user can cause.

Every message names the file (or config key) and the problem, on one line, so the CLI can print
``error: <message>`` and exit non-zero without a traceback.
"""
from __future__ import annotations

from pathlib import Path


class Clip2FrameError(Exception):
    """Base class of every error a user can cause (bad file, bad config, bad model)."""


class AudioError(Clip2FrameError):
    """An audio (or video) file cannot be read or holds invalid samples."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class VideoError(AudioError):
    """A video file cannot be read (missing, corrupt, no video stream, no frames)."""


class ConfigError(Clip2FrameError):
    """A configuration key is unknown or its value impossible."""


class ModelFileError(Clip2FrameError):
    """A model file is missing, truncated, corrupted or of an unknown format."""


class DatasetError(Clip2FrameError):
    """A dataset root or manifest is missing files or holds malformed rows."""


class OutputError(Clip2FrameError):
    """An output location cannot be written."""


class MetricInputError(Clip2FrameError, ValueError):
    """Input a metric cannot score: wrong shapes, non-finite scores, non-binary truth, unknown labels.

    Also a :class:`ValueError`, what numpy/scikit-learn/mir_eval raise, so code written against those
    keeps working. The message starts with the name of the offending argument.
    """


class MissingExtraError(ConfigError):
    """An optional package is not installed; the message names the extra that installs it."""

    def __init__(self, what: str, package: str, extra: str):
        self.package = package
        self.extra = extra
        super().__init__(f"{what}: needs {package}, which is not installed (pip install 'clip2frame[{extra}]')")
