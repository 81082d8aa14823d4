"""``clip2frame index DIR [--index URL]``: (re)build the event index of a tagged catalogue from its outputs."""
from __future__ import annotations

import argparse

from .flags import flag_help

EPILOG = """\
what is indexed:
  every result under DIR that the viewer shows: <stem>.scores.tsv (with <stem>.events.tsv, thresholds
  from <stem>.meta.json or <stem>.npz) and video detections (<stem>.heatmaps.npz). Results already in
  the index and unchanged since are skipped; rows of results whose files are gone are removed
  (--keep-missing keeps them). --force re-reads every result. Model (name, version, weights SHA-256),
  source and content SHA-256 come from each result's <stem>.meta.json (empty for results of an older
  clip2frame); results of inputs with the same bytes are listed and searched once (the newest stands
  for them).

stdout / exit code:
  one line of JSON {"index", "indexed", "current", "removed", "failed", "seconds", "files", "events"};
  exit 0, or 1 when some results could not be read (each is logged), 2 on a usage or connection error.

--rebuild:
  a new index from the outputs, replacing the old one whatever state it is in (damaged, another schema
  version). SQLite: built beside the old file and swapped in by one rename; PostgreSQL: the index's tables
  are dropped, recreated and filled in one transaction. Readers see the old index or the new one, never
  half of it. Stop `clip2frame tag` and `clip2frame serve` runs that write this index first (a running
  viewer keeps the old SQLite file open: restart it afterwards).
"""


def register(subparsers) -> None:
    """Add the ``index`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "index", help="(re)build the event index of a tagged folder (for search and the viewer)",
        description="Index every result under DIR (frame scores, events, per-tag summaries) into DIR/index.sqlite "
                    "or a PostgreSQL database, so that `clip2frame search` and the viewer can query them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", metavar="DIR", help="catalogue folder (the --out of clip2frame tag)")
    p.add_argument("--index", default=None, metavar="URL", help=flag_help("--index", "default DIR/index.sqlite"))
    p.add_argument("--force", action="store_true", help="re-index every result, changed or not")
    p.add_argument("--keep-missing", action="store_true", help="keep rows of results whose files are gone")
    p.add_argument("--rebuild", action="store_true",
                   help="replace the index with a new one built from the outputs (a damaged or other-version index)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame index``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json
    from pathlib import Path

    from ..errors import ConfigError
    from ..index import open_index, rebuild_index, sync_folder
    from ..index.schema import parse_location

    root = Path(args.dir)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder")
    if args.rebuild:
        rep, counts = rebuild_index(root, args.index)
        shown = parse_location(args.index, root).display
    else:
        with open_index(args.index, out_dir=root) as store:
            rep = sync_folder(store, root, prune=not args.keep_missing, force=args.force)
            counts = store.count()
            shown = store.location.display
    print(json.dumps({"index": shown, **rep.to_dict(), "files": counts["files"], "events": counts["events"]}),
          flush=True)
    return 1 if rep.failed else 0
