"""Command-line entry point: ``clip2frame <command> ...``.

Each command lives in ``clip2frame/cli/<command>.py`` with two functions:

* ``register(subparsers)`` adds its parser (stdlib imports only, so ``--help`` stays instant);
* ``run(args) -> int`` does the work, importing torch & co. inside.

User errors (:class:`Clip2FrameError`) print one line ``error: ...`` on stderr and exit 2.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .._version import __version__

# Order = order in --help.
COMMANDS = (
    "demo", "synth", "train", "evaluate", "thresholds", "inspect", "tag", "index", "search", "serve", "data",
    "experiment", "video", "detect", "export",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clip2frame",
        description="Weakly-supervised event detection: learn from clip tags, detect per frame.",
    )
    parser.add_argument("--version", action="version", version=f"clip2frame {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .._threads import configure_process

    configure_process()   # before any command imports torch: idle OpenMP threads sleep, not spin
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    level = logging.WARNING - 10 * min(args.verbose, 2) if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from ..errors import Clip2FrameError

    try:
        return int(args.handler(args) or 0)
    except Clip2FrameError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    sys.exit(main())
