"""The viewer's live view: the page pushes audio (its microphone), the server tags it as it arrives
(:class:`~clip2frame.infer.stream.StreamTagger`) and sends frames and events back as server-sent events.

API (mounted by :func:`clip2frame.web.app.create_app`; the app's token and host checks apply):

* ``POST /api/live?rate=HZ`` -> 201 ``{id, labels, kinds, groups, thresholds, frame_s, latency_bound_s}``:
  a session for mono float32 audio at ``rate`` Hz (resampled to the model's rate); at most
  :data:`MAX_SESSIONS` at once (429), idle ones closed after :data:`IDLE_S` seconds.
* ``POST /api/live/{id}/audio`` body = little-endian float32 samples (at most :data:`MAX_CHUNK_BYTES`) -> 204.
* ``POST /api/live/{id}/close`` -> 204: the last frames and events are flushed, then the stream ends.
* ``GET /api/live/{id}/stream`` -> ``text/event-stream``: ``event: frames`` with ``{"t0": s, "probs":
  [[p per tag] per frame]}``, ``event: events`` with ``[{"onset", "offset", "tag", "peak"}]`` (the
  ``listen`` lines), and ``event: end`` after close. One reader per session.

The page (``/static/live.html``) draws the frames as a scrolling taggram with the grouping by kind and the
colours of a file result (``static/palette.js``).
"""
from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, AsyncIterator

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..audio.live import MonoResampler
from ..errors import Clip2FrameError
from ..infer.stream import StreamTagger
from ..timebase import SAMPLE_RATE
from .results import group_by_kind

MAX_SESSIONS = 4
MAX_CHUNK_BYTES = 1 << 20  # 4 s of float32 audio at 64 kHz
IDLE_S = 60.0


class _Session:
    """One live stream: its tagger, resampler and the messages not yet read by the page."""

    def __init__(self, model: str | Path, rate: int):
        self.stream = StreamTagger(model)
        self.conv = MonoResampler("live audio", rate, self.stream.spec.sr)
        self.lock = threading.Lock()
        self.messages: deque[str] = deque()
        self.done = False
        self.seen = time.monotonic()

    def _publish(self, update: Any) -> None:
        fr = update.frames
        if fr.n_frames:
            data = {"t0": float(fr.boundaries[0]), "probs": np.round(fr.probs, 4).tolist()}
            self.messages.append(f"event: frames\ndata: {json.dumps(data)}\n\n")
        if update.events:
            lines = ",".join(e.to_json() for e in update.events)
            self.messages.append(f"event: events\ndata: [{lines}]\n\n")

    def feed(self, samples: np.ndarray) -> None:
        with self.lock:
            if self.done:
                raise HTTPException(409, "live session: already closed")
            self.seen = time.monotonic()
            self._publish(self.stream.feed(self.conv(samples[:, None])))

    def close(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
            tail = self.conv(np.zeros((0, 1), np.float32), last=True)
            if tail.size:
                self._publish(self.stream.feed(tail))
            self._publish(self.stream.close())
            self.messages.append("event: end\ndata: {}\n\n")


def live_router(model: str | Path = "default") -> APIRouter:
    """The live API over ``model`` (``"default"`` or a ``.safetensors`` path)."""
    router = APIRouter()
    sessions: dict[str, _Session] = {}
    guard = threading.Lock()

    def get(sid: str) -> _Session:
        s = sessions.get(sid)
        if s is None:
            raise HTTPException(404, f"live session {sid!r}: not found (closed or expired)")
        return s

    def prune() -> None:
        now = time.monotonic()
        for sid, s in list(sessions.items()):
            if s.done and not s.messages or now - s.seen > IDLE_S:
                s.close()
                sessions.pop(sid, None)

    @router.post("/api/live", status_code=201)
    def start(rate: int = SAMPLE_RATE) -> dict[str, Any]:
        if not 4000 <= rate <= 192000:
            raise HTTPException(400, f"rate {rate}: expected 4000..192000 Hz")
        with guard:
            prune()
            if len(sessions) >= MAX_SESSIONS:
                raise HTTPException(429, f"live: {MAX_SESSIONS} sessions already running; close one first")
            try:
                s = _Session(model, rate)
            except Clip2FrameError as e:
                raise HTTPException(400, str(e)) from None
            sid = secrets.token_hex(8)
            sessions[sid] = s
        st = s.stream
        return {"id": sid, "labels": st.labels, "kinds": dict(st.tagger.kinds),
                "groups": group_by_kind(st.labels, dict(st.tagger.kinds)), "thresholds": st.thresholds.tolist(),
                "frame_s": st.frame_s, "latency_bound_s": st.latency.bound_s}

    @router.post("/api/live/{sid}/audio", status_code=204)
    async def audio(sid: str, request: Request) -> Response:
        s = get(sid)
        body = b""
        async for part in request.stream():
            body += part
            if len(body) > MAX_CHUNK_BYTES:
                raise HTTPException(413, f"live audio: at most {MAX_CHUNK_BYTES} bytes a request")
        if len(body) % 4:
            raise HTTPException(400, "live audio: the body must be little-endian float32 samples")
        x = np.frombuffer(body, dtype="<f4").astype(np.float32)
        try:
            await run_in_threadpool(s.feed, x)
        except Clip2FrameError as e:
            raise HTTPException(400, str(e)) from None
        return Response(status_code=204)

    @router.post("/api/live/{sid}/close", status_code=204)
    async def close(sid: str) -> Response:
        await run_in_threadpool(get(sid).close)
        return Response(status_code=204)

    @router.get("/api/live/{sid}/stream")
    def stream(sid: str) -> StreamingResponse:
        s = get(sid)

        async def messages() -> AsyncIterator[str]:
            yield ": live\n\n"
            while True:
                while s.messages:
                    msg = s.messages.popleft()
                    yield msg
                    if msg.startswith("event: end"):
                        with guard:
                            sessions.pop(sid, None)
                        return
                if sid not in sessions:
                    return
                await asyncio.sleep(0.05)

        return StreamingResponse(messages(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router
