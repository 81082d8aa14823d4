"""Routes of the files themselves: ``GET /files/{path}`` (inside RESULTS_DIR) and ``GET /media/{path}``
(inside MEDIA_ROOT), HTTP Range answered with 206, ``?download=1`` as an attachment; and the URLs of both.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse
from starlette.convertors import PathConvertor, register_url_convertor

from . import media
from ..results.readers import NotInside, resolve_inside
from .state import ViewerState, viewer_state


class _AnyPathConvertor(PathConvertor):
    """Starlette's ``path`` (``.*``) stops at a newline, which a file name may hold: this one does not."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", _AnyPathConvertor())

_TEXT_TYPES = {".tsv": "text/tab-separated-values; charset=utf-8", ".txt": "text/plain; charset=utf-8",
               ".json": "application/json", ".npz": "application/octet-stream",
               ".csv": "text/csv; charset=utf-8", ".jams": "application/json"}

router = APIRouter()
State = Annotated[ViewerState, Depends(viewer_state)]


def file_url(rel: str) -> str:
    """The URL of ``rel`` (a path inside RESULTS_DIR, ``/``-separated)."""
    return "/files/" + quote(rel, safe="/")


def media_url(rel: str) -> str:
    """The URL of ``rel`` (a path inside MEDIA_ROOT, ``/``-separated)."""
    return "/media/" + quote(rel, safe="/")


@router.api_route("/files/{rel_path:anypath}", methods=["GET", "HEAD"])
def files(rel_path: str, state: State, download: bool = False) -> FileResponse:
    """``GET|HEAD /files/{path}``: a file of the results folder."""
    return _serve(state.results_dir, rel_path, download)


@router.api_route("/media/{rel_path:anypath}", methods=["GET", "HEAD"])
def media_files(rel_path: str, state: State, download: bool = False) -> FileResponse:
    """``GET|HEAD /media/{path}``: a file of the media folder (404 without one)."""
    if state.media_root is None:
        raise HTTPException(404, "no such file")
    return _serve(state.media_root, rel_path, download)


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
