"""Command-line entry point: ``clip2frame <command> ...``.

Each command lives in ``clip2frame/cli/<command>.py`` with two functions:

* ``register(subparsers)`` adds its parser (stdlib imports only, so ``--help`` stays instant);
* ``run(args) -> int`` does the work, importing torch & co. inside.

Imports inside functions (issue #26): the package imports at module top everywhere, with two exceptions, both
checked by ``tests/test_layers.py``: optional packages (``clip2frame.extras.require``), and the bodies of
``run`` (and ``run_<step>``, the handler of a sub-step such as ``video train``) in ``cli/<command>.py``, which
import the library they call so that building the parser (``clip2frame --help``, completion) loads no
torch, PyAV or result writer. A helper of a command gets what it needs from its ``run`` (arguments) or lives in the
library. The few other lazy imports kept (PyAV in :func:`_quiet_ffmpeg`, ``listen``'s ``--sample-format`` check,
soundfile) are listed with their reason in that test.

Exit codes (README "Exit codes"): 0 done; 1 some inputs failed (the rest were written, the failures
listed); 2 usage or input error, nothing written (a :class:`Clip2FrameError` prints one line
``error: ...`` on stderr); 130 interrupted; 141 stdout closed early (``... | head``: quiet, like other tools).
``-v``/``-q`` are global: accepted before or after the command, with one meaning (:mod:`.flags`).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .. import _threads
from .._version import __version__
from ..errors import Clip2FrameError
from ..extras import missing_extra_message
from .flags import add_global_options, subparsers_of

# Order = order in --help.
COMMANDS = (
    "demo", "synth", "train", "evaluate", "thresholds", "inspect", "tag", "listen", "index", "search", "serve", "data",
    "experiment", "video", "detect", "export", "completion",
)
#: exit code when stdout is closed before the output is written (128 + SIGPIPE, as shell tools)
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The ``clip2frame`` parser: every command's subparser, ``-v``/``-q`` at every level."""
    parser = argparse.ArgumentParser(
        prog="clip2frame",
        description="Weakly-supervised event detection: learn from clip tags, detect per frame.",
    )
    parser.add_argument("--version", action="version", version=f"clip2frame {__version__}")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    done: set[int] = set()
    for _, p in subparsers_of(parser):  # -v/-q after the command too, at every level (synth music, ...)
        if id(p) not in done:
            done.add(id(p))
            add_global_options(p, top=False)
    return parser


def log_level(args: argparse.Namespace) -> int:
    """-v: DEBUG; -q: WARNING; neither: INFO (-v wins over -q)."""
    if args.verbose:
        return logging.DEBUG
    return logging.WARNING if args.quiet else logging.INFO


def _quiet_ffmpeg() -> None:
    """FFmpeg logs through PyAV only when a level is set; unset, it prints its own lines (e.g. a corrupt mp3's
    "Header missing") straight to stderr beside our one-line error. PANIC keeps them out (the decoding
    error still carries FFmpeg's last message)."""
    try:
        import av.logging
    except ImportError:
        return
    av.logging.set_level(av.logging.PANIC)


def main(argv: list[str] | None = None) -> int:
    """Run ``clip2frame ARGV``; the exit code (see the module docstring)."""
    _threads.configure_process()   # before any command imports torch: idle OpenMP threads sleep, not spin
    try:
        return _run(argv)
    except BrokenPipeError:  # from a handler, --help or the final flush
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    logging.basicConfig(level=log_level(args), format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.command != "completion":
        _quiet_ffmpeg()
    try:
        rc = int(args.handler(args) or 0)
    except Clip2FrameError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # an optional package a lazy import did not wrap
        msg = missing_extra_message(e, what=args.command)
        if msg is None:
            raise
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    sys.stdout.flush()
    return rc


def _stdout_to_devnull() -> None:
    """The reader of stdout is gone (``clip2frame search ... | head``): point stdout at /dev/null so the
    interpreter's final flush does not raise again (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (stdout replaced in-process)
        pass


def console_main() -> None:
    """The console script's entry point: exit with :func:`main`'s code."""
    sys.exit(main())
