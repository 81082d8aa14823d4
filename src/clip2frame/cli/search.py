"""``clip2frame search DIR TAG [--with T] [--without T] [--min-duration S] ...``: find segments in a catalogue."""
from __future__ import annotations

import argparse
from pathlib import Path

from .flags import flag_help

EPILOG = """\
what matches:
  a segment where TAG and every --with tag are active and no --without tag is, over the whole
  segment, for at least --min-duration seconds. "Active" means inside an event stored at tagging time
  (the model's thresholds), or, with --threshold T, a frame score >= T (from the stored frame scores,
  no re-tagging). Score of a segment: the smallest mean score of its positive tags; --min-score
  applies to each. Ranked by score, then duration. Inputs with the same bytes (the same audio tagged
  twice) are searched once: the most recently tagged result stands for them. --model NAME_OR_HASH keeps
  the results of one model (its name, or 6+ hex digits of its weights SHA-256, as in <stem>.meta.json).

examples:
  clip2frame search out/ saxophone --min-duration 8 --without drums --with piano --min-score 0.6
  clip2frame search out/ violin --threshold 0.3 --tsv > violin.tsv
  clip2frame search --index postgresql://me@dbhost/catalogue cello --json
  clip2frame search out/ piano --model default-model-v2

output:
  a table (default), --tsv (file onset offset score model, with a header; a tab, newline or backslash in
  a file written \t \n \\) or --json (one object). Every hit names its model.
  Exit 0 (also with no hits), 2 on a bad query (unknown tag, negative duration, ...) or a missing index.
"""


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def register(subparsers) -> None:
    """Add the ``search`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "search", help="find segments by tags in a tagged catalogue (with / without / min duration)",
        description="Search the event index of a catalogue tagged by `clip2frame tag --out DIR`.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs="+", metavar="[DIR] TAG",
                   help="catalogue folder (omit with --index URL) and the tag to search for")
    p.add_argument("--index", default=None, metavar="URL", help=flag_help("--index", "default DIR/index.sqlite"))
    p.add_argument("--with", dest="with_", action="append", type=_tags, default=[], metavar="TAG[,TAG]",
                   help="also active over the whole segment (repeatable)")
    p.add_argument("--without", action="append", type=_tags, default=[], metavar="TAG[,TAG]",
                   help="not active anywhere in the segment (repeatable)")
    p.add_argument("--min-duration", default="0", metavar="S", help=flag_help("--min-duration", "default 0"))
    p.add_argument("--min-score", default="0", metavar="P", help="least mean score of each tag (default 0)")
    p.add_argument("--threshold", default=None, metavar="T",
                   help=flag_help("--threshold", "decided from the stored frame scores instead of the stored "
                                                 "events (default: the events, made with the model's thresholds)"))
    p.add_argument("--by-model", default=None, metavar="NAME_OR_HASH",
                   help="only results made by this model: its name or a prefix (6+ hex digits) of its weights "
                        "SHA-256")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="hits to print (default 20)")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N hits (paging)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=flag_help("--json", "one object"))
    fmt.add_argument("--tsv", action="store_true", help="print TSV: file, onset, offset, score")
    p.set_defaults(handler=run)


def _unquoted_tag_hint(words: list[str], index: str | None, known: list[str]) -> str:
    """The error for more positionals than DIR TAG: most often a multi-word tag left unquoted
    (``search tags/ electric guitar``), so name the index's tag (of ``known``) those words make, when there is
    one."""
    phrases = [" ".join(words[1:])] + ([" ".join(words)] if index is not None else [])
    for match in ([t for p in phrases for t in known if t == p] + [t for p in phrases for t in known if p in t]):
        split = " ".join(repr(w) for w in words[1:])
        return (f"search: {split} look like one tag split by the shell: did you mean {match!r}? "
                f"quote multi-word tags: clip2frame search DIR '{match}'")
    return "search: give DIR TAG, or TAG with --index URL (quote a multi-word tag: 'clean electric guitar')"


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame search``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import json

    from ..errors import Clip2FrameError, ConfigError
    from ..index import open_index, search_catalogue
    from ..results.writers import escape_field

    if len(args.args) > 2:
        known: list[str] = []
        try:
            if args.index is not None or (Path(args.args[0]) / "index.sqlite").is_file():
                with open_index(args.index, out_dir=args.args[0]) as store:
                    known = list(store.tags())
        except (Clip2FrameError, OSError):
            pass
        raise ConfigError(_unquoted_tag_hint(args.args, args.index, known))
    if len(args.args) == 1 and args.index is None:
        raise ConfigError("search: give DIR TAG, or TAG with --index URL")
    catalogue, tag = (None, args.args[0]) if len(args.args) == 1 else args.args
    res = search_catalogue(catalogue, tag, index=args.index, with_=[t for ts in args.with_ for t in ts],
                           without=[t for ts in args.without for t in ts], min_duration=args.min_duration,
                           min_score=args.min_score, threshold=args.threshold, limit=args.limit,
                           offset=args.offset, model=args.by_model)
    if args.json:
        print(json.dumps(res.to_dict()))
    elif args.tsv:
        print("file\tonset\toffset\tscore\tmodel")
        for s in res.segments:
            print(f"{escape_field(s.file)}\t{s.onset:.3f}\t{s.offset:.3f}\t{s.score:.4f}\t{escape_field(s.model)}")
    else:
        files = [escape_field(s.file) for s in res.segments]
        width = max([len(f) for f in files] + [4])
        print(f"{'file':<{width}}  {'onset':>9}  {'offset':>9}  {'dur':>7}  score  model")
        for f, s in zip(files, res.segments):
            print(f"{f:<{width}}  {s.onset:9.3f}  {s.offset:9.3f}  {s.duration:7.3f}  {s.score:.3f}  "
                  f"{escape_field(s.model) or '?'}")
        if res.has_more:
            print(f"... more: --offset {args.offset + args.limit}")
    return 0
