"""How torch's CPU thread pool waits and how many threads it starts: the one owner.

On a machine shared with other work, torch's default (GNU OpenMP threads spin-waiting at every parallel
region's barrier) multiplies the CPU time a run burns: a thread that finished its share spins on a core
while its partner waits to be scheduled: 20x the CPU seconds of a training step, 10x of tagging, on this
project's shared 2-core VM (``benchmarks/bench_contention.py``; BENCHMARKS.md, "CPU contention"). So,
before torch loads,
:func:`configure_process` sets (each only where the user has not):

* ``OMP_WAIT_POLICY=PASSIVE`` — idle OpenMP threads sleep instead of spinning (libgomp, which the torch
  CPU wheel uses, reads it once, when torch loads; it cannot be changed afterwards);
* ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` = the cores this process may run on (``os.sched_getaffinity``,
  so ``taskset``/cgroup CPU sets are honoured); a user's ``OMP_NUM_THREADS`` sizes both;
  ``CLIP2FRAME_THREADS=N`` overrides both.

The thread count is not lowered by the load average: with sleeping idle threads, two threads on two busy
cores cost about the CPU of one and mostly finish sooner (the same benchmark, settings ``t1`` and ``free``).
Settings of a run (``num_threads`` of ``clip2frame train``, ``threads`` of the video trainers) still call
``torch.set_num_threads`` and win over the default set here.
"""
from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity (``os.cpu_count()`` where that is unknown), >= 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Intra-op threads for this process: ``$CLIP2FRAME_THREADS`` when a positive integer, else
    :func:`usable_cores`."""
    fixed = os.environ.get("CLIP2FRAME_THREADS", "").strip()
    return int(fixed) if fixed.isdigit() and int(fixed) > 0 else usable_cores()


def configure_process() -> dict[str, str]:
    """Set torch's thread variables before it loads, each only where unset; return what was set.

    Call it before anything imports torch (``clip2frame.cli.main`` does, so every command runs with it).
    Where torch is already loaded its OpenMP pool has read the environment: then only the thread count
    is applied (``torch.set_num_threads``), and only when ``CLIP2FRAME_THREADS`` asks for one.

    Returns
    -------
    dict
        ``{variable: value}`` of what this call set (empty when the environment already had them).
    """
    done: dict[str, str] = {}
    if "torch" in sys.modules:
        if os.environ.get("CLIP2FRAME_THREADS"):
            torch = sys.modules["torch"]  # already loaded: this module never loads it
            torch.set_num_threads(default_threads())
            done["torch.set_num_threads"] = str(torch.get_num_threads())
        return done
    if WAIT_POLICY[0] not in os.environ:
        done[WAIT_POLICY[0]] = WAIT_POLICY[1]
    explicit = bool(os.environ.get("CLIP2FRAME_THREADS"))
    # a user's OMP_NUM_THREADS sizes MKL's pool too (torch takes its count from MKL when MKL's is set)
    threads = str(default_threads()) if explicit else os.environ.get("OMP_NUM_THREADS", str(default_threads()))
    for var in THREAD_VARS:
        if var not in os.environ or explicit:
            done[var] = threads
    os.environ.update(done)
    log.debug("CPU threads: %s", done or "as the environment sets them")
    return done
