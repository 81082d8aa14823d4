"""Packaging: a lean base install, extras named by one-line errors, locks, license and citation metadata.

The lean-install checks run the CLI in a subprocess where every optional package is made unimportable
(``sys.modules[name] = None``), the stand-in for scripts/check_dist.sh's fresh lean venv.
"""
from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import clip2frame
from clip2frame.errors import MissingExtraError
from clip2frame.extras import EXTRA_OF_MODULE, missing_extra_message, require

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
BASE = {"torch", "numpy", "soundfile", "av", "soxr", "safetensors", "pyyaml", "tqdm"}


def _name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", req).group()).lower()


def _lock(path: Path) -> dict[str, str]:
    """``{name: the whole entry (pin + hashes)}`` of a pip-compile lock."""
    entries, cur = {}, None
    for line in path.read_text().splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            cur = _name(line)
            entries[cur] = line.split(" ")[0]
        elif cur and line.strip().startswith("--hash"):
            entries[cur] += " " + line.strip().rstrip(" \\")
    return entries


# ------------------------------------------------------------------------------------ pyproject / locks
def test_base_dependencies_are_exactly_the_lean_set():
    assert {_name(d) for d in PROJECT["dependencies"]} == BASE


def test_extras_and_dependency_groups():
    extras = PROJECT["optional-dependencies"]
    assert not {"test", "dev", "ray"} & set(extras)  # tests are a dependency group, never a published extra
    assert {"synth", "serve", "video", "jams", "onnx", "eval", "index-postgres", "plots",
            "completion", "all"} <= set(extras)
    assert extras["plots"] == ["matplotlib>=3.7"] and _name(extras["completion"][0]) == "shtab"
    every = re.fullmatch(r"clip2frame\[(.*)\]", extras["all"][0]).group(1).split(",")
    assert len(extras["all"]) == 1 and sorted(every) == sorted(set(extras) - {"all"})
    groups = PYPROJECT["dependency-groups"]
    dev = {_name(r) for r in groups["dev"] if isinstance(r, str)}
    assert {"include-group": "test"} in groups["dev"] and {"build", "twine", "mypy"} <= dev
    assert {"pytest", "librosa", "scikit-learn", "mir-eval"} <= {_name(r) for r in groups["test"]}


def test_requirements_in_pins_every_declared_package():
    pinned = {_name(ln) for ln in (ROOT / "requirements.in").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")}
    declared = {_name(r) for r in PROJECT["dependencies"]}
    declared |= {_name(r) for k, reqs in PROJECT["optional-dependencies"].items() if k != "all" for r in reqs}
    declared |= {_name(r) for reqs in PYPROJECT["dependency-groups"].values() for r in reqs if isinstance(r, str)}
    assert declared - pinned == set()
    assert "ray" not in pinned


def test_base_lock_is_the_full_lock_restricted_to_the_base():
    full, base = _lock(ROOT / "requirements.lock"), _lock(ROOT / "requirements-base.lock")
    assert BASE <= set(base)
    assert all(base[k] == full[k] for k in base), [k for k in base if base[k] != full.get(k)]
    assert not {"scipy", "matplotlib", "ray", "fastapi", "music21", "opencv-python-headless"} & set(base)
    assert full["torch"].startswith("torch==2.13.0+cpu") and "ray" not in full


def test_license_and_citation():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 clip2frame developers" in text
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert "urls" not in PROJECT  # no public repository yet: no invented addresses
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]  # PEP 639: the expression
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    thesis = cff["references"][0]
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT" and cff["version"] == clip2frame.__version__
    assert thesis["title"].startswith("Weakly-supervised Event Detection for Music Audios and Videos")
    assert (thesis["authors"][0]["family-names"], thesis["year"]) == ("Liu", 2018)
    assert thesis["institution"]["name"].startswith("National Taiwan University")


# ----------------------------------------------------------------------------------- extras mapping
def test_extra_of_each_module_lists_its_distribution():
    extras = PROJECT["optional-dependencies"]
    dists = importlib.metadata.packages_distributions()
    for module, extra in EXTRA_OF_MODULE.items():
        assert extra in extras, module
        for dist in dists.get(module, []):  # installed here: its distribution must be in that extra
            assert _name(dist) in {_name(r) for r in extras[extra]}, (module, dist, extra)
    assert dists.get("scipy") and "scipy>=1.10" in extras["synth"]  # the mixer's filters


def test_require_names_the_extra():
    assert require("json", what="x") is json
    with pytest.raises(MissingExtraError, match=r"^inspect --plot: needs nopkg_xyz, which is not installed "
                                                r"\(pip install 'clip2frame\[plots\]'\)$"):
        require("nopkg_xyz.sub", what="inspect --plot", extra="plots")
    e = ModuleNotFoundError("No module named 'cv2'", name="cv2")
    assert missing_extra_message(e, what="detect") == \
        "detect: needs cv2, which is not installed (pip install 'clip2frame[video]')"
    assert missing_extra_message(ModuleNotFoundError("x", name="numpy"), what="tag") is None


def test_cli_turns_a_missing_optional_module_into_one_line(monkeypatch, capsys):
    from clip2frame import cli

    def boom(name):
        def handler(args):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return handler

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["detect"].set_defaults(handler=boom("cv2"))
    assert cli.main(["detect", "x.mp4", "--out", "o"]) == 2
    assert capsys.readouterr().err == "error: detect: needs cv2, which is not installed " \
                                      "(pip install 'clip2frame[video]')\n"
    parser._subparsers._group_actions[0].choices["detect"].set_defaults(handler=boom("numpy"))
    with pytest.raises(ModuleNotFoundError):  # a base package missing is a broken install: the traceback
        cli.main(["detect", "x.mp4", "--out", "o"])


# ------------------------------------------------------------- lean install (optional modules blocked)
BLOCKER = textwrap.dedent("""
    import sys
    BLOCKED = set(sys.argv[1].split(","))
    for m in list(sys.modules):
        if m.split(".")[0] in BLOCKED:
            del sys.modules[m]
    for m in BLOCKED:  # what an absent package looks like: import raises, importlib.util.find_spec is None
        sys.modules[m] = None
    code = sys.argv[2]
    if code == "cli":
        from clip2frame.cli import main
        sys.exit(main(sys.argv[3:]))
    exec(code)
""")



def _lean(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PYTHONPATH=str(Path(clip2frame.__file__).parents[1]), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", BLOCKER, ",".join(sorted(EXTRA_OF_MODULE)), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("lean")
    t = np.arange(4 * 16000) / 16000
    sf.write(d / "song.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, subtype="PCM_16")
    return d


def test_base_commands_run_without_any_extra(song):
    r = _lean("cli", "tag", "song.wav", "--out", "tags", "-q", "--device", "cpu", cwd=song)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["tagged"] == 1 and (song / "tags" / "song.scores.tsv").is_file()
    r = _lean("cli", "inspect", "--model", "default", cwd=song)
    assert r.returncode == 0 and "piano" in r.stdout, r.stderr[-2000:]
    r = _lean("cli", "search", "tags", "piano", "--json", cwd=song)
    assert r.returncode == 0 and isinstance(json.loads(r.stdout), (list, dict)), r.stderr[-2000:]


@pytest.mark.parametrize("args, extra", [
    (["inspect", "--model", "default", "--plot", "s.png"], "plots"),
    (["serve", "tags"], "serve"),
    (["export", "--model", "default", "--onnx", "m.onnx"], "onnx"),
])
def test_extra_commands_say_which_extra(song, args, extra):
    r = _lean("cli", *args, cwd=song)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1, r.stderr[-2000:]
    assert r.returncode == 2 and err[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert err[0].endswith(f"(pip install 'clip2frame[{extra}]')")


def test_jams_format_without_jams_is_a_setup_error(song):
    r = _lean("cli", "tag", "song.wav", "--out", "jtags", "--format", "scores,jams", "-q", cwd=song)
    assert r.returncode == 2 and "format jams" in r.stderr and "(pip install 'clip2frame[jams]')" in r.stderr \
        and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert not (song / "jtags").exists()  # refused before any file


def test_experiment_statistics_need_no_scipy(song):
    r = _lean("from clip2frame.experiments.stats import mean_ci; print(mean_ci([1.0, 2.0, 3.0]).fmt())", cwd=song)
    assert r.returncode == 0 and r.stdout.strip() == "2.000 ± 2.484", r.stderr[-2000:]  # t(0.975, 2) = 4.303


@pytest.mark.parametrize("code, extra", [
    ("import numpy as np; from clip2frame.data.synth.mix import shelf_eq;"
     "shelf_eq(np.ones(100, np.float32), sr=16000, low_db=3, high_db=-3)", "synth"),
    ("from clip2frame.experiments.figures import _plt; _plt()", "plots"),
])
def test_library_paths_raise_the_missing_extra_error(song, code, extra):
    r = _lean(f"from clip2frame.errors import MissingExtraError\ntry:\n    {code}\n"
              f"except MissingExtraError as e:\n    print(e)", cwd=song)
    assert r.returncode == 0 and r.stdout.strip().endswith(f"(pip install 'clip2frame[{extra}]')"), r.stderr[-2000:]


def test_ray_backend_removed(tmp_path, capsys):
    """Ray was removed (BENCHMARKS.md, "Ray backend removed"): `--shard I/N` under a scheduler does its job."""
    import importlib.util

    from clip2frame.cli import main

    assert importlib.util.find_spec("clip2frame.infer.ray_backend") is None
    with pytest.raises(SystemExit) as e:
        main(["tag", str(tmp_path), "--out", str(tmp_path / "o"), "--backend", "ray"])
    assert e.value.code == 2 and "unrecognized arguments: --backend ray" in capsys.readouterr().err
