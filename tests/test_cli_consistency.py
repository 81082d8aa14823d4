"""One command line: global -v/-q anywhere, one meaning per flag (the glossary of docs/CLI.md), the model
given as --model everywhere, the same --device/--resolution, one list of formats, exit codes, optional
packages checked up front, hints, a clean stderr (no library warnings, no FFmpeg lines, no BrokenPipe
traceback), shell completion, and the Python API's signature."""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

import clip2frame
from clip2frame.cli import EXIT_BROKEN_PIPE, build_parser, log_level, main
from clip2frame.cli.flags import GLOSSARY, flag_uses, glossary_markdown, subparsers_of
from clip2frame.infer import batch
from clip2frame.results.activations import FrameActivations
from clip2frame.results.formats import TAG_FORMATS
from clip2frame.timebase import RESOLUTIONS

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
LABELS = ["clean electric guitar", "piano"]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _wav(path: Path, seconds: float = 2.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.4 * np.sin(2 * np.pi * 440 * t) * (t < 1.0)).astype(np.float32), SR)
    return path


class _Fake:
    """load_backend stand-in: 'clean electric guitar' active while the signal is loud, 'piano' never."""

    def __init__(self) -> None:
        self.model = SimpleNamespace(name="fake", version="1", labels=LABELS, feature_spec=SimpleNamespace(sr=SR))
        self.calls = 0

    def predict(self, audio, *, model, sr=None, resolution="model", device="cpu"):
        self.calls += 1
        wave = np.asarray(audio, dtype=np.float32)
        hop = 8192
        T = max(1, -(-len(wave) // hop))
        loud = np.array([float(np.abs(wave[t * hop:(t + 1) * hop]).max() > 0.1) for t in range(T)])
        bounds = np.r_[np.arange(T) * hop / SR, len(wave) / SR]
        return FrameActivations(LABELS, np.stack([0.9 * loud, np.full(T, 0.1)], 1), bounds, [0.5, 0.5])


@pytest.fixture
def fake(monkeypatch):
    from clip2frame.audio.io import load_audio

    f = _Fake()
    monkeypatch.setattr(batch, "load_backend", lambda model, dev, *a: (f.model, f.predict, load_audio))
    return f


@pytest.fixture
def catalogue(tmp_path, fake, capsys):
    """A tagged folder with an index whose tags include the multi-word 'clean electric guitar'."""
    out = tmp_path / "tags"
    assert main(["tag", str(_wav(tmp_path / "in" / "a.wav")), str(_wav(tmp_path / "in" / "b.wav")),
                 "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    return out


# ----------------------------------------------------------------------------------- global options
@pytest.mark.parametrize("argv", [
    ["-q", "tag", "a.wav", "--out", "o"], ["tag", "a.wav", "--out", "o", "-q"], ["tag", "-q", "a.wav", "--out", "o"],
    ["-q", "search", "d", "t"], ["search", "d", "t", "--quiet"], ["synth", "music", "--out", "x", "-q"],
    ["-q", "video", "evaluate", "--data", "d"], ["video", "evaluate", "--data", "d", "-q"],
])
def test_quiet_is_global_before_or_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.verbose == 0 and log_level(args) == 30  # WARNING


@pytest.mark.parametrize("argv", [
    ["-v", "tag", "a.wav", "--out", "o"], ["tag", "a.wav", "--out", "o", "-v"], ["evaluate", "--data", "d", "-v"],
    ["data", "check", "embedded", "root", "-v"], ["-v", "inspect"], ["export", "--onnx", "m.onnx", "--verbose"],
])
def test_verbose_is_global_before_or_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.verbose >= 1 and log_level(args) == 10  # DEBUG


def test_defaults_without_global_options():
    args = build_parser().parse_args(["tag", "a.wav", "--out", "o"])
    assert args.quiet is False and args.verbose == 0 and log_level(args) == 20  # INFO


def test_every_parser_has_the_global_options():
    for path, p in subparsers_of(build_parser()):
        opts = {o for a in p._actions for o in a.option_strings}
        assert {"-v", "--verbose", "-q", "--quiet"} <= opts, " ".join(path)


# ----------------------------------------------------------------------------------- one meaning per flag
def test_every_flag_has_one_meaning_from_the_glossary():
    """A flag defined by several commands must start its help with its glossary meaning in each (or, with no
    glossary entry, have the same help everywhere): a new flag reusing a name for something else fails."""
    uses = flag_uses(build_parser())
    problems = []
    for flag, where in sorted(uses.items()):
        if flag in GLOSSARY:
            problems += [f"{flag} in '{cmd}': {h!r}" for cmd, h in where if not h.startswith(GLOSSARY[flag])]
        elif len({h for _, h in where}) > 1:
            problems.append(f"{flag}: several meanings, add it to cli/flags.GLOSSARY: {where}")
    assert not problems, "\n".join(problems)
    assert set(GLOSSARY) - {"--verbose", "--quiet"} <= set(uses), "glossary entries no command defines"


def test_renamed_flags_mean_one_thing():
    uses = flag_uses(build_parser())
    commands = {flag: sorted({c for c, _ in where}) for flag, where in uses.items()}
    assert commands["--min-duration"] == ["search"]  # the shortest hit; events: --min-event
    assert commands["--min-event"] == ["detect", "listen", "tag"]
    assert commands["--threshold"] == ["detect", "search"]
    assert commands["--list"] == ["experiment"] and commands["--max-listed"] == ["data check"]


def test_docs_glossary_is_current():
    doc = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert glossary_markdown(build_parser()) in doc, \
        "docs/CLI.md: regenerate the table with bash scripts/cli_glossary.sh --write"


# ----------------------------------------------------------------------------------- model, device, resolution
@pytest.mark.parametrize("command", [["inspect"], ["export", "--onnx", "m.onnx"], ["evaluate", "--data", "d"],
                                     ["thresholds", "--data", "d", "--out", "m.safetensors"], ["tag", "a", "--out", "o"],
                                     ["serve"]])
def test_model_is_given_as_model_option_with_the_packaged_default(command):
    p = build_parser()
    assert p.parse_args(command).model == "default"
    assert p.parse_args([*command, "--model", "m.safetensors"]).model == "m.safetensors"


def test_video_train_names_the_kind_not_a_model():
    args = build_parser().parse_args(["video", "train", "--kind", "sound", "--data", "d", "--out", "r"])
    assert args.kind == "sound"


def test_model_as_positional_still_works_with_a_warning(tmp_path, caplog, capsys):
    caplog.set_level("WARNING")
    assert main(["inspect", "default", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tags"]
    assert "deprecated" in caplog.text and "--model default" in caplog.text
    assert main(["inspect", "default", "--model", "other.safetensors"]) == 2
    assert "give the model once" in capsys.readouterr().err


def _option(command: list[str], flag: str):
    p = dict(subparsers_of(build_parser()))[tuple(command)]
    return next(a for a in p._actions if flag in a.option_strings)


def test_device_and_resolution_are_the_same_options_in_tag_and_evaluate():
    for flag in ("--device", "--resolution"):
        tag, ev = _option(["tag"], flag), _option(["evaluate"], flag)
        assert (tag.choices, tag.default, tag.help) == (ev.choices, ev.default, ev.help)
    assert tuple(_option(["tag"], "--resolution").choices) == RESOLUTIONS
    assert _option(["detect"], "--device").help == _option(["tag"], "--device").help


def test_tag_format_help_and_error_list_the_same_formats(capsys):
    help_text = _option(["tag"], "--format").help
    listed = help_text.split("; ")[1].split(" ")[0].split(",")
    assert tuple(listed) == TAG_FORMATS
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["tag", "a.wav", "--out", "o", "--format", "overlay"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"choose from {', '.join(TAG_FORMATS)})" in err


# ----------------------------------------------------------------------------------- exit codes, up-front checks
def test_missing_input_is_an_input_error_and_writes_nothing(tmp_path, fake, capsys):
    out = tmp_path / "out"
    assert main(["tag", str(tmp_path / "nope.wav"), str(tmp_path / "gone.flac"), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'nope.wav'}: no such file or directory (and 1 more missing inputs)"]
    assert not out.exists() and fake.calls == 0


def test_missing_input_beside_good_ones_is_a_failed_file(tmp_path, fake, capsys):
    out = tmp_path / "out"
    assert main(["tag", str(_wav(tmp_path / "a.wav")), str(tmp_path / "nope.wav"), "--out", str(out), "-q"]) == 1
    assert (out / "a.scores.tsv").is_file() and "nope.wav" in (out / "failures.tsv").read_text()


def test_jams_without_the_package_fails_up_front(tmp_path, fake, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jams", None)  # import jams -> ImportError; find_spec -> None
    out = tmp_path / "out"
    assert main(["tag", str(_wav(tmp_path / "a.wav")), "--out", str(out), "--format", "scores,jams"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: format jams: the 'jams' package is not installed (pip install 'clip2frame[jams]')"]
    assert not out.exists() and fake.calls == 0
    from clip2frame.errors import ConfigError
    from clip2frame.infer.batch import tag_files
    from clip2frame.infer.options import TagOptions

    with pytest.raises(ConfigError, match=r"clip2frame\[jams\]"):  # the library checks it before any work too
        tag_files([tmp_path / "a.wav"], out_dir=out, options=TagOptions(formats="scores,jams"))
    assert not out.exists() and fake.calls == 0


# ----------------------------------------------------------------------------------- search hint
def test_search_names_the_tag_an_unquoted_multi_word_tag_makes(catalogue, capsys):
    assert main(["search", str(catalogue), "electric", "guitar"]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean 'clean electric guitar'? quote multi-word tags" in err and "\n" not in err
    assert main(["search", str(catalogue), "clean", "electric", "guitar"]) == 2
    assert "did you mean 'clean electric guitar'" in capsys.readouterr().err
    assert main(["search", str(catalogue), "clean electric guitar", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["segments"]
    assert main(["search", str(catalogue), "tuba", "horn"]) == 2  # no tag to suggest: the usage hint
    assert "quote a multi-word tag" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- a clean stderr
def test_stdout_closed_early_exits_quietly(catalogue):
    """``clip2frame search ... | head``: the reader is gone before we write; no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "clip2frame", "search", str(catalogue), "clean electric guitar"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None
    proc.stdout.close()  # before the child has written anything
    _, err = proc.communicate(timeout=120)
    assert err.decode() == "" and proc.returncode == EXIT_BROKEN_PIPE


def test_event_metrics_import_prints_no_pkg_resources_warning():
    code = "from clip2frame.eval.events import reference_libraries; reference_libraries()"
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, env=_env(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def _corrupt_mp3(path: Path) -> Path:
    """3 s of tone as MP3 (PyAV), the middle overwritten with noise and the last third cut off."""
    import av

    with av.open(str(path), "w") as c:
        st = c.add_stream("mp3", rate=SR)
        st.layout = "mono"
        x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR)).astype(np.float32)
        for i in range(0, len(x), 1152):
            fr = av.AudioFrame.from_ndarray(x[None, i:i + 1152], format="flt", layout="mono")
            fr.sample_rate = SR
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode(None):
            c.mux(pkt)
    data = bytearray(path.read_bytes())
    mid = len(data) // 3
    data[mid:mid + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data[: len(data) * 2 // 3]))
    return path


def test_corrupt_mp3_gives_our_one_line_and_no_decoder_lines(tmp_path):
    bad = _corrupt_mp3(tmp_path / "bad.mp3")
    proc = subprocess.run([sys.executable, "-m", "clip2frame", "tag", str(bad), "--out", str(tmp_path / "o"), "-q"],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "corrupt or truncated" in lines[0], proc.stderr


# ----------------------------------------------------------------------------------- completion
def test_bash_completion_lists_the_commands(capsys):
    pytest.importorskip("shtab")
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "complete" in script and all(c in script for c in ("tag", "search", "evaluate", "--min-event"))


def test_completion_without_shtab_names_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "shtab", None)
    assert main(["completion", "zsh"]) == 2
    assert capsys.readouterr().err.strip() == ("error: completion: the 'shtab' package is not installed "
                                               "(pip install 'clip2frame[completion]')")


# ----------------------------------------------------------------------------------- Python API
def test_tag_has_a_real_keyword_only_signature_and_docstring():
    sig = inspect.signature(clip2frame.tag)
    kinds = {n: p.kind for n, p in sig.parameters.items()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds.values()
    assert list(kinds)[0] == "audio" and kinds["audio"] == inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert {"sr", "model", "resolution", "device", "chunk_s", "batch_size"} <= {
        n for n, k in kinds.items() if k == inspect.Parameter.KEYWORD_ONLY}
    doc = inspect.getdoc(clip2frame.tag) or ""
    assert "Parameters\n----------" in doc and "Returns\n-------" in doc and "[T, K]" in doc


def test_tag_accepts_a_list_of_files(tmp_path):
    a, b = _wav(tmp_path / "a.wav", 2.0), _wav(tmp_path / "b.wav", 3.0)
    many = clip2frame.tag([a, str(b)])
    assert isinstance(many, list) and len(many) == 2
    one = clip2frame.tag(b)
    assert many[1].source == str(b) and np.array_equal(many[1].probs, one.probs)
    assert many[0].probs.shape[0] < many[1].probs.shape[0]
    up = clip2frame.tag(a, resolution="upsampled")  # the model frames repeated to the 32-ms input frames
    assert up.probs.shape[0] == 1 + 2 * SR // 512
    assert np.array_equal(up.probs[::16], many[0].probs) and np.array_equal(up.probs[15], up.probs[0])
