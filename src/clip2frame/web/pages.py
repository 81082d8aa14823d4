"""Routes of the page: ``GET /`` (``static/index.html``; the assets are mounted under ``/static/`` by
:func:`~clip2frame.web.app.create_app`) and ``GET /api/config`` (upload limit, accepted types, model, version).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from .._version import __version__
from .state import ViewerState, viewer_state
from .uploads import ACCEPTED

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()
State = Annotated[ViewerState, Depends(viewer_state)]


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """``GET /``: the viewer's page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})


@router.get("/api/config")
def config(state: State) -> dict[str, Any]:
    """``GET /api/config``: version, model, upload limit, accepted types."""
    return {"version": __version__, "model": state.jobs.model_name, "max_upload_bytes": state.max_upload_bytes,
            "accepted": ACCEPTED}
