"""The viewer's live view through its HTTP API: pushed audio -> server-sent frames and events."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from clip2frame.audio.live import MonoResampler  # noqa: E402
from clip2frame.infer.stream import StreamTagger  # noqa: E402
from clip2frame.models.io import save_model  # noqa: E402
from clip2frame.web import live  # noqa: E402
from clip2frame.web.app import create_app  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from test_stream import _tagger, _wave, _with_median_thresholds  # noqa: E402


@pytest.fixture
def setup(tmp_path):
    wave = _wave(12.0, sr=22050)  # the page sends at its AudioContext's rate
    tagger = _with_median_thresholds(_tagger("tiny"), _wave(12.0))
    model = save_model(tmp_path / "tiny.safetensors", tagger)
    app = create_app(tmp_path / "results", model=str(model), sync_on_start=False)
    with TestClient(app, headers={"origin": "http://testserver"}) as client:  # the viewer's own page (same-origin rule)
        yield client, model, wave


def _sse(text):
    out = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_live_session_streams_the_frames_and_events_of_stream_tagger(setup):
    client, model, wave = setup
    r = client.post("/api/live?rate=22050")
    assert r.status_code == 201
    info = r.json()
    assert info["labels"] == [f"tag{k}" for k in range(4)] and info["groups"] == [{"kind": "kind", "tags": info["labels"]}]
    sid = info["id"]
    chunks = np.array_split(wave, 37)
    for c in chunks:
        assert client.post(f"/api/live/{sid}/audio", content=c.astype("<f4").tobytes()).status_code == 204
    assert client.post(f"/api/live/{sid}/close").status_code == 204
    msgs = _sse(client.get(f"/api/live/{sid}/stream").text)
    assert msgs[-1][0] == "end"
    probs = np.concatenate([np.asarray(d["probs"]) for e, d in msgs if e == "frames"])
    events = [ev for e, d in msgs if e == "events" for ev in d]
    # the same audio through the same resampler and tagger, directly
    st, conv = StreamTagger(str(model)), MonoResampler("x", 22050, 16000)
    ref_p, ref_e = [], []
    for c in chunks:
        u = st.feed(conv(c[:, None]))
        ref_p.append(u.frames.probs)
        ref_e += u.events
    for u in (st.feed(conv(np.zeros((0, 1), np.float32), last=True)), st.close()):
        ref_p.append(u.frames.probs)
        ref_e += u.events
    assert np.abs(probs - np.concatenate(ref_p)).max() <= 1e-4  # 4 decimals on the wire
    assert events == [json.loads(e.to_json()) for e in ref_e] and len(events) >= 2
    assert client.post(f"/api/live/{sid}/audio", content=b"\0" * 8).status_code == 404  # ended and read


def test_live_refuses_bad_requests(setup, monkeypatch):
    client, _, _ = setup
    assert client.post("/api/live/nope/audio", content=b"\0" * 8).status_code == 404
    assert client.post("/api/live?rate=10").status_code == 400
    sid = client.post("/api/live").json()["id"]
    assert client.post(f"/api/live/{sid}/audio", content=b"\0" * 7).status_code == 400
    assert client.post(f"/api/live/{sid}/audio", content=b"\0" * (live.MAX_CHUNK_BYTES + 4)).status_code == 413
    nan = np.array([0.0, np.nan], "<f4").tobytes()
    r = client.post(f"/api/live/{sid}/audio", content=nan)
    assert r.status_code == 400 and "NaN" in r.json()["detail"]
    for _ in range(live.MAX_SESSIONS - 1):
        assert client.post("/api/live").status_code == 201
    r = client.post("/api/live")
    assert r.status_code == 429 and "sessions already running" in r.json()["detail"]


def test_live_page_and_link_are_served(setup):
    client, _, _ = setup
    page = client.get("/static/live.html")
    assert page.status_code == 200 and "/static/live.js" in page.text and "/static/palette.js" in page.text
    assert "/static/live.html" in client.get("/").text
    assert "c2fPalette" in client.get("/static/palette.js").text


@pytest.mark.browser
def test_live_page_in_chromium_plays_a_file_live(tmp_path):
    """The page plays a file at real time through the live API: the taggram fills, events are listed,
    and the page's palette is the file view's (the file view still draws)."""
    import soundfile as sf

    from test_web_browser import CHROMIUM, CHROMIUM_ARGS, ServerThread, sync_api

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    wave = _wave(7.0, sr=16000)
    tagger = _with_median_thresholds(_tagger("tiny"), wave)
    model = save_model(tmp_path / "tiny.safetensors", tagger)
    clip = tmp_path / "clip.wav"
    sf.write(clip, wave, 16000, subtype="FLOAT")
    app = create_app(tmp_path / "results", model=str(model), sync_on_start=False)
    with ServerThread(app) as server, sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = b.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/static/live.html")
            page.set_input_files("#live-file", str(clip))
            page.wait_for_function("() => document.getElementById('live-status').textContent.startsWith('ended')",
                                   timeout=60000)
            frames = int(page.eval_on_selector("#live-canvas", "c => c.dataset.frames"))
            assert frames >= 12  # ~7 s at the AudioContext's rate, resampled: 14 frames of 0.512 s
            assert page.locator("#live-events li").count() >= 1
            assert errors == []
            page.goto(server.url + "/")
            page.wait_for_selector("#live-link")
            assert page.evaluate("typeof window.c2fPalette.colormap") == "function" and errors == []
        finally:
            b.close()
