"""Routes over the event index: the results list, a rescan, the tags, segment search and one result
(``/api/results``, ``/api/index/rescan``, ``/api/tags``, ``/api/search``, ``/api/results/{id}``).
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from ..errors import Clip2FrameError
from ..index import search as run_search
from .files import file_url, media_url
from ..results.readers import NotInside
from .results import load_result
from .state import ViewerState, viewer_state

router = APIRouter()
State = Annotated[ViewerState, Depends(viewer_state)]


@router.get("/api/results")
def results(state: State, offset: int = 0, limit: int = 100, sort: str = "tagged", order: str = "desc",
            q: str | None = None) -> dict[str, Any]:
    """``GET /api/results``: one page of the indexed results (sorted, filtered by name)."""
    if order not in ("asc", "desc"):
        raise HTTPException(400, f"order {order!r}: choose asc or desc")
    catalogue = state.catalogue
    try:
        page, total = catalogue.store.list_files(sort=sort, descending=order == "desc", offset=offset,
                                                 limit=limit, name_contains=q)
    except Clip2FrameError as e:
        raise HTTPException(400, str(e)) from None
    return {"results": page, "total": total, "offset": offset, "limit": limit, "sort": sort, "order": order,
            "indexing": catalogue.syncing}


@router.post("/api/index/rescan")
def rescan(state: State) -> dict[str, Any]:
    """``POST /api/index/rescan``: sync the index with the results folder."""
    return state.catalogue.sync()


@router.get("/api/tags")
def tags(state: State) -> dict[str, Any]:
    """``GET /api/tags``: the indexed tags and their kinds."""
    return {"tags": [{"name": k, "kind": v} for k, v in state.catalogue.store.tags().items()]}


@router.get("/api/search")
def search(state: State, tag: str, with_: str = Query("", alias="with"), without: str = "",
           min_duration: str = "0", min_score: str = "0", threshold: str | None = None, limit: int = 50,
           offset: int = 0, model: str | None = None) -> dict[str, Any]:
    """``GET /api/search``: the index's search (:func:`clip2frame.index.query.search_catalogue`); a bad query is a
    400."""
    try:
        return run_search(state.catalogue.store, tag, with_=with_, without=without, min_duration=min_duration,
                          min_score=min_score, threshold=threshold or None, limit=limit,
                          offset=offset, model=model or None).to_dict()
    except Clip2FrameError as e:
        raise HTTPException(400, str(e)) from None


@router.get("/api/results/{result_id:anypath}")
def result(result_id: str, state: State) -> dict[str, Any]:
    """``GET /api/results/{id}``: one result's data for the page (404 outside the folder)."""
    try:
        return load_result(state.results_dir, result_id, file_url=file_url, waveforms=state.waveforms,
                           media_root=state.media_root, media_url=media_url)
    except NotInside:
        raise HTTPException(404, f"no such result: {result_id}") from None
    except (Clip2FrameError, ValueError, OSError) as e:
        raise HTTPException(422, f"result {result_id} cannot be read: {e}") from None
