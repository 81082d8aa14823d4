"""One resumable command for the ten findings' long runs (issue #25):
``clip2frame experiment findings --seeds 5 --data CORPUS --out results/findings``.

Every finding's cells run in ``work`` (run directories, feature caches, the video corpus: large, git-ignored
``experiments/findings-work`` by default); a finished run is reused and a killed one resumes (the trainers
resume from their states, evaluations come from each run's ``eval.json``). After each finding its report
(``finding_<key>.{md,csv,json}``) and the small files of every run it used (``eval.json`` with the run's
``training`` record, ``summary.json``, ``config.yaml``; video: each seed's ``pairs.json`` and
``training.json``) are copied to ``out`` under the same relative paths, so every cell can be recomputed
from ``out`` alone; then ``out/findings_table.md`` is rendered (:func:`.findings_report.render_findings_table`) and, with
``results``, the block between ``<!-- findings-table:start -->`` and ``<!-- findings-table:end -->`` of
RESULTS.md is replaced by it.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..errors import ConfigError
from ..fileio import atomic_write_text
from .findings import all_findings, run_finding
from .findings_report import render_findings_table
from .video_findings import run_video_findings

log = logging.getLogger(__name__)

SMALL_FILES = ("eval.json", "summary.json", "config.yaml")
START, END = "<!-- findings-table:start -->", "<!-- findings-table:end -->"


def keep_small_files(work: Path, out: Path, stem: str) -> int:
    """Copy ``work/<stem>.{md,csv,json}`` and every run's small files (``seed*/runs/*/``:
    :data:`SMALL_FILES`; ``seed*/pairs.json``, ``seed*/training.json``) to the same paths under ``out``;
    returns the files copied."""
    n = 0
    files = [work / f"{stem}{ext}" for ext in (".md", ".csv", ".json")]
    files += [p for name in SMALL_FILES for p in work.glob(f"seed*/runs/*/{name}")]
    files += list(work.glob("seed*/pairs.json")) + list(work.glob("seed*/training.json"))
    for src in files:
        if src.is_file() and work.resolve() != out.resolve():
            dest = out / src.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            n += 1
    return n


def update_results(results: Path, table: str) -> None:
    """Replace the findings-table block of ``results`` (between :data:`START` and :data:`END`)."""
    text = results.read_text(encoding="utf-8")
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise ConfigError(f"{results}: no '{START}' ... '{END}' block to replace")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    atomic_write_text(results, f"{head}{START}\n{table}{END}{tail}")


def run_findings(keys: list[str], runner_for, out: Path, work: Path, seeds: list[int], *,
                 everyday_runner=None, video: dict | None = None, results: Path | None = None) -> Path:
    """Run the findings ``keys`` (all ten when empty) over ``seeds`` and render the table.

    Parameters
    ----------
    keys : finding numbers ("1".."10").
    runner_for : ``runner_for(finding)`` -> the :class:`~.runner.Runner` of a chapter-3 finding on the
        music corpus, its ``out`` = ``work`` (the caller applies the finding's protocol).
    out, work : where the reports and small files go; where the runs live.
    everyday_runner : the same for finding 6 on the everyday corpus; None skips finding 6 (logged).
    video : keyword arguments of :func:`.video_findings.run_video_findings` (``quick``, ``n_boot``,
        ``threads``); None skips findings 8-10 (logged).
    results : a RESULTS.md whose findings-table block is replaced.

    Returns
    -------
    Path of ``out/findings_table.md``.
    """
    todo = [f for f in all_findings() if not keys or f.key in keys]
    if keys and len(todo) != len(set(keys)):
        raise ConfigError(f"findings: unknown finding in {', '.join(keys)} (1-10)")
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    vids = [f for f in todo if f.recipe is None]
    for f in todo:
        if f.recipe is None:
            continue
        runner = everyday_runner(f) if f.corpus == "everyday" and everyday_runner else None
        if f.corpus != "everyday":
            runner = runner_for(f)
        if runner is None:
            log.warning("finding %s: no everyday-sound corpus given (--everyday-data); skipped", f.key)
            continue
        log.info("finding %s: %s", f.key, f.title)
        run_finding(f, runner, seeds)
        keep_small_files(work, out, f"finding_{f.key}")
    if vids and video is None:
        log.warning("findings %s: video findings not requested; skipped", ", ".join(f.key for f in vids))
    elif vids:
        assert video is not None
        run_video_findings(vids, work, seeds, **video)
        for f in vids:
            keep_small_files(work, out, f"finding_{f.key}")
    table = render_findings_table(out)
    path = out / "findings_table.md"
    atomic_write_text(path, table)
    if results is not None:
        update_results(results, table)
    return path
