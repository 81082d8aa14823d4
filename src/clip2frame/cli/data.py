"""``clip2frame data check NAME ROOT``: read a dataset with its reader and report what was found.

Exit status: 0 every expected file found; 1 usable but files are missing / unreadable or rows malformed
(or no clip at all); 2 the root or its index file is missing or broken (``error: ...``).
"""
from __future__ import annotations

import argparse
import os

from ..errors import ConfigError
from .flags import flag_help

READER_NAMES = ("magnatagatune", "medleydb", "urbansound", "urbansound8k", "audioset", "youtube8m", "embedded")


def register(subparsers) -> None:
    """Add the ``data`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser("data", help="inspect datasets (check what a reader finds)",
                              description="Dataset utilities.")
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    c = sub.add_parser(
        "check", help="read a dataset and list clips, tags, missing and malformed files",
        description="Read ROOT with the NAME reader and print clips per split, tag counts, missing / "
                    "unreadable files and malformed rows, total duration. Exit 0: complete; 1: usable but "
                    "incomplete; 2: error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  clip2frame data check magnatagatune ~/data/mtt\n"
               "  clip2frame data check medleydb ~/data/MedleyDB -o label_map=ch4 --json\n"
               "  clip2frame data check audioset ~/data/audioset -o labels=ch4 -o audio_dir=~/as_wav")
    c.add_argument("name", choices=READER_NAMES, metavar="NAME", help="reader: " + ", ".join(READER_NAMES))
    c.add_argument("root", help="dataset root folder")
    c.add_argument("--json", action="store_true", help=flag_help("--json", "the summary"))
    c.add_argument("--durations", action="store_true",
                   help="read every audio header for the total duration (slow on large datasets)")
    c.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help=flag_help("--option", "e.g. vocabulary=all, label_map=ch4, splits=[eval] (value parsed "
                                              "as YAML: numbers, true/false, null, lists)"))
    c.add_argument("--max-listed", type=int, default=20, metavar="N",
                   help="list at most N files per problem (default 20)")
    c.set_defaults(handler=run)
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])


def _parse_options(pairs: list[str], parse_value) -> dict:
    """``KEY=VALUE`` pairs -> ``{key: parse_value(value)}`` (``None`` for an empty value, ``~`` expanded)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE")
        v = parse_value(value) if value.strip() else None
        if isinstance(v, str) and v.startswith("~"):
            v = os.path.expanduser(v)
        out[key.strip()] = v
    return out


def run(args) -> int:
    """Run ``clip2frame data``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json
    import sys
    import time

    from ..data.readers import get_reader
    from ..data.readers.check import format_text, summarize
    from ..config import parse_value

    options = _parse_options(args.option, parse_value)
    reader = get_reader(args.name)
    t0 = time.perf_counter()
    try:
        manifest = reader(args.root, **options)
    except TypeError as e:
        if "unexpected keyword" in str(e):
            raise ConfigError(f"--option: {e}") from None
        raise
    summary = summarize(manifest, durations=args.durations, list_limit=max(args.max_listed, 0))
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        print(json.dumps(summary, indent=1, ensure_ascii=False))
    else:
        print(format_text(summary))
    if summary["status"] == "ok":
        return 0
    if summary["status"] == "unusable":
        print(f"{args.root}: no usable clip found by the {args.name} reader", file=sys.stderr)
    return 1
