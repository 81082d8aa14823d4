"""``clip2frame listen [INPUT]``: tag live audio; print each event as a JSON line the moment it is final."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, Callable, Sequence

from ..errors import OutputError
from .flags import add_device, add_model, flag_help, non_negative

EPILOG = """\
input:
  -               standard input: raw PCM when --rate is given (--channels, --sample-format), else any
                  container/codec PyAV can read from a pipe (wav, flac, mp3, ogg, mpegts, ...)
  PATH or URL     anything PyAV opens (file, http(s)://, rtmp://, ...), read as it is decoded
  mic: / mic:DEV  a sound card input (needs the optional 'sounddevice' package); Ctrl-C ends it

stdout: one JSON line per event, as soon as it is final:
  {"onset": 12.288, "offset": 15.36, "tag": "piano", "peak": 0.8731}   (seconds from the stream start)
  events of different tags come in the order they become final (by onset within one update).
stderr: a start line with the latency bound, and a progress line (audio in, audio final, lag).

latency: an event is printed at most `bound` seconds of audio after its offset (plus processing time and
  the input's block size): the feature window + the early convolutions' receptive field + the accumulation
  layer's look-ahead. The default look-ahead is 4 sigma of the widest tag's Gaussian (frames within 3e-5
  of a whole-file pass); --max-latency S shortens it (each tag's Gaussian then stops D frames ahead, its
  remaining taps scaled to the whole kernel's mass: see BENCHMARKS.md for what that costs), --max-latency
  exact uses the full kernel (identical to `clip2frame tag` on the whole recording).
  `clip2frame inspect MODEL` prints the bounds.

rolling files (appended and flushed after every update, so `tail -f` works):
  --scores-file FILE  frame scores: onset offset <tag...> (the scores.tsv format of `tag`)
  --events-file FILE  DCASE events: filename onset offset event_label (filename: --name)

exit: 0 at the end of the input (or Ctrl-C), 2 on a usage error or unreadable input, 1 when the input
  broke off with an error (the events until then are printed first).
"""


def _latency(text: str) -> float:
    if text.strip().lower() in ("exact", "inf"):
        return math.inf
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (or 'exact')") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return v


def _sample_format(text: str) -> str:
    # lazy: clip2frame.audio loads torch (its package re-exports the features); a parse-time check
    from ..audio.live import SAMPLE_FORMATS

    if text not in SAMPLE_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(SAMPLE_FORMATS)}")
    return text


def register(subparsers) -> None:
    """Add the ``listen`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "listen", help="tag live audio (stdin, URL, sound card): events as JSON lines as soon as final",
        description="Tag a live audio stream with a trained model and print each event the moment it is final.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", nargs="?", default="-", metavar="INPUT", help="'-' (stdin), a path or URL, or mic:[DEV]")
    add_model(p)
    p.add_argument("--rate", type=int, default=None, metavar="HZ", help="stdin is raw PCM at this sample rate")
    p.add_argument("--channels", type=int, default=1, metavar="N", help="raw PCM channels, interleaved (default 1)")
    p.add_argument("--sample-format", default="s16le", type=_sample_format, metavar="FMT",
                   help="raw PCM sample format: s16le, s32le, f32le, f64le, u8 (default s16le)")
    p.add_argument("--max-latency", type=_latency, default=None, metavar="S|exact",
                   help="latency bound in seconds (shortens the accumulation look-ahead), or 'exact'")
    p.add_argument("--min-event", dest="min_event", type=non_negative(float), default=0.0, metavar="S",
                   help=flag_help("--min-event", "default 0"))
    p.add_argument("--merge-gap", type=non_negative(float), default=0.0, metavar="S",
                   help=flag_help("--merge-gap", "default 0; delays an event by S"))
    p.add_argument("--scores-file", dest="scores", metavar="FILE", help="keep a rolling frame-scores TSV")
    p.add_argument("--events-file", dest="events", metavar="FILE", help="keep a rolling DCASE events TSV")
    p.add_argument("--name", default=None, help="filename column of --events-file (default: the input's name)")
    add_device(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame listen``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    from pathlib import Path

    from ..audio.live import open_input
    from ..data.manifest import EVENTS_HEADER
    from ..errors import Clip2FrameError
    from ..infer.stream import StreamTagger, run_stream
    from ..results.writers import events_line, render_scores_tsv

    if args.rate is not None and args.input != "-":
        raise Clip2FrameError("--rate: raw PCM is read from standard input only (INPUT '-')")
    stream = StreamTagger(args.model, max_latency_s=args.max_latency, min_duration=args.min_event,
                          merge_gap=args.merge_gap, device=args.device)
    name = args.name or ("stdin" if args.input == "-" else Path(args.input.split("?")[0]).name or "stream")
    blocks = open_input(args.input, sr=stream.spec.sr, rate=args.rate, channels=args.channels,
                        sample_format=args.sample_format)
    out = Outputs(stream, name=name, scores=args.scores, events=args.events, progress=not args.quiet,
                  events_header=EVENTS_HEADER, render_scores=render_scores_tsv, events_line=events_line)
    b = stream.latency
    print(f"listen: {args.input} with {stream.tagger.name}: latency bound {b.bound_s:.2f} s (look-ahead "
          f"{b.lookahead_frames}/{b.full_lookahead_frames} frames{', exact' if b.exact else ''})", file=sys.stderr)
    try:
        how = run_stream(blocks, stream, out.update)
    except Clip2FrameError as e:
        out.close()
        print(f"error: {e} (events until then were printed)", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of stdout went away (`| head`): nothing left to say
        out.close(stdout_gone=True)
        return 0
    out.close()
    if how == "interrupted":
        print("listen: interrupted, last events flushed", file=sys.stderr)
    return 0


class Outputs:
    """Where updates go: JSON lines on stdout, the rolling files, the progress line on stderr."""

    def __init__(self, stream, *, name: str, scores: str | None, events: str | None, progress: bool,
                 events_header: Sequence[str], render_scores: Callable[[Any], bytes],
                 events_line: Callable[[str, float, float, str], str]):
        """``events_header``, ``render_scores``, ``events_line``: the result files' header and writers
        (:mod:`clip2frame.results.writers`, passed by :func:`run` so that ``--help`` loads none of them)."""
        self.stream, self.name, self.progress = stream, name, progress
        self._render_scores, self._events_line = render_scores, events_line
        self.t0 = self._last = time.monotonic()
        self.n_events = 0
        self._tty = sys.stderr.isatty()
        self._scores = self._events = None
        self._first_scores = True
        try:
            if scores:
                self._scores = open(scores, "w", encoding="utf-8")
            if events:
                self._events = open(events, "w", encoding="utf-8")
                self._events.write("\t".join(events_header) + "\n")
                self._events.flush()
        except OSError as e:
            raise OutputError(f"{e.filename}: cannot write ({e.strerror})") from None

    def update(self, u) -> None:
        """Print a stream update's final events (JSON lines) and append its frames and events to the files."""
        for ev in u.events:
            sys.stdout.write(ev.to_json() + "\n")
        if u.events:
            sys.stdout.flush()
        self.n_events += len(u.events)
        if self._scores is not None and (u.frames.n_frames or self._first_scores):
            text = self._render_scores(u.frames).decode("utf-8")
            self._scores.write(text if self._first_scores else text.split("\n", 1)[1])
            self._scores.flush()
            self._first_scores = False
        if self._events is not None and u.events:
            self._events.writelines(self._events_line(self.name, e.onset, e.offset, e.label) + "\n" for e in u.events)
            self._events.flush()
        self._progress()

    def _progress(self, final: bool = False) -> None:
        now = time.monotonic()
        if not self.progress or (not final and now - self._last < (0.5 if self._tty else 10.0)):
            return
        self._last = now
        st = self.stream
        wall = max(now - self.t0, 1e-9)
        line = (f"listen: {st.received_s:8.1f} s in, final to {st.final_s:8.1f} s, lag {st.received_s - st.final_s:5.1f} s, "
                f"{self.n_events} events, {st.received_s / wall:6.1f}x real time")
        sys.stderr.write(("\r" + line) if self._tty else (line + "\n"))
        sys.stderr.flush()

    def close(self, *, stdout_gone: bool = False) -> None:
        """Flush and close the files; the final progress line (none once stdout is gone)."""
        if stdout_gone:  # stop Python's exit-time flush of the dead pipe from printing a traceback
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        self._progress(final=True)
        if self.progress and self._tty:
            sys.stderr.write("\n")
        for f in (self._scores, self._events):
            if f is not None:
                f.close()
