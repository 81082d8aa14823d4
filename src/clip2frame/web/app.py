"""FastAPI app of the viewer: the page, the results API, uploads + analysis jobs, files with HTTP Range.

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

import hmac
import logging
import mimetypes
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncGenerator, AsyncIterator, Sequence
from urllib.parse import quote

import anyio
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect

from .._version import __version__
from ..errors import Clip2FrameError
from . import media
from .access import SAFE_METHODS, bearer_token, cross_origin_reason, local_path
from .jobs import DEFAULT_UPLOADS_QUOTA_BYTES, Analyzer, JobManager, Writer, default_analyzer, default_writer, safe_stem
from ..results.readers import NotInside, resolve_inside
from .results import WaveformCache, load_result


class _AnyPathConvertor(PathConvertor):
    """Starlette's ``path`` (``.*``) stops at a newline, which a file name may hold: this one does not."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", _AnyPathConvertor())

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
# Multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_SLACK = 64 * 1024
_ACCEPTED = "WAV, AIFF, FLAC, Ogg, MP3, AAC, MP4/M4A/MOV, WebM/MKV"

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
}
TOKEN_COOKIE = "clip2frame_token"
_TEXT_TYPES = {".tsv": "text/tab-separated-values; charset=utf-8", ".txt": "text/plain; charset=utf-8",
               ".json": "application/json", ".npz": "application/octet-stream",
               ".csv": "text/csv; charset=utf-8", ".jams": "application/json"}


class _TooLarge(Exception):
    pass


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _secured(response: Response) -> Response:
    for k, v in _SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    return response


class _Closing(Exception):
    pass


class Catalogue:
    """The viewer's event index: one :class:`~clip2frame.index.IndexStore`, synced with RESULTS_DIR at
    start-up (background thread) and on request; uploads are added as their jobs finish."""

    def __init__(self, results_dir: Path, index: str | None):
        from ..index import open_index

        self.results_dir = results_dir
        self.store = open_index(index, out_dir=results_dir)
        self._sync_lock = threading.Lock()
        self.syncing = False
        self._closing = False

    def add(self, result_id: str) -> None:
        from ..index import read_record

        self.store.put(read_record(self.results_dir, result_id))

    def sync(self) -> dict[str, Any]:
        from ..index import sync_folder

        with self._sync_lock:
            self.syncing = True
            try:
                rep = sync_folder(self.store, self.results_dir, on_progress=self._check_open)
            finally:
                self.syncing = False
        if rep.failed:
            log.warning("%d results could not be indexed (first: %s)", len(rep.failed), rep.failed[0][1])
        return {**rep.to_dict(), "errors": [e for _, e in rep.failed[:20]]}

    def _check_open(self, _n: int) -> None:
        if self._closing:
            raise _Closing

    def start_sync(self) -> None:
        def run() -> None:
            try:
                self.sync()
            except _Closing:
                pass
            except Exception:  # noqa: BLE001 - the viewer still works on what is indexed
                log.exception("indexing %s failed", self.results_dir)

        self.syncing = True
        threading.Thread(target=run, name="clip2frame-index-sync", daemon=True).start()

    def close(self) -> None:
        self._closing = True  # a start-up sync stops at its next result
        with self._sync_lock:
            self.store.close()


def _file_url(rel: str) -> str:
    return "/files/" + quote(rel, safe="/")


def _media_url(rel: str) -> str:
    return "/media/" + quote(rel, safe="/")


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
    media_root = Path(media_root) if media_root is not None else None
    catalogue = Catalogue(results_dir, index)
    jobs = JobManager(results_dir, analyze=analyze or default_analyzer(model), write=write or default_writer(),
                      model_name=str(model) if analyze is None else getattr(analyze, "__name__", "custom"),
                      uploads_quota_bytes=uploads_quota_bytes, on_done=catalogue.add,
                      on_removed=catalogue.start_sync)
    waveforms = WaveformCache()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sync_on_start:
            catalogue.start_sync()
        yield
        jobs.shutdown()
        catalogue.close()

    app = FastAPI(title="clip2frame viewer", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.results_dir = results_dir
    app.state.jobs = jobs
    app.state.max_upload_bytes = max_upload_bytes

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        carried = False  # the token is in the request itself (header or query), not only in the cookie
        if token is not None:
            given = request.query_params.get("token")
            bearer = bearer_token(request.headers.get("authorization"))
            carried = (bearer is not None and _same(bearer, token)) or (given is not None and _same(given, token))
            if given is not None and _same(given, token) and request.method in ("GET", "HEAD"):
                # store it in a cookie and drop it from the address bar (and from the Referer)
                query = "&".join(f"{quote(k)}={quote(v)}" for k, v in request.query_params.multi_items()
                                 if k != "token")
                response: Response = RedirectResponse(local_path(request.url.path) + (f"?{query}" if query else ""),
                                                      status_code=303)
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return _secured(response)
            if not (carried or _same(request.cookies.get(TOKEN_COOKIE, ""), token)):
                return _secured(JSONResponse({"detail": "token required: open the address `clip2frame serve` "
                                                        "printed (it ends in ?token=...)"}, status_code=401))
        if request.method not in SAFE_METHODS and not carried:
            why = cross_origin_reason(request.headers, request.url.scheme)
            if why is not None:
                log.warning("refused %s %s: %s", request.method, request.url.path, why)
                return _secured(JSONResponse({"detail": f"cross-origin request refused: {why}"}, status_code=403))
        return _secured(await call_next(request))

    if allowed_hosts:
        # added last, so it runs first: a foreign Host never reaches the token check
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from .live import live_router  # the live view (web/live.py): its own routes, same middleware

    app.include_router(live_router(model))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/api/config")
    def config() -> dict[str, Any]:
        return {"version": __version__, "model": jobs.model_name, "max_upload_bytes": max_upload_bytes,
                "accepted": _ACCEPTED}

    @app.get("/api/results")
    def results(offset: int = 0, limit: int = 100, sort: str = "tagged", order: str = "desc",
                q: str | None = None) -> dict[str, Any]:
        if order not in ("asc", "desc"):
            raise HTTPException(400, f"order {order!r}: choose asc or desc")
        try:
            page, total = catalogue.store.list_files(sort=sort, descending=order == "desc", offset=offset,
                                                     limit=limit, name_contains=q)
        except Clip2FrameError as e:
            raise HTTPException(400, str(e)) from None
        return {"results": page, "total": total, "offset": offset, "limit": limit, "sort": sort, "order": order,
                "indexing": catalogue.syncing}

    @app.post("/api/index/rescan")
    def rescan() -> dict[str, Any]:
        return catalogue.sync()

    @app.get("/api/tags")
    def tags() -> dict[str, Any]:
        return {"tags": [{"name": k, "kind": v} for k, v in catalogue.store.tags().items()]}

    @app.get("/api/search")
    def search(tag: str, with_: str = Query("", alias="with"), without: str = "", min_duration: str = "0",
               min_score: str = "0", threshold: str | None = None, limit: int = 50, offset: int = 0,
               model: str | None = None) -> dict[str, Any]:
        from ..index import search as run_search

        try:
            return run_search(catalogue.store, tag, with_=with_, without=without, min_duration=min_duration,
                              min_score=min_score, threshold=threshold or None, limit=limit,
                              offset=offset, model=model or None).to_dict()
        except Clip2FrameError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/api/results/{result_id:anypath}")
    def result(result_id: str) -> dict[str, Any]:
        try:
            return load_result(results_dir, result_id, file_url=_file_url, waveforms=waveforms,
                               media_root=media_root, media_url=_media_url)
        except NotInside:
            raise HTTPException(404, f"no such result: {result_id}") from None
        except (Clip2FrameError, ValueError, OSError) as e:
            raise HTTPException(422, f"result {result_id} cannot be read: {e}") from None

    @app.api_route("/files/{rel_path:anypath}", methods=["GET", "HEAD"])
    def files(rel_path: str, download: bool = False) -> FileResponse:
        return _serve(results_dir, rel_path, download)

    @app.api_route("/media/{rel_path:anypath}", methods=["GET", "HEAD"])
    def media_files(rel_path: str, download: bool = False) -> FileResponse:
        if media_root is None:
            raise HTTPException(404, "no such file")
        return _serve(media_root, rel_path, download)

    def _serve(root: Path, rel_path: str, download: bool) -> FileResponse:
        try:
            path = resolve_inside(root, rel_path)
        except NotInside:
            raise HTTPException(404, "no such file") from None
        mt = media.sniff_file(path)
        media_type = (mt.mime if mt else _TEXT_TYPES.get(path.suffix.lower())
                      or mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        # Starlette's FileResponse answers Range / If-Range (206, multipart/byteranges, 416).
        return FileResponse(path, media_type=media_type, filename=path.name,
                            content_disposition_type="attachment" if download else "inline",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/api/jobs")
    def job_list() -> dict[str, Any]:
        return {"jobs": jobs.list()}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        j = jobs.get(job_id)
        if j is None:
            raise HTTPException(404, f"no such job: {job_id}")
        return j

    def too_large() -> HTTPException:
        mb = max_upload_bytes / (1024 * 1024)
        return HTTPException(413, f"upload too large: the limit is {mb:g} MB (clip2frame serve --max-upload-mb)")

    def unsupported(name: str) -> HTTPException:
        return HTTPException(415, f"{name}: not a supported audio or video file (accepted: {_ACCEPTED}; "
                                  f"the type is read from the file's content, not its name)")

    @app.post("/api/jobs", status_code=202)
    async def upload(request: Request, filename: str | None = None) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "")
        multipart = content_type.startswith("multipart/form-data")
        limit = max_upload_bytes + (_MULTIPART_SLACK if multipart else 0)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_large()

        async def limited() -> AsyncGenerator[bytes, None]:
            n = 0
            async for chunk in request.stream():
                n += len(chunk)
                if n > limit:
                    raise _TooLarge
                yield chunk

        job_id, staging = await run_in_threadpool(jobs.new_staging)
        try:
            if multipart:
                name, dest, mt = await _receive_multipart(request, limited(), staging, filename)
            else:
                name, dest, mt = await _receive_raw(limited(), staging, filename or "upload")
        except _TooLarge:
            await run_in_threadpool(jobs.discard_staging, staging)
            raise too_large() from None
        except ClientDisconnect:
            await run_in_threadpool(jobs.discard_staging, staging)
            log.info("job %s: client went away during the upload", job_id)
            raise HTTPException(400, "upload interrupted") from None
        except BaseException:
            await run_in_threadpool(jobs.discard_staging, staging)
            raise
        log.info("job %s: %s (%s, %d bytes)", job_id, name, mt.mime, dest.stat().st_size)
        try:
            return jobs.submit(job_id, dest, filename=name, media_type=mt)
        except RuntimeError:  # shutting down
            await run_in_threadpool(jobs.discard_staging, staging)
            raise HTTPException(503, "the server is shutting down") from None

    async def _receive_raw(stream: AsyncIterator[bytes], staging: Path, name: str
                           ) -> tuple[str, Path, media.MediaType]:
        head = b""
        it = stream.__aiter__()
        async for chunk in it:
            head += chunk
            if len(head) >= media.SNIFF_BYTES:
                break
        if not head:
            raise HTTPException(400, f"{name}: empty upload")
        mt = media.sniff_media_type(head)
        if mt is None:
            raise unsupported(name)
        dest = staging / f"{safe_stem(name)}{mt.ext}"
        f = await anyio.open_file(dest, "wb")
        try:
            await f.write(head)
            async for chunk in it:
                await f.write(chunk)
        finally:
            await f.aclose()
        return name, dest, mt

    async def _receive_multipart(request: Request, stream: AsyncGenerator[bytes, None], staging: Path,
                                 filename: str | None) -> tuple[str, Path, media.MediaType]:
        try:
            form = await MultiPartParser(request.headers, stream, max_files=1, max_fields=8).parse()
        except MultiPartException as e:
            raise HTTPException(400, f"malformed upload: {e.message}") from None
        try:
            up = form.get("file")
            if not isinstance(up, UploadFile):
                raise HTTPException(400, "upload has no 'file' field")
            name = filename or up.filename or "upload"
            head = await up.read(media.SNIFF_BYTES)
            if not head:
                raise HTTPException(400, f"{name}: empty upload")
            mt = media.sniff_media_type(head)
            if mt is None:
                raise unsupported(name)
            await up.seek(0)
            dest = staging / f"{safe_stem(name)}{mt.ext}"

            def copy() -> int:
                import shutil

                with open(dest, "wb") as out:
                    shutil.copyfileobj(up.file, out, 1024 * 1024)
                return dest.stat().st_size

            if await run_in_threadpool(copy) > max_upload_bytes:
                raise too_large()
            return name, dest, mt
        finally:
            await form.close()

    return app
