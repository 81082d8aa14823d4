"""Routes of uploads and their analysis jobs: ``POST /api/jobs`` (raw body + ``?filename=``, or multipart
field ``file``) -> 202 job, ``GET /api/jobs[/{job_id}]`` job status. The type is sniffed from the content;
the size limit holds while the body streams in (413), not only on ``Content-Length``.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated, Any, AsyncGenerator, AsyncIterator

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from . import media
from .jobs import safe_stem
from .state import ViewerState, viewer_state

log = logging.getLogger(__name__)

#: The media an upload may be (shown by the page and in 415 messages).
ACCEPTED = "WAV, AIFF, FLAC, Ogg, MP3, AAC, MP4/M4A/MOV, WebM/MKV"
# Multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_SLACK = 64 * 1024

router = APIRouter()
State = Annotated[ViewerState, Depends(viewer_state)]


class _TooLarge(Exception):
    pass


@router.get("/api/jobs")
def job_list(state: State) -> dict[str, Any]:
    """``GET /api/jobs``: every job's state."""
    return {"jobs": state.jobs.list()}


@router.get("/api/jobs/{job_id}")
def job(job_id: str, state: State) -> dict[str, Any]:
    """``GET /api/jobs/{id}``: one job's state (404 when unknown)."""
    j = state.jobs.get(job_id)
    if j is None:
        raise HTTPException(404, f"no such job: {job_id}")
    return j


def _too_large(max_upload_bytes: int) -> HTTPException:
    mb = max_upload_bytes / (1024 * 1024)
    return HTTPException(413, f"upload too large: the limit is {mb:g} MB (clip2frame serve --max-upload-mb)")


def _unsupported(name: str) -> HTTPException:
    return HTTPException(415, f"{name}: not a supported audio or video file (accepted: {ACCEPTED}; "
                              f"the type is read from the file's content, not its name)")


@router.post("/api/jobs", status_code=202)
async def upload(request: Request, state: State, filename: str | None = None) -> dict[str, Any]:
    """``POST /api/jobs``: stream an upload to disk, check its type and size, queue its analysis (202)."""
    jobs, max_upload_bytes = state.jobs, state.max_upload_bytes
    content_type = request.headers.get("content-type", "")
    multipart = content_type.startswith("multipart/form-data")
    limit = max_upload_bytes + (_MULTIPART_SLACK if multipart else 0)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(max_upload_bytes)

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
            name, dest, mt = await _receive_multipart(request, limited(), staging, filename, max_upload_bytes)
        else:
            name, dest, mt = await _receive_raw(limited(), staging, filename or "upload")
    except _TooLarge:
        await run_in_threadpool(jobs.discard_staging, staging)
        raise _too_large(max_upload_bytes) from None
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
        raise _unsupported(name)
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
                             filename: str | None, max_upload_bytes: int) -> tuple[str, Path, media.MediaType]:
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
            raise _unsupported(name)
        await up.seek(0)
        dest = staging / f"{safe_stem(name)}{mt.ext}"

        def copy() -> int:
            with open(dest, "wb") as out:
                shutil.copyfileobj(up.file, out, 1024 * 1024)
            return dest.stat().st_size

        if await run_in_threadpool(copy) > max_upload_bytes:
            raise _too_large(max_upload_bytes)
        return name, dest, mt
    finally:
        await form.close()
