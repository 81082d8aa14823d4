"""The command line's flags: one meaning per flag name, across every command (stdlib only).

:data:`GLOSSARY` holds the meaning of every flag that more than one command defines with its own wording
(a flag defined by one command, or with the same help everywhere, is its own entry). Every command's help
for a glossary flag starts with that meaning (:func:`flag_help`); ``tests/test_cli_consistency.py`` walks
every parser and fails on a flag whose help does not, so a new flag that reuses a name for something else
fails the tests. The table of ``docs/CLI.md`` is rendered from the parsers by :func:`glossary_markdown`
(``bash scripts/cli_glossary.sh`` prints it), and the same test checks it is current.

The options every command shares (``-v``/``-q``, accepted before or after the command), ``--model``,
``--device`` and ``--resolution`` are added here, so they have the same spelling, choices and default
wherever they appear.
"""
from __future__ import annotations

import argparse
import logging
from typing import Iterator

from ..errors import ConfigError
from ..timebase import RESOLUTIONS

#: flag -> its one meaning (the start of its help in every command that defines it)
GLOSSARY: dict[str, str] = {
    "--verbose": "more log output: debug messages (global: before or after the command)",
    "--quiet": "less output: no progress bars, only warnings and errors in the log (global: before or after "
               "the command)",
    "--model": "model file (.safetensors) or 'default' (the packaged model)",
    "--device": "where the network runs: auto (CUDA when available), cpu, cuda or cuda:N",
    "--resolution": "rows of frame output: 'model' = one per model output frame (0.512 s); 'upsampled' = the "
                    "model frames repeated to the 32-ms input frames (the thesis' frame scoring); 'frame' = "
                    "one per 32-ms input frame by patching",
    "--threshold": "one score threshold T for every tag: a frame is active where its score >= T, in place of "
                   "per-tag thresholds",
    "--min-duration": "shortest kept segment where the query holds, in seconds",
    "--min-event": "drop events shorter than S seconds (after merging)",
    "--merge-gap": "merge events of a tag separated by at most S seconds",
    "--format": "comma-separated output formats",
    "--out": "where to write the output",
    "--data": "dataset directory",
    "--split": "dataset split",
    "--index": "event index: postgresql://user@host/db or a SQLite file",
    "--jobs": "parallel workers",
    "--batch-size": "inputs per forward pass of the network (speed and memory only)",
    "--epochs": "training epochs",
    "--hours": "hours of audio to render",
    "--clip-seconds": "clip duration in seconds",
    "--seed": "random seed (same seed, same result)",
    "--set": "override a setting, KEY=VALUE (repeatable)",
    "--option": "dataset reader option, KEY=VALUE (repeatable)",
    "--preset": "named training preset (clip2frame train --list-presets)",
    "--json": "machine-readable JSON on stdout",
    "--overwrite": "redo inputs whose outputs already exist",
    "--soundfont": "SoundFont (.sf2) to render with",
    "--action": "action model(s) (thesis ch. 4): model file or run directory",
    "--object": "object model: model file or run directory",
    "--sound": "sound model: model file or run directory",
}

DEFAULT_MODEL = "default"
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def non_negative(kind: type = float):
    """An argparse ``type`` that parses ``kind`` (``int`` or ``float``) and refuses values below 0."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if v < 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
        return v
    return parse


def flag_help(flag: str, detail: str | None = None) -> str:
    """The help of ``flag``: its glossary meaning, then a command's ``detail`` (default, choices, ...)."""
    meaning = GLOSSARY[flag]
    return f"{meaning}; {detail}" if detail else meaning


def add_model(p: argparse.ArgumentParser, *, detail: str | None = "default: default") -> None:
    """``--model MODEL`` (default ``default``), the one way every command takes a model."""
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="MODEL", help=flag_help("--model", detail))


def add_model_positional_deprecated(p: argparse.ArgumentParser) -> None:
    """The model as a positional argument, the spelling of ``inspect`` and ``export`` before 0.x: still
    accepted (hidden from the help) with a deprecation warning; ``--model`` is the one spelling."""
    p.add_argument("model_positional", nargs="?", default=None, help=argparse.SUPPRESS)


def model_of(args: argparse.Namespace) -> str:
    """``--model``, or the deprecated positional model (with a warning); both given is a usage error."""
    positional = getattr(args, "model_positional", None)
    if positional is None:
        return str(args.model)
    if args.model != DEFAULT_MODEL:
        raise ConfigError(f"{positional}: give the model once, as --model (not also as an argument)")
    logging.getLogger("clip2frame.cli").warning(
        "the model as an argument is deprecated and goes in the next release: use --model %s", positional)
    return str(positional)


def add_corpus_out(p: argparse.ArgumentParser) -> None:
    """``--out DIR`` (the manifest directory a ``synth`` kind renders into) and ``--seed`` (default 0)."""
    p.add_argument("--out", required=True, metavar="DIR", help=flag_help("--out", "a manifest directory"))
    p.add_argument("--seed", type=int, default=0, help=flag_help("--seed", "same audio bytes (default: 0)"))


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device``: auto / cpu / cuda (``cuda:N`` is checked by ``resolve_device``)."""
    p.add_argument("--device", default="auto", metavar="{auto,cpu,cuda[:N]}",
                   help=flag_help("--device", "default auto"))


def add_resolution(p: argparse.ArgumentParser) -> None:
    """``--resolution``: the choices of :data:`clip2frame.timebase.RESOLUTIONS`, default ``model``."""
    p.add_argument("--resolution", choices=RESOLUTIONS, default="model",
                   help=flag_help("--resolution", "default model"))


def add_global_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    """``-v``/``-q`` on the top parser (with defaults) or on a command's parser (``SUPPRESS`` defaults, so a
    command's parser does not reset what was given before the command)."""
    g = p.add_argument_group("global options")
    dv: object = 0 if top else argparse.SUPPRESS
    dq: object = False if top else argparse.SUPPRESS
    g.add_argument("-v", "--verbose", action="count", default=dv, help=GLOSSARY["--verbose"])
    g.add_argument("-q", "--quiet", action="store_true", default=dq, help=GLOSSARY["--quiet"])


def subparsers_of(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                  ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser below ``parser`` (depth first) with its command path, e.g. ``("video", "train")``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subparsers_of(sub, (*path, name))


def flag_uses(parser: argparse.ArgumentParser) -> dict[str, list[tuple[str, str]]]:
    """``{flag: [(command, help), ...]}`` over every command's long options (``--help`` and the global
    options left out; ``--no-X`` of a ``--X/--no-X`` pair is the same flag as ``--X``)."""
    uses: dict[str, list[tuple[str, str]]] = {}
    for path, sub in subparsers_of(parser):
        for a in sub._actions:
            if not a.option_strings or a.help == argparse.SUPPRESS or a.dest in ("help", "verbose", "quiet"):
                continue
            longs = [o for o in a.option_strings if o.startswith("--")]
            if isinstance(a, argparse.BooleanOptionalAction):
                longs = longs[:1]
            for flag in longs:
                uses.setdefault(flag, []).append((" ".join(path), str(a.help or "")))
    return uses


def glossary_markdown(parser: argparse.ArgumentParser) -> str:
    """The flag glossary table of ``docs/CLI.md``: flag, meaning, the commands that define it."""
    uses = flag_uses(parser)
    rows = ["| flag | meaning | commands |", "|---|---|---|"]
    for flag in ("--verbose", "--quiet"):
        rows.append(f"| `-{flag[2]}`, `{flag}` | {GLOSSARY[flag]} | every command |")
    for flag in sorted(uses):
        commands = sorted({c for c, _ in uses[flag]})
        meaning = GLOSSARY.get(flag) or uses[flag][0][1]
        meaning = meaning.replace("%%", "%").replace("|", "\\|")
        rows.append(f"| `{flag}` | {meaning} | {', '.join(commands)} |")
    return "\n".join(rows) + "\n"

