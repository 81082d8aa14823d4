"""The import contracts of ``.importlinter`` (issue #26) hold: ``lint-imports`` over the whole package.

Layers of the package, ``video`` by role (inference imports neither rendering nor training), ``models``
importing no ``video`` module. Needs import-linter (``pip install import-linter``); skipped without it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(config: Path, src: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).is_file():
        pytest.skip("import-linter is not installed (pip install import-linter): the import contracts are unchecked")
    env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([exe, "--config", str(config), "--no-cache"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_import_contracts_hold():
    res = _lint_imports(ROOT / ".importlinter", ROOT / "src")
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_a_broken_contract_is_reported(tmp_path):
    """The check can fail: a copy of the package whose inference module imports the training side breaks
    the video contracts."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "clip2frame", src / "clip2frame",
                    ignore=shutil.ignore_patterns("__pycache__", "assets", "static"))
    fusion = src / "clip2frame" / "video" / "inference" / "fusion.py"
    fusion.write_text(fusion.read_text() + "\nfrom ..training import targets  # noqa: E402,F401\n")
    res = _lint_imports(ROOT / ".importlinter", src)
    assert res.returncode != 0
    assert "video inference imports no rendering or training module" in res.stdout
    assert "BROKEN" in res.stdout
