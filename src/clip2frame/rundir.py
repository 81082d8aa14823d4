"""The run directory of every trainer (``clip2frame train``, ``clip2frame video train``), and the one timestamp
format of provenance records.

A run directory holds ``config.yaml`` (the settings; a resume with other settings is refused),
``metrics.csv`` (one row per epoch, the header the union of the rows' keys, rewritten atomically),
``train_state.pt`` (what a resume needs) and ``model.safetensors``. Every file is written atomically, so a
killed run leaves complete files and at most temp files (``.<name>.<random>.tmp``), which the next run
removes.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from .config import load_yaml, save_yaml
from .errors import ConfigError, ModelFileError
from .fileio import atomic_write_bytes, atomic_write_text

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
STATE_FILE = "train_state.pt"
MODEL_FILE = "model.safetensors"


def utc_timestamp() -> str:
    """Now in UTC as ``2026-12-06T19:30:00Z``: the ``created`` of provenance records."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class RunDir:
    """``path`` (created) as a run directory; stale temp files of a killed run are removed on opening."""

    def __init__(self, path: str | Path, *, clean: bool = True):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        if clean:
            for stale in self.path.glob(".*.tmp"):  # never a finished output
                stale.unlink(missing_ok=True)

    @property
    def state_path(self) -> Path:
        """``<run>/train_state.pt``."""
        return self.path / STATE_FILE

    @property
    def model_path(self) -> Path:
        """``<run>/model.safetensors``."""
        return self.path / MODEL_FILE

    def save_config(self, data: Mapping[str, Any], *, may_change: Iterable[str] = (), check: bool = True) -> None:
        """Write ``config.yaml``; with ``check``, when the run has a state to resume, refuse settings other
        than the stored ones (but those in ``may_change``, e.g. ``epochs`` to train on)."""
        f = self.path / CONFIG_FILE
        if check and f.is_file() and self.state_path.is_file():
            old = load_yaml(f)
            keep = set(may_change)
            diff = [k for k in data if k in old and old[k] != data[k] and k not in keep]
            if diff:
                raise ConfigError(f"{f}: run exists with different settings ({', '.join(diff)}); "
                                  "use a new --out or remove the run")
        save_yaml(f, dict(data))

    def read_config(self) -> dict[str, Any] | None:
        """The stored ``config.yaml``, ``None`` when there is none."""
        f = self.path / CONFIG_FILE
        return load_yaml(f) if f.is_file() else None

    def write_metrics(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """``metrics.csv`` with ``rows`` (header: the union of their keys, in order of appearance)."""
        rows = list(rows)
        keys: list[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(self.path / METRICS_FILE, buf.getvalue())

    def read_metrics(self) -> list[dict[str, str]]:
        """The rows of ``metrics.csv`` (strings), empty when there is none."""
        f = self.path / METRICS_FILE
        if not f.is_file():
            return []
        return list(csv.DictReader(io.StringIO(f.read_text())))

    def append_metrics(self, row: Mapping[str, Any]) -> None:
        """One more row of ``metrics.csv``."""
        self.write_metrics([*self.read_metrics(), row])

    def save_state(self, state: Mapping[str, Any]) -> None:
        """Write ``train_state.pt`` (what a resume needs), atomically."""
        buf = io.BytesIO()
        torch.save(dict(state), buf)
        atomic_write_bytes(self.state_path, buf.getvalue())

    def load_state(self) -> dict[str, Any] | None:
        """The saved state (tensors only, ``weights_only``), ``None`` when there is none."""
        if not self.state_path.is_file():
            return None
        try:
            return torch.load(self.state_path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelFileError(f"{self.state_path}: cannot resume from this state file ({e})") from None
