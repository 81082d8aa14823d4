"""Every command in README.md's ```bash (and ```python) blocks runs, at tiny sizes, on this set-up machine.

The commands are read from README.md when the tests are collected, one test per command, run in README
order in one working directory (so ``train`` finds the corpus ``synth music`` rendered). A command passes
when it exits 0 (a server: when it answers ``GET /api/results``). The README's text is changed only by the
mapping below, applied to every command, so a new README command is run without touching this file:

* programs: ``clip2frame`` and ``.venv/bin/clip2frame`` -> ``python -m clip2frame``; ``torchrun`` ->
  ``python -m torch.distributed.run`` (this interpreter, this checkout);
* sizes (:data:`SIZES`): option values replaced by tiny ones (``--hours 2`` -> ``--hours 0.004``,
  ``--epochs 40`` -> ``--epochs 1``, ``--set epochs=40`` -> ``epochs=1``, ...);
* additions (:data:`EXTRA`): options appended to a subcommand (``demo`` -> ``--quick --quiet``,
  ``synth music`` -> ``--clip-seconds 4``, ``serve`` -> ``--port <free port>``, ...);
* paths (:data:`PATHS`): ``other_corpus`` -> ``corpus``, ``~/data/MedleyDB`` -> a synthetic MedleyDB tree;
  the inputs the README names (``song.wav``, ``other_songs/``, ``@list.txt``, ``clip.mp4``) are made by
  the :func:`workdir` fixture; ``$SECRET`` is a test token;
* servers (``serve``) run until they answer, then are stopped;
* :data:`SKIPPED`: commands no test can run, each with its reason (reported as skipped, never silently).

Marked ``slow``: about 30 commands, each a fresh interpreter (several minutes on a 2-core machine).
"""
from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

README = Path(__file__).resolve().parents[1] / "README.md"
PY = sys.executable
PROGRAMS = {"clip2frame": [PY, "-m", "clip2frame"], ".venv/bin/clip2frame": [PY, "-m", "clip2frame"],
            "torchrun": [PY, "-m", "torch.distributed.run"]}
#: option -> tiny value (``--opt V`` and ``--opt=V``); ``--set KEY=V`` entries under their key
SIZES = {"--hours": "0.004", "--epochs": "1", "--seeds": "2", "--nproc_per_node": "2", "--train": "2",
         "--validation": "1", "--test": "1", "--seconds": "3", "--min-duration": "1"}
SET_SIZES = {"epochs": "1", "batches_per_epoch": "2"}
#: (leading words of the command after the program) -> options appended
EXTRA: dict[tuple[str, ...], list[str]] = {
    ("demo",): ["--quick", "--quiet"],
    ("synth", "music"): ["--clip-seconds", "4", "--no-progress"],
    ("synth", "everyday"): ["--no-progress"],
    ("synth", "video"): ["--fps", "10", "--no-progress"],
    ("train",): ["--set", "epochs=1", "--set", "crop_frames=0", "--set", "batch_size=4"],
    ("experiment", "gaussian"): ["--set", "crop_frames=0"],
    ("synth", "outside"): ["--test-clips", "1", "--val-clips", "1", "--clip-seconds", "4"],
}
PATHS = {"other_corpus": "corpus", "~/data/MedleyDB": "data/MedleyDB"}
SECRET = "readme-test-token-0123456789"
VARS = {"SECRET": SECRET}   # $NAME in a command
#: command prefix (as written in the README) -> why it cannot run here
SKIPPED = {
    "bash scripts/setup.sh": "sets up the machine this test runs on (apt/pip installs); CI runs it first",
    "bash scripts/test.sh": "runs the whole test suite, this test included",
    "torchrun --nnodes=2": "needs two machines and a rendezvous host (the one-node command above runs)",
    "clip2frame experiment findings": "trains every finding's rows over 5 seeds until they converge (hours even on "
                                      "a tiny corpus); tests/test_findings.py runs the driver on a toy corpus",
    "arecord": "needs a sound card (the listen path from standard input is run by tests/test_stream.py)",
    "ffmpeg -i http://": "needs a network radio stream (listen from a pipe is run by tests/test_stream.py)",
    "clip2frame listen http://": "needs a network stream (listen from a path is run by tests/test_stream.py)",
    "clip2frame listen mic:": "needs a sound card and the 'live' extra",
}
#: exit codes other than 0 that mean the command worked (with why)
OK_CODES = {("data", "check"): (0, 1)}   # 1: the check found problems (the synthetic tree has some on purpose)
TIMEOUT_S = 1800


def readme_commands(text: str) -> list[tuple[str, str]]:
    """``[(kind, command)]`` of README.md's ``bash`` blocks (one per line, ``\\`` joined, ``&&`` split,
    comments dropped) and ``python`` blocks (one per block), in README order."""
    out: list[tuple[str, str]] = []
    for lang, body in re.findall(r"^```(bash|python)\n(.*?)^```", text, flags=re.S | re.M):
        if lang == "python":
            out.append(("python", body))
            continue
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words:
                cut = words.index("&&") if "&&" in words else len(words)
                out.append(("bash", shlex.join(words[:cut])))
                words = words[cut + 1:]
    return out


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def _id(kind_cmd: tuple[str, str]) -> str:
    kind, cmd = kind_cmd
    return ("python: " + cmd.splitlines()[-1]) if kind == "python" else cmd[:80]


def _skip_reason(cmd: str) -> str | None:
    return next((why for pre, why in SKIPPED.items() if cmd.startswith(pre)), None)


def _key(words: list[str]) -> tuple[str, ...]:
    return tuple(w for w in words if not w.startswith("-"))[:2]


def map_command(cmd: str, *, port: int) -> tuple[list[str], tuple[str, ...]]:
    """The argv a README command runs as here, and its subcommand words (e.g. ``("synth", "music")``)."""
    words = shlex.split(cmd)
    prog, args = PROGRAMS[words[0]], words[1:]
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        name = a.split("=", 1)[0]
        if name in SIZES and "=" in a:
            out.append(f"{name}={SIZES[name]}")
        elif a in SIZES and i + 1 < len(args):
            out += [a, SIZES[a]]
            i += 1
        elif a == "--set" and i + 1 < len(args) and args[i + 1].split("=", 1)[0] in SET_SIZES:
            k = args[i + 1].split("=", 1)[0]
            out += [a, f"{k}={SET_SIZES[k]}"]
            i += 1
        else:
            out.append(re.sub(r"\$(\w+)", lambda v: VARS.get(v.group(1), v.group(0)), PATHS.get(a, a)))
        i += 1
    if words[0] == "torchrun":   # torchrun's own options, then -m clip2frame SUBCOMMAND ...
        m = out.index("-m")
        prog, out = prog + out[:m + 2], out[m + 2:]
    sub = _key(out)
    for key, extra in EXTRA.items():
        if sub[: len(key)] == key:
            out += extra
    if sub[:1] == ("serve",):
        out += ["--port", str(port)]
    return prog + out, sub


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_wav(path: Path, seconds: float, freq: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * 16000)) / 16000
    noise = np.random.default_rng(0).standard_normal(t.size)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * noise).astype(np.float32), 16000)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The inputs README commands name: song.wav, other_songs/, list.txt, clip.mp4, a MedleyDB tree."""
    from test_reader_medleydb import make_medleydb

    from clip2frame.video.rendering.corpus import render_video
    from clip2frame.video.rendering.scene import VideoSynthConfig

    d = tmp_path_factory.mktemp("readme")
    _write_wav(d / "song.wav", 12.0, 440.0)
    _write_wav(d / "other_songs" / "a.wav", 6.0, 220.0)
    _write_wav(d / "extra" / "b.wav", 5.0, 660.0)
    (d / "list.txt").write_text("extra/b.wav\n")
    render_video(VideoSynthConfig(duration_s=3.0, fps=10, seed=1), 1, "violin", d / "clip.mp4")
    make_medleydb(d / "data" / "MedleyDB")
    return d


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "CLIP2FRAME_SERVE_TOKEN": "",
            "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}


def _serve(argv: list[str], cwd: Path, port: int, token: str | None) -> None:
    proc = subprocess.Popen(argv, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/results",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{shlex.join(argv)} exited {proc.returncode}:\n{proc.stdout.read()[-3000:]}")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    assert r.status == 200
                    return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"{shlex.join(argv)}: no answer on port {port} within 300 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("kind_cmd", COMMANDS, ids=[_id(c) for c in COMMANDS])
def test_readme_command_runs(kind_cmd, workdir):
    kind, cmd = kind_cmd
    if kind == "python":
        argv, sub = [PY, "-c", cmd], ("python",)
    else:
        if (why := _skip_reason(cmd)) is not None:
            pytest.skip(why)
        port = _free_port()
        argv, sub = map_command(cmd, port=port)
        if sub[:1] == ("serve",):
            _serve(argv, workdir, port, SECRET if "--token" in argv else None)
            return
    r = subprocess.run(argv, cwd=workdir, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    ok = next((codes for key, codes in OK_CODES.items() if sub[: len(key)] == key), (0,))
    assert r.returncode in ok, (f"README command `{cmd[:200]}` ran as `{shlex.join(argv)}` and exited "
                                f"{r.returncode}:\n{(r.stdout + r.stderr)[-4000:]}")


def test_the_readme_mapping_is_complete():
    """Fast: every README command maps to a runnable argv or a listed skip, and no skip is stale."""
    bash = [c for k, c in COMMANDS if k == "bash"]
    assert len(bash) >= 20 and any(k == "python" for k, _ in COMMANDS)
    for cmd in bash:
        if _skip_reason(cmd) is None:
            assert shlex.split(cmd)[0] in PROGRAMS, f"README command with no mapping: {cmd}"
            argv, _ = map_command(cmd, port=1)
            for opt, tiny in SIZES.items():   # no full-size option value survives the mapping
                assert not any(a == opt and argv[j + 1] != tiny for j, a in enumerate(argv[:-1])), cmd
    for pre in SKIPPED:
        assert any(c.startswith(pre) for c in bash), f"SKIPPED entry matches no README command: {pre}"
    # the mapping itself: sizes, paths, programs
    argv, sub = map_command("clip2frame synth music --out corpus --hours 2 --seed 0 --jobs 2", port=1)
    assert argv[3:] == ["synth", "music", "--out", "corpus", "--hours", "0.004", "--seed", "0", "--jobs", "2",
                        "--clip-seconds", "4", "--no-progress"] and sub == ("synth", "music")
    argv, _ = map_command('clip2frame serve tags/ --token "$SECRET"', port=9)
    assert argv[3:] == ["serve", "tags/", "--token", SECRET, "--port", "9"]
    argv, sub = map_command("torchrun --standalone --nproc_per_node=4 -m clip2frame train --set epochs=40", port=1)
    assert argv[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m"]
    assert sub[:1] == ("train",) and argv[argv.index("--set") + 1] == "epochs=1"
