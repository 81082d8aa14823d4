"""``clip2frame serve [RESULTS_DIR]``: the web viewer (FastAPI + one static page) on 127.0.0.1."""
from __future__ import annotations

import argparse
import ipaddress
import sys

from .flags import add_model, flag_help

DEFAULT_RESULTS_DIR = "clip2frame-results"
TOKEN_ENV = "CLIP2FRAME_SERVE_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand's parser (stdlib imports only)."""
    p = subparsers.add_parser(
        "serve",
        help="web viewer: upload audio/video or open results, see detections over time",
        description=(
            "Serve the viewer: a page showing a recording's waveform, taggram (tags x time, grouped by "
            "kind), top tags at the playhead and detected events, synced with playback. Uploads are "
            "analysed into RESULTS_DIR/uploads/<id>/; every result already in RESULTS_DIR "
            "(<stem>.scores.tsv and friends, e.g. from `clip2frame tag DIR --out RESULTS_DIR`; add "
            "--media-root DIR to play the originals) can be opened. Binds 127.0.0.1 unless told otherwise; "
            "any other address needs --token (every request must then carry it). Uploads are kept under "
            "--uploads-quota-mb by removing the oldest analysed uploads (never a result of `clip2frame tag`)."
        ),
    )
    p.add_argument("results_dir", nargs="?", default=DEFAULT_RESULTS_DIR, metavar="RESULTS_DIR",
                   help=f"results folder to list and write uploads into (default: ./{DEFAULT_RESULTS_DIR})")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything else exposes your files and needs --token)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    add_model(p, detail="it tags the uploads (default: the packaged model)")
    p.add_argument("--media-root", default=None, metavar="DIR",
                   help="folder that `clip2frame tag` read (RESULTS_DIR mirrors it): result a/b plays DIR/a/b.* ")
    p.add_argument("--index", default=None, metavar="URL",
                   help=flag_help("--index", "the list and search read it (default RESULTS_DIR/index.sqlite, "
                                             "created and synced with the folder at start)"))
    p.add_argument("--max-upload-mb", type=float, default=200.0, metavar="MB",
                   help="largest accepted upload in MB (default 200)")
    p.add_argument("--uploads-quota-mb", type=float, default=2048.0, metavar="MB",
                   help="keep RESULTS_DIR/uploads under this size: the oldest analysed uploads are removed "
                        "first (default 2048)")
    p.add_argument("--token", default=None, metavar="SECRET",
                   help="secret every request must carry (required to bind beyond loopback; default "
                        f"${TOKEN_ENV}). Open the printed address once: it ends in ?token=SECRET and the "
                        "browser keeps it in a cookie; scripts send 'Authorization: Bearer SECRET'")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``clip2frame serve``; the exit code (the module docstring of :mod:`clip2frame.cli`: "Exit codes")."""
    import logging
    import os
    from pathlib import Path
    from urllib.parse import quote

    from ..errors import ConfigError, MissingExtraError

    log = logging.getLogger(__name__)
    try:
        import uvicorn

        from ..web.app import create_app
    except ImportError as e:
        raise MissingExtraError("serve", (e.name or "fastapi").split(".")[0], "serve") from None

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port: {args.port} is not a TCP port (1-65535)")
    if not args.max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb: must be positive, got {args.max_upload_mb:g}")
    if not args.uploads_quota_mb > 0:
        raise ConfigError(f"--uploads-quota-mb: must be positive, got {args.uploads_quota_mb:g}")
    token = args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None)
    if token is not None and len(token) < 16:
        raise ConfigError("--token: use at least 16 characters (e.g. python -c 'import secrets; "
                          "print(secrets.token_urlsafe())')")
    loopback = _is_loopback(args.host)
    if not loopback and token is None:
        raise ConfigError(f"--host {args.host}: serving beyond loopback exposes RESULTS_DIR and uploads to "
                          f"anyone who can reach it; give --token SECRET (or ${TOKEN_ENV})")
    model = args.model
    if model != "default":
        path = Path(model).expanduser()
        if not path.is_file():
            raise ConfigError(f"--model: {model}: no such model file")
        model = str(path.resolve())
    from ..models.registry import DEFAULT_MODEL_PATH

    if model == "default" and not DEFAULT_MODEL_PATH.is_file():
        log.warning("the default model is not installed (%s): existing results can be viewed, uploads "
                    "will fail until it is there or --model PATH is given", DEFAULT_MODEL_PATH)
    else:
        from ..infer.predict import load_tagger

        # Load (and cache) it now: a broken model file is a startup error, and the first upload is quick.
        load_tagger(model, device="auto")
    results_dir = Path(args.results_dir).expanduser()
    if results_dir.exists() and not results_dir.is_dir():
        raise ConfigError(f"{results_dir}: not a folder")
    media_root = Path(args.media_root).expanduser() if args.media_root else None
    if media_root is not None and not media_root.is_dir():
        raise ConfigError(f"--media-root: {media_root}: no such folder")

    shown = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
    allowed = None
    if loopback:
        allowed = ["127.0.0.1", "localhost", "[::1]", shown]
    else:
        log.warning("serving on %s: anyone who can reach this address and has the token can read RESULTS_DIR "
                    "and upload files (plain HTTP: use it on a trusted network or behind a TLS proxy)", args.host)
    app = create_app(results_dir, model=model, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                     allowed_hosts=allowed, media_root=media_root, token=token, index=args.index,
                     uploads_quota_bytes=int(args.uploads_quota_mb * 1024 * 1024))
    query = f"?token={quote(token)}" if token else ""
    print(f"clip2frame viewer: http://{shown}:{args.port}/{query}  (results: {results_dir.resolve()}; "
          "Ctrl+C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
