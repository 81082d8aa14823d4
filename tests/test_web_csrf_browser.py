"""Cross-site request forgery against the viewer, in real headless Chromium: a page served from another local
origin (another port on 127.0.0.1, which browsers count as the same *site*) sends no-cors fetches and a form
POST to a viewer bound to loopback without a token. None of them may start an analysis or a rescan (checked
on the server's own job list and request log), while the viewer's own page still can.
"""
from __future__ import annotations

import base64
import http.server
import io
import json
import threading
import time
import urllib.request

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from clip2frame.web.app import create_app  # noqa: E402
from test_web_browser import CHROMIUM, ServerThread, browser, fake_analyze  # noqa: E402,F401 - browser: a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def ascii_wav() -> bytes:
    """A valid WAV whose every byte is below 0x80, so a page can send it as a text/plain string: 8-bit at
    8 kHz (8000 = 0x1F40), 1 s of noise."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 0x80, size=8000, dtype=np.uint8).tobytes()
    head = (b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
            + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
            + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
            + b"data" + len(data).to_bytes(4, "little"))
    wav = head + data
    assert max(wav) < 0x80 and sf.info(io.BytesIO(wav)).samplerate == 8000
    return wav


class RequestLog:
    """ASGI wrapper recording ``(method, path, status)`` of every request the viewer answers."""

    def __init__(self, app):
        self.app, self.seen = app, []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def record(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, record)


class OtherOrigin:
    """A plain page on another 127.0.0.1 port: the attacker's origin."""

    def __enter__(self) -> "OtherOrigin":
        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = b"<!doctype html><title>elsewhere</title><p>nothing to see</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


ATTACK = """async ([viewer, wavText, wavB64]) => {
  const bytes = Uint8Array.from(atob(wavB64), c => c.charCodeAt(0));
  const sent = [];
  // 1-3: no-cors fetches (no preflight): a text/plain string body, a text/plain Blob, an empty rescan
  for (const [url, body] of [["/api/jobs?filename=text.wav", wavText],
                             ["/api/jobs?filename=blob.wav", new Blob([bytes], {type: "text/plain"})],
                             ["/api/index/rescan", "x"]]) {
    try { await fetch(viewer + url, {method: "POST", mode: "no-cors", body: body}); sent.push(url); }
    catch (e) { sent.push("failed " + url + ": " + e); }
  }
  // 4: a multipart form POST with a real file, into a hidden frame
  const frame = document.createElement("iframe"); frame.name = "sink"; document.body.append(frame);
  const form = document.createElement("form");
  form.method = "POST"; form.enctype = "multipart/form-data"; form.target = "sink";
  form.action = viewer + "/api/jobs?filename=form.wav";
  const input = document.createElement("input"); input.type = "file"; input.name = "file";
  const dt = new DataTransfer(); dt.items.add(new File([bytes], "form.wav", {type: "audio/wav"}));
  input.files = dt.files; form.append(input); document.body.append(form); form.submit();
  sent.push("form");
  return sent;
}"""


def _jobs(url: str) -> list:
    with urllib.request.urlopen(url + "/api/jobs", timeout=10) as r:
        return json.loads(r.read())["jobs"]


def test_pages_elsewhere_cannot_post_to_the_viewer_but_its_own_page_can(browser, tmp_path):
    wav = ascii_wav()
    (tmp_path / "clip.wav").write_bytes(wav)
    app = RequestLog(create_app(tmp_path / "results", analyze=fake_analyze, sync_on_start=False,
                                allowed_hosts=["127.0.0.1", "localhost", "[::1]"]))
    with ServerThread(app) as viewer, OtherOrigin() as other:
        page = browser.new_page()
        page.goto(other.url + "/")
        sent = page.evaluate(ATTACK, [viewer.url, wav.decode("ascii"), base64.b64encode(wav).decode()])
        assert sent == ["/api/jobs?filename=text.wav", "/api/jobs?filename=blob.wav", "/api/index/rescan", "form"]
        deadline = time.monotonic() + 15
        while sum(m == "POST" for m, _, _ in app.seen) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        posts = [(p, s) for m, p, s in app.seen if m == "POST"]
        # every request reached the server and was refused; nothing was queued
        assert sorted(posts) == [("/api/index/rescan", 403)] + [("/api/jobs", 403)] * 3, app.seen
        assert _jobs(viewer.url) == [] and not (tmp_path / "results" / "uploads").exists()

        # the viewer's own page: an upload through its file input, and a rescan, go through
        own = browser.new_page()
        own.goto(viewer.url + "/")
        own.wait_for_selector("body[data-ready='1']")
        own.set_input_files("#file-input", str(tmp_path / "clip.wav"))
        own.wait_for_selector("#jobs li")
        deadline = time.monotonic() + 15
        while not _jobs(viewer.url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_jobs(viewer.url)) == 1
        assert own.evaluate("async () => (await fetch('/api/index/rescan', {method: 'POST'})).status") == 200
        assert [(p, s) for m, p, s in app.seen if m == "POST"][4:] == [("/api/jobs", 202), ("/api/index/rescan", 200)]
