"""``clip2frame tag INPUT... --out DIR``: tag a catalogue of audio/video files with a trained model."""
from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..infer.shards import parse_shard
from ..results.formats import DEFAULT_FORMATS, TAG_FORMATS, parse_formats
from .flags import add_device, add_model, add_resolution, flag_help, non_negative

EPILOG = """\
inputs:
  files, folders (walked recursively; only audio/video extensions are picked up, hidden files skipped)
  and @list.txt (one path a line, '#' comments, relative paths relative to the list's folder).

outputs (per input, below --out):
  a folder input's files keep their relative path (DIR/live/a.flac -> OUT/live/a.scores.tsv ...);
  loose files and list entries go to OUT/<name>. Inputs that would share an output name all get
  '~<8 hex of sha1(absolute path)>' appended (OUT/a~3f2a9c1d.scores.tsv), so nothing is overwritten.
  OUT/<name>.meta.json  provenance, written last: the model (name, version, SHA-256 of its weights) and
                   the input (path, SHA-256 of its bytes); also inside the .npz and .jams outputs
  OUT/events.tsv   every file's events (DCASE filename onset offset event_label), rebuilt at the end;
                   a tab, newline or backslash in a file name is written \t, \n, \\ (any name round-trips)
  OUT/failures.tsv path<TAB>error for each input that could not be tagged (header only when none)
  OUT/index.sqlite the event index (files, events, per-tag summary, frame scores) that
                   `clip2frame search OUT ...` and the viewer query; --index postgresql://... instead
                   for a catalogue shared by several machines; --no-index for none

resume:
  a file whose requested outputs all exist and whose .meta.json names the same model (same weights
  hash), the model's thresholds and this run's --resolution, --min-event and --merge-gap is skipped
  (unless --overwrite); outputs of another model are re-tagged (logged, counted as "retagged"), so are
  those made with other thresholds or settings ("other_settings", e.g. after `clip2frame thresholds`)
  and outputs without a readable .meta.json (an older clip2frame: "unknown_model", one warning). Every
  file is written atomically and indexed in one transaction, so a killed run can simply be started
  again (a skipped file missing from the index, or older there than on disk, is indexed from its
  outputs).

sharding:
  --shard I/N sorts the inputs by output name and takes every N-th starting at I (0-based), e.g.
  run 0/4 ... 3/4 on four machines into one --out; each writes events.shard-I-of-N.tsv and
  failures.shard-I-of-N.tsv instead of events.tsv and failures.tsv; all write the same index
  (SQLite on a local disk: processes of one machine; PostgreSQL: any number of machines).

stdout / exit code:
  stdout gets one line of JSON when the run ends: {"out_dir", "inputs", "tagged", "skipped", "failed",
  "retagged", "unknown_model", "other_settings", "events", "failures", "audio_seconds", "seconds",
  "x_realtime"}; progress and logs go to stderr.
  Exit 0: all inputs tagged or already done; 1: some inputs failed (see failures.tsv);
  2: usage or setup error (bad option, output folder not writable, model missing), nothing written.
"""


def _format_parser(allowed: tuple[str, ...]):
    """An argparse type for ``--format LIST`` (unknown names, and formats whose optional package is missing,
    are usage errors before any work)."""
    def parse(text: str) -> tuple[str, ...]:
        try:
            return parse_formats(text, allowed=allowed, check_packages=False)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _shard(text: str) -> tuple[int, int]:
    try:
        shard = parse_shard(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    assert shard is not None  # parse_shard returns None for None only
    return shard


def _positive_int(text: str) -> int:
    v = non_negative(int)(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return v


def register(subparsers) -> None:
    """Add the ``tag`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "tag", help="tag audio/video files: frame scores and events per file (resumable batch)",
        description="Tag audio/video files with a trained clip2frame model and write frame-level scores and "
                    "events for each, into a folder tree mirroring the inputs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder or @list.txt")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help=flag_help("--out", "a folder (created)"))
    add_model(p)
    p.add_argument("--format", dest="formats", type=_format_parser(TAG_FORMATS), default=DEFAULT_FORMATS,
                   metavar="LIST", help=flag_help("--format", f"{','.join(TAG_FORMATS)} "
                                                             f"(default {','.join(DEFAULT_FORMATS)})"))
    add_resolution(p)
    p.add_argument("--min-event", dest="min_event", type=non_negative(float), default=0.0, metavar="S",
                   help=flag_help("--min-event", "default 0"))
    p.add_argument("--merge-gap", type=non_negative(float), default=0.0, metavar="S",
                   help=flag_help("--merge-gap", "default 0"))
    add_device(p)
    p.add_argument("--batch-size", type=_positive_int, default=8, metavar="N",
                   help=flag_help("--batch-size", "shifted views with --resolution frame (default 8)"))
    p.add_argument("--jobs", "-j", type=non_negative(int), default=1, metavar="N",
                   help=flag_help("--jobs", "decoding threads running ahead of the model; 0 decodes inline "
                                            "(default 1)"))
    p.add_argument("--overwrite", action="store_true", help=flag_help("--overwrite"))
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="process every N-th input of the sorted list, starting at I (0-based)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--index", default=None, metavar="URL", help=flag_help("--index", "default OUT/index.sqlite"))
    g.add_argument("--no-index", action="store_true", help="write no event index")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame tag``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from ..index.ingest import batch_index_hook
    from ..infer.batch import report_json, tag_files
    from ..infer.options import TagOptions

    options = TagOptions(model=args.model, formats=args.formats, resolution=args.resolution,
                         min_duration=args.min_event, merge_gap=args.merge_gap, device=args.device,
                         batch_size=args.batch_size, jobs=args.jobs, overwrite=args.overwrite, shard=args.shard,
                         progress=not args.quiet)
    hook = batch_index_hook(False if args.no_index else (args.index or True), tuple(options.formats))
    report = tag_files(args.inputs, out_dir=args.out, options=options, result_hook=hook)
    print(report_json(report), flush=True)
    return report.exit_code
