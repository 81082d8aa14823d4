"""Analysis jobs of the viewer: uploads are analysed one at a time by a background worker.

An upload is streamed into a hidden staging folder ``RESULTS_DIR/uploads/.staging-<id>/``; the worker
runs the analyzer, writes the outputs, the waveform envelope and ``<stem>.meta.json`` there, then
renames the folder to ``uploads/<id>/`` — so a result appears in the listing complete or not at all,
and a failed analysis leaves nothing behind but the job's error message.
"""
from __future__ import annotations

import json
import logging
import queue
import re
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import media
from .._version import __version__
from ..errors import Clip2FrameError
from ..fileio import atomic_write_text
from ..infer.predict import predict
from ..results.activations import FrameActivations
from ..results.provenance import SIDECAR_SUFFIX, ModelIdentity, source_provenance
from ..results.readers import OTHER_KIND
from ..results.writers import write_outputs
from ..rundir import utc_timestamp
from ..signatures import accepts_keyword
from ..tags import MUSIC_TAG_KINDS
from .results import WAVEFORM_SUFFIX

log = logging.getLogger(__name__)

UPLOADS_DIR = "uploads"
#: Default size limit of ``RESULTS_DIR/uploads`` (``clip2frame serve --uploads-quota-mb``).
DEFAULT_UPLOADS_QUOTA_BYTES = 2048 * 1024 * 1024
META_FORMAT = "clip2frame-viewer-meta"
_JOB_ID = re.compile(r"[0-9a-f]{12}")
#: Output formats asked of ``clip2frame.results.writers.write_outputs`` for every upload.
DEFAULT_FORMATS = ("scores", "events", "npz", "audacity")
_MAX_JOBS_KEPT = 500

#: ``analyze(media_path[, progress=callable(fraction in [0, 1])]) -> FrameActivations``
Analyzer = Callable[..., Any]
#: ``write_outputs(acts, out_dir, *, formats, stem) -> dict[str, Path]``
Writer = Callable[..., Any]


def safe_stem(filename: str) -> str:
    """A file-system-safe stem from a user's file name (``"My song (live).wav"`` -> ``"My_song_live"``)."""
    stem = Path(filename.replace("\\", "/").split("/")[-1]).stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")
    return stem[:80] or "upload"


@dataclass
class Job:
    """One upload's analysis: its id, file, status and timings."""
    id: str
    filename: str
    media_type: str
    status: str = "queued"  # queued | running | done | error
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    result_id: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None


def default_analyzer(model: str | Path = "default") -> Analyzer:
    """``clip2frame.infer.predict.predict`` with the chosen model (imported on first use)."""

    def analyze(path: Path) -> Any:
        return predict(path, model=model, device="auto")

    return analyze


def default_writer() -> Writer:
    """The writer of an analysis' outputs (:func:`clip2frame.results.writers.write_outputs`)."""
    def write(acts, out_dir: Path, *, formats, stem: str):
        return write_outputs(acts, out_dir, formats=formats, stem=stem)

    return write


def _json_safe(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))


class JobManager:
    """Queue of analysis jobs, run one at a time on a worker thread; thread-safe."""

    def __init__(self, results_dir: Path, *, analyze: Analyzer, write: Writer,
                 formats: tuple[str, ...] = DEFAULT_FORMATS, model_name: str = "default",
                 uploads_quota_bytes: int | None = DEFAULT_UPLOADS_QUOTA_BYTES,
                 on_done: Callable[[str], None] | None = None,
                 on_removed: Callable[[], None] | None = None):
        self.results_dir = Path(results_dir)
        self.uploads_quota_bytes = uploads_quota_bytes
        self.on_done = on_done  # called with the result id before the job is reported done (the index)
        self.on_removed = on_removed  # called after the upload quota removed analyses (the index resyncs)
        self.analyze = analyze
        self.write = write
        self.formats = tuple(formats)
        self.model_name = model_name
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        # One worker: the model is CPU/GPU bound, parallel runs would only fight over the cores. A daemon
        # thread, so that Ctrl+C stops the server at once even during a long analysis.
        self._queue: queue.Queue = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="clip2frame-analyze", daemon=True)
        self._worker.start()
        self._closed = False
        self._accepts_progress = accepts_keyword(analyze, "progress")

    # -- staging -------------------------------------------------------------------------------
    def new_staging(self) -> tuple[str, Path]:
        """A fresh job id and its (created) hidden staging folder."""
        job_id = uuid.uuid4().hex[:12]
        staging = self.results_dir / UPLOADS_DIR / f".staging-{job_id}"
        staging.mkdir(parents=True, exist_ok=False)
        return job_id, staging

    def discard_staging(self, staging: Path) -> None:
        """Remove an upload's staging folder."""
        shutil.rmtree(staging, ignore_errors=True)

    # -- jobs ----------------------------------------------------------------------------------
    def submit(self, job_id: str, media_path: Path, *, filename: str, media_type: media.MediaType) -> dict:
        """Queue the analysis of an upload; the job's state."""
        job = Job(id=job_id, filename=filename, media_type=media_type.mime)
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            self._jobs[job_id] = job
            self._trim()
            self._queue.put((job_id, media_path, media_type))
        info = self.get(job_id)
        assert info is not None  # only finished jobs are ever trimmed
        return info

    def get(self, job_id: str) -> dict | None:
        """A job's state (elapsed seconds, jobs ahead of it), ``None`` when unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            d = asdict(job)
            end = job.finished or time.time()
            d["elapsed_s"] = round(end - job.started, 1) if job.started else 0.0
            # Jobs to finish before this one starts: the running one and those queued earlier.
            d["jobs_ahead"] = (
                sum(1 for j in self._jobs.values() if j.status == "running"
                    or (j.status == "queued" and j.created < job.created))
                if job.status == "queued" else 0
            )
            return d

    def list(self) -> list[dict]:
        """Every known job's state, newest first."""
        with self._lock:
            ids = sorted(self._jobs, key=lambda i: self._jobs[i].created, reverse=True)
        return [j for j in (self.get(i) for i in ids) if j is not None]

    def shutdown(self) -> None:
        """Refuse new jobs, drop the queued ones (and their uploads); a running analysis is abandoned."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # the stop of an earlier shutdown (an app started twice), not yet taken
                    continue
                job_id, media_path, _ = item
                self.discard_staging(media_path.parent)
                job = self._jobs[job_id]
                job.status, job.stage, job.error = "error", "failed", f"{job.filename}: server shut down"
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run(*item)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.status in ("done", "error")]
        for j in sorted(finished, key=lambda j: j.created)[: max(0, len(self._jobs) - _MAX_JOBS_KEPT)]:
            del self._jobs[j.id]

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs[job_id]
            for k, v in changes.items():
                setattr(job, k, v)

    def _run(self, job_id: str, media_path: Path, media_type: media.MediaType) -> None:
        staging = media_path.parent
        job = self._jobs[job_id]
        self._update(job_id, status="running", stage="analysing", progress=0.05, started=time.time())
        try:
            result_id = self._analyse(job_id, media_path, media_type, job.filename)
        except Exception as e:  # noqa: BLE001 - every failure becomes the job's error, never a crash
            if isinstance(e, Clip2FrameError):
                # The message names the staged file; show the user the name they uploaded.
                msg = str(e).replace(str(media_path), job.filename).replace(media_path.name, job.filename)
                log.warning("job %s (%s) failed: %s", job_id, job.filename, msg)
            else:
                msg = f"{job.filename}: analysis failed ({type(e).__name__}: {e})"
                log.exception("job %s (%s) failed", job_id, job.filename)
            self.discard_staging(staging)
            self._update(job_id, status="error", stage="failed", error=msg, finished=time.time())
            return
        if self.on_done is not None:
            try:
                self.on_done(result_id)
            except Exception as e:  # noqa: BLE001 - the result is on disk; a rescan lists it
                log.warning("job %s: result %s not indexed (%s)", job_id, result_id, e)
        if self.uploads_quota_bytes is not None:  # before "done": a finished job has its quota applied
            try:
                removed = enforce_uploads_quota(self.results_dir, self.uploads_quota_bytes,
                                                keep=[staging.parent / job_id])
                if removed and self.on_removed is not None:
                    self.on_removed()   # the index drops the rows of the removed analyses
            except OSError as e:  # a full or read-only disk must not stop the viewer
                log.warning("%s: upload quota not enforced (%s)", self.results_dir / UPLOADS_DIR, e)
        self._update(job_id, status="done", stage="done", progress=1.0, result_id=result_id,
                     finished=time.time())

    def _analyse(self, job_id: str, media_path: Path, media_type: media.MediaType, filename: str) -> str:
        stem = media_path.stem
        staging = media_path.parent

        def progress(fraction: float) -> None:
            f = float(np.clip(fraction, 0.0, 1.0))
            self._update(job_id, progress=round(0.05 + 0.8 * f, 3))

        kwargs = {"progress": progress} if self._accepts_progress else {}
        acts = self.analyze(media_path, **kwargs)
        if not isinstance(acts, FrameActivations):
            raise TypeError(f"the analyzer returned {type(acts).__name__}, not FrameActivations")

        self._update(job_id, stage="writing outputs", progress=0.87)
        self.write(acts, staging, formats=self.formats, stem=stem)

        self._update(job_id, stage="waveform", progress=0.93)
        duration_s = float(acts.duration)
        try:
            envelope = media.file_envelope(media_path)
            atomic_write_text(staging / f"{stem}{WAVEFORM_SUFFIX}", json.dumps(envelope))
            duration_s = max(duration_s, float(envelope["duration_s"]))
        except Exception as e:  # noqa: BLE001 - the taggram is still worth showing without it
            log.warning("%s: no waveform (%s)", filename, e)

        kinds = {lab: str(acts.kinds.get(lab) or MUSIC_TAG_KINDS.get(lab) or OTHER_KIND) for lab in acts.labels}
        am = acts.meta or {}
        model = ModelIdentity(name=str(am.get("model") or self.model_name), version=str(am.get("model_version") or ""),
                              weights_sha256=str(am.get("weights_sha256") or ""))
        meta = {
            "format": META_FORMAT,
            "format_version": 1,
            "source_name": filename,
            "media": media_path.name,
            "media_type": media_type.mime,
            "has_video": media.has_video_stream(media_path) if media_type.video else False,
            "duration_s": round(duration_s, 4),
            "labels": list(acts.labels),
            "kinds": kinds,
            "thresholds": {lab: round(float(t), 6) for lab, t in zip(acts.labels, acts.thresholds)},
            "model": _json_safe({"name": self.model_name, **(acts.meta or {})}),
            "provenance": source_provenance(model, media_path).to_dict() | {"source": filename},
            "created": utc_timestamp(),
            "clip2frame_version": __version__,
        }
        atomic_write_text(staging / f"{stem}{SIDECAR_SUFFIX}", json.dumps(meta, indent=1))

        final = staging.parent / job_id
        staging.rename(final)
        return f"{UPLOADS_DIR}/{job_id}/{stem}"


def _tree_bytes(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:
            pass
    return total


def viewer_analyses(results_dir: Path) -> list[tuple[float, Path]]:
    """The finished analyses of uploads, oldest first: ``(mtime of its meta file, folder)``.

    Only folders ``uploads/<job id>/`` holding a ``*.meta.json`` of format :data:`META_FORMAT` count;
    anything else in ``uploads/`` (a result written there by ``clip2frame tag``, a staging folder of a
    running job) is never listed, so never removed.
    """
    up = Path(results_dir) / UPLOADS_DIR
    found: list[tuple[float, Path]] = []
    if not up.is_dir():
        return found
    for d in up.iterdir():
        if not (_JOB_ID.fullmatch(d.name) and d.is_dir() and not d.is_symlink()):
            continue
        for m in d.glob(f"*{SIDECAR_SUFFIX}"):
            try:
                if json.loads(m.read_text(encoding="utf-8")).get("format") == META_FORMAT:
                    found.append((m.stat().st_mtime, d))
                    break
            except (OSError, ValueError, AttributeError):
                continue
    return sorted(found, key=lambda x: (x[0], x[1].name))


def enforce_uploads_quota(results_dir: Path, quota_bytes: int, *, keep: Sequence[Path] = ()) -> list[Path]:
    """Remove the oldest viewer analyses until ``RESULTS_DIR/uploads`` holds at most ``quota_bytes``.

    Everything in ``uploads/`` counts towards the quota, but only :func:`viewer_analyses` are removed,
    never the folders in ``keep`` (the analysis just finished) nor a result ``clip2frame tag`` wrote.
    Returns the removed folders.
    """
    up = Path(results_dir) / UPLOADS_DIR
    if not up.is_dir():
        return []
    total = _tree_bytes(up)
    if total <= quota_bytes:
        return []
    kept = {Path(k).resolve() for k in keep}
    removed: list[Path] = []
    for _, d in viewer_analyses(results_dir):
        if total <= quota_bytes:
            break
        if d.resolve() in kept:
            continue
        size = _tree_bytes(d)
        shutil.rmtree(d, ignore_errors=True)
        if not d.exists():
            total -= size
            removed.append(d)
            log.info("upload quota (%d MB): removed the analysis %s (%d bytes)", quota_bytes >> 20, d.name, size)
    if total > quota_bytes:
        log.warning("%s: %d MB, over the %d MB quota, with nothing more that may be removed", up,
                    total >> 20, quota_bytes >> 20)
    return removed
