"""FastAPI app of the viewer: the page, the results API, uploads + analysis jobs, files with HTTP Range.

:func:`create_app` assembles the routers, one module each: :mod:`.pages` (the page, config), :mod:`.browse`
(results, index, tags, search), :mod:`.files` (files and media), :mod:`.uploads` (uploads and jobs),
:mod:`.live` (the live view); they share one :class:`~clip2frame.web.state.ViewerState` through the
dependency :func:`~clip2frame.web.state.viewer_state`. :mod:`.guard` puts the access rules around all of them.

Endpoints
---------
``GET /``                       the page (``static/index.html``; assets under ``/static/``)
``GET /api/config``             upload limit, accepted types, model name, version
``GET /api/results``            one page of the results in the index (``?offset&limit&sort=tagged|name|
                                duration|path&order=desc|asc&q=text``): {results, total, indexing}
``POST /api/index/rescan``      bring the index in step with RESULTS_DIR (new, changed, removed results)
``GET /api/tags``               the tags in the index and their kinds
``GET /api/search``             segments: ``?tag&with=a,b&without=c&min_duration&min_score&threshold&
                                limit&offset&model`` (see :func:`clip2frame.index.search`)
``GET /api/results/{id}``       one result: labels, kinds, groups, thresholds, boundaries, probs,
                                events, waveform envelope, media, files
``POST /api/jobs``              upload (raw body + ``?filename=``, or multipart field ``file``) -> 202 job
``GET /api/jobs[/{job_id}]``    job status: queued / running (stage, progress) / done (result_id) / error
``GET /files/{path}``           any file inside RESULTS_DIR, Range requests answered with 206
                                (``?download=1``: as an attachment)
``GET /media/{path}``           the same inside MEDIA_ROOT (originals of ``clip2frame tag`` results)

Listing and search read the event index (RESULTS_DIR/index.sqlite, or ``index=postgresql://...``); the
folder is walked only at start-up (in the background) and on a rescan, never per request. Uploads are
indexed when their job finishes.

Errors are JSON ``{"detail": "<one line>"}`` with 400/401/403/404/413/415/422; the page shows them in a banner.

Access (:mod:`clip2frame.web.access`): with ``allowed_hosts`` (loopback serving) other ``Host`` headers get
400 (Starlette's ``TrustedHostMiddleware``, against DNS rebinding). With ``token`` every request needs it:
``?token=`` on any URL (a GET is answered with a redirect to the same path of this server that stores it in
an HttpOnly cookie), the cookie, or an ``Authorization: Bearer`` header; anything else gets 401. A request
that changes state (anything but GET/HEAD/OPTIONS), with or without a token configured, must come from a
page of this server (``Origin``/``Referer`` naming its ``Host``, ``Sec-Fetch-Site`` not cross-site or
same-site) or carry the token itself (header or ``?token=``); otherwise 403, against cross-site request
forgery. GET requests have no side effects.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .._version import __version__
from . import browse, files, pages, uploads
from .guard import install_guards
from .jobs import DEFAULT_UPLOADS_QUOTA_BYTES, Analyzer, JobManager, Writer, default_analyzer, default_writer
from .live import live_router
from .results import WaveformCache
from .state import Catalogue, ViewerState

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def create_app(results_dir: Path, *, model: str | Path = "default", analyze: Analyzer | None = None,
               write: Writer | None = None, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               allowed_hosts: Sequence[str] | None = None, media_root: Path | None = None,
               token: str | None = None,
               uploads_quota_bytes: int | None = DEFAULT_UPLOADS_QUOTA_BYTES,
               index: str | None = None, sync_on_start: bool = True) -> FastAPI:
    """The viewer app over ``results_dir`` (created if missing).

    Parameters
    ----------
    results_dir : Path        where results are listed from and uploads analysed into (``uploads/<id>/``).
    model : str | Path        model for uploads (``"default"`` or a ``.safetensors`` path), passed to
                              ``clip2frame.infer.predict.predict``; unused when ``analyze`` is given.
    analyze : callable        ``analyze(path[, progress=fn]) -> FrameActivations``; default: ``predict``.
    write : callable          ``write(acts, out_dir, *, formats, stem)``; default:
                              ``clip2frame.results.writers.write_outputs``.
    max_upload_bytes : int    larger uploads get 413.
    allowed_hosts : list      accepted ``Host`` header names (against DNS rebinding); ``None``: any.
    token : str               a secret every request must carry (see the module docstring); ``None``: none.
    uploads_quota_bytes : int ``uploads/`` is kept under this size by removing the oldest analyses of
                              uploads (never a result written by ``clip2frame tag``); ``None``: no limit.
    media_root : Path         where the originals of results written by ``clip2frame tag`` are: result
                              ``a/b`` plays ``media_root/a/b.<ext>`` (``/media/...``, read-only, same
                              safety rules as RESULTS_DIR).
    index : str               the event index (default ``results_dir/index.sqlite``; ``postgresql://...``).
    sync_on_start : bool      index new/changed results of ``results_dir`` in a background thread at start.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    catalogue = Catalogue(results_dir, index)
    jobs = JobManager(results_dir, analyze=analyze or default_analyzer(model), write=write or default_writer(),
                      model_name=str(model) if analyze is None else getattr(analyze, "__name__", "custom"),
                      uploads_quota_bytes=uploads_quota_bytes, on_done=catalogue.add,
                      on_removed=catalogue.start_sync)
    state = ViewerState(results_dir=results_dir, media_root=Path(media_root) if media_root is not None else None,
                        catalogue=catalogue, jobs=jobs, waveforms=WaveformCache(),
                        max_upload_bytes=max_upload_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sync_on_start:
            catalogue.start_sync()
        yield
        jobs.shutdown()
        catalogue.close()

    app = FastAPI(title="clip2frame viewer", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.viewer = state
    install_guards(app, token=token, allowed_hosts=allowed_hosts)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.include_router(live_router(model))
    for router in (pages.router, browse.router, files.router, uploads.router):
        app.include_router(router)
    return app
