"""clip2frame._threads: torch's OpenMP threads sleep when idle and match the usable cores (issue #27)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import clip2frame.cli as cli
from clip2frame import _threads

CLEARED = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "CLIP2FRAME_THREADS")
# In a fresh process: the CLI's entry (``clip2frame --version`` exits after it) or configure_process alone,
# then torch loads and reports its pool.
PROBE = ("import contextlib, json, os, sys; from clip2frame.cli import main; import clip2frame._threads as t\n"
         "with contextlib.suppress(SystemExit): main(['--version']) if len(sys.argv) > 1 else t.configure_process()\n"
         "import torch; print(json.dumps({'wait': os.environ.get('OMP_WAIT_POLICY'), "
         "'omp': os.environ.get('OMP_NUM_THREADS'), 'torch': torch.get_num_threads()}))")


def _probe(*, cli_run: bool = False, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    out = subprocess.run([sys.executable, "-c", PROBE] + (["cli"] if cli_run else []), env={**base, **env},
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_cli_run_starts_torch_with_passive_threads_one_per_usable_core():
    got = _probe(cli_run=True)      # the entry point every `clip2frame ...` command goes through
    cores = len(os.sched_getaffinity(0))
    assert got == {"wait": "PASSIVE", "omp": str(cores), "torch": cores}


def test_user_settings_win():
    assert _probe(OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1") == {"wait": "ACTIVE", "omp": "1", "torch": 1}
    assert _probe(CLIP2FRAME_THREADS="1") == {"wait": "PASSIVE", "omp": "1", "torch": 1}


def test_configure_process_after_torch_loaded_only_applies_an_explicit_count(monkeypatch):
    import torch

    before = torch.get_num_threads()
    for k in CLEARED:
        monkeypatch.delenv(k, raising=False)
    assert _threads.configure_process() == {}               # too late for the wait policy: leaves it
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("CLIP2FRAME_THREADS", "1")
    try:
        assert _threads.configure_process() == {"torch.set_num_threads": "1"} and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setenv("CLIP2FRAME_THREADS", "lots")         # not a count: the usable cores
    assert _threads.default_threads() == _threads.usable_cores() >= 1


def test_cli_main_configures_before_the_command(monkeypatch):
    calls = []
    monkeypatch.setattr(_threads, "configure_process", lambda: calls.append(1) or {})
    assert cli.main([]) == 0
    assert calls == [1]
