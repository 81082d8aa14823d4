"""The viewer page end to end in real headless Chromium (Playwright, Debian's /usr/bin/chromium).

The server runs in a thread (uvicorn on a free 127.0.0.1 port). One test drives the page with an injected
analyzer (fast, deterministic: trumpet in the first half, flute in the second); the other uses the real
default model on a rendered trumpet clip, when the model file has been built.
"""
from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from clip2frame.web.app import create_app  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "src" / "clip2frame" / "assets" / "default_model.safetensors"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


class ServerThread:
    """uvicorn serving ``app`` on an already bound 127.0.0.1 socket (no port race), in a thread."""

    def __init__(self, app):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def instrument_clip(instrument: str, path: Path, *, duration_s: float, seed: int = 0) -> Path:
    """A clip of one instrument, rendered with the music renderer (FluidSynth); skips when unavailable."""
    try:
        from clip2frame.data.synth import render_instrument_clip

        audio = render_instrument_clip(instrument, duration_s=duration_s, seed=seed, sr=16000)
    except Exception as e:  # noqa: BLE001 - FluidSynth or its SoundFont missing on this machine
        pytest.skip(f"music renderer unavailable: {e}")
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path


def fake_analyze(path: Path):
    from clip2frame.audio.io import load_audio
    from clip2frame.results.activations import FrameActivations
    from clip2frame.tags import MUSIC_TAG_KINDS, MUSIC_TAGS

    duration_s = len(load_audio(path, sr=16000)) / 16000
    T = int(np.ceil(duration_s / 0.512))
    bounds = np.minimum(np.arange(T + 1) * 0.512, duration_s)
    probs = np.full((T, len(MUSIC_TAGS)), 0.04, dtype=np.float32)
    probs[:, MUSIC_TAGS.index("fast")] = np.linspace(0.2, 0.6, T)
    probs[: T // 2, MUSIC_TAGS.index("trumpet")] = 0.92
    probs[T // 2:, MUSIC_TAGS.index("flute")] = 0.81
    probs[:, MUSIC_TAGS.index("saxophone")] = 0.35
    return FrameActivations(list(MUSIC_TAGS), probs, bounds, np.full(len(MUSIC_TAGS), 0.5),
                            dict(MUSIC_TAG_KINDS), str(path), {"model": "fake"})


def top_tags(page) -> list[tuple[str, str, float]]:
    return page.eval_on_selector_all(
        "#top-tags li", "els => els.map(e => [e.dataset.tag, e.dataset.kind, parseFloat(e.dataset.prob)])")


def first_instrument(page) -> str:
    return next(tag for tag, kind, _ in top_tags(page) if kind != "tempo")


def current_time(page) -> float:
    return page.evaluate("document.getElementById('player').currentTime")


def click_time(page, canvas_id: str, t: float) -> None:
    """Click on a time axis where time ``t`` is drawn (the page's own mapping), mid-height."""
    x = page.evaluate(f"window.c2f.timeToX('{canvas_id}', {t})")
    box = page.locator(f"#{canvas_id}").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)


def upload_and_open(page, path: Path, *, timeout_ms: int) -> None:
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#jobs li", timeout=5000)
    page.wait_for_selector("#taggram-canvas[data-drawn='1']", timeout=timeout_ms)
    page.wait_for_function("() => document.getElementById('player') && document.getElementById('player').readyState >= 1",
                           timeout=20000)


def test_page_with_injected_analyzer(browser, tmp_path):
    clip = instrument_clip("trumpet", tmp_path / "trumpet solo.wav", duration_s=6.0)
    results = tmp_path / "results"
    with ServerThread(create_app(results, analyze=fake_analyze, max_upload_bytes=5_000_000)) as srv:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.url + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert page.is_visible("#empty-state") and not page.is_visible("#error-banner")

        upload_and_open(page, clip, timeout_ms=30000)
        assert page.inner_text("#result-name") == "trumpet solo.wav"
        assert page.inner_text("#duration") == "0:06.0"
        assert page.is_enabled("#play-btn")
        # Tag names are grouped by kind, kind panels in model order.
        kinds = page.eval_on_selector_all(".kind-panel", "els => els.map(e => e.dataset.kind)")
        assert kinds == ["keyboards", "guitars & bass", "strings", "winds", "percussion", "tempo"]
        assert page.eval_on_selector_all(".kind-panel[data-kind='winds'] li", "els => els.map(e => e.dataset.tag)")[0] \
            == "trumpet"
        assert first_instrument(page) == "trumpet" and top_tags(page)[0][2] == pytest.approx(0.92)
        files = page.eval_on_selector_all("#file-list a", "els => els.map(e => e.textContent)")
        assert "trumpet_solo.scores.tsv" in files and "trumpet_solo.wav" in files

        # Seek on the taggram: the media's time, the time display, the playhead and the top tags follow.
        x0 = float(page.get_attribute("#taggram-canvas", "data-playhead-x"))
        click_time(page, "taggram-canvas", 4.5)
        page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 4.5) < 0.05")
        assert float(page.get_attribute("#taggram-canvas", "data-playhead-x")) > x0 + 100
        assert page.inner_text("#time-display") == "0:04.5"
        assert first_instrument(page) == "flute"
        # ... and on the waveform and events lanes too.
        click_time(page, "waveform-canvas", 1.0)
        page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 1.0) < 0.05")
        assert first_instrument(page) == "trumpet"
        click_time(page, "events-canvas", 5.0)
        page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 5.0) < 0.05")
        page.keyboard.press("Shift+ArrowLeft")  # keyboard seeking: -1 s
        page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 4.0) < 0.05")

        # Zoom x2 around the playhead (at 4 s, 2/3 of the way): the axes show [2, 5] s, the playhead stays on
        # its pixel, and seeking maps through the zoom.
        x_before = float(page.get_attribute("#taggram-canvas", "data-playhead-x"))
        page.click("#zoom-in")
        assert page.inner_text("#zoom-info") == "0:02.0 – 0:05.0"
        assert float(page.get_attribute("#taggram-canvas", "data-playhead-x")) == pytest.approx(x_before, abs=1)
        click_time(page, "taggram-canvas", 3.0)
        page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 3.0) < 0.05")
        page.keyboard.press("0")
        assert page.inner_text("#zoom-info") == ""

        # Playback moves the playhead (muted, autoplay allowed by flag).
        click_time(page, "taggram-canvas", 0.5)
        page.click("#play-btn")
        page.wait_for_function("() => document.getElementById('player').currentTime > 1.2", timeout=10000)
        page.click("#play-btn")
        page.wait_for_function("() => document.getElementById('player').paused")
        page.wait_for_function("() => document.getElementById('play-btn').textContent.endsWith('Play')")

        shot = tmp_path / "viewer-injected.png"
        click_time(page, "taggram-canvas", 2.0)
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")

        # Errors reach the banner: a text file named like audio is refused, the server keeps going.
        bad = tmp_path / "notes.wav"
        bad.write_text("these are my notes, not a recording\n" * 10)
        page.set_input_files("#file-input", str(bad))
        page.wait_for_selector("#error-banner", state="visible")
        assert "not a supported audio or video file" in page.inner_text("#error-text")
        page.click("#error-close")
        assert not page.is_visible("#error-banner")

        # Reload with the result in the URL: it opens again; the result list holds it.
        page.reload()
        page.wait_for_selector("#taggram-canvas[data-drawn='1']")
        assert page.inner_text("#result-name") == "trumpet solo.wav"
        assert page.eval_on_selector_all("#result-select option", "els => els.length") == 2  # + placeholder
        # A video upload plays in a <video> element.
        from test_web_api import mp4_bytes

        video = tmp_path / "band.mp4"
        video.write_bytes(mp4_bytes(2.0))
        page.set_input_files("#file-input", str(video))
        page.wait_for_function("() => document.getElementById('result-name').textContent === 'band.mp4'")
        page.wait_for_function("() => { const p = document.getElementById('player');"
                               " return p.tagName === 'VIDEO' && p.readyState >= 1 && p.videoWidth === 64; }",
                               timeout=20000)
        assert not page.is_visible("#error-banner")

        page.goto(srv.url + "/#result=does/not/exist")
        page.wait_for_selector("#error-banner", state="visible")
        assert "no such result" in page.inner_text("#error-text")
        assert errors == []


@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="the default model has not been built yet")
def test_page_with_default_model_on_rendered_drums(browser, tmp_path):
    """The real default model on a rendered drum clip (of the 13 instruments, the one the default model
    ranks first by the widest margin on rendered solo clips): drums lead the instruments at the playhead."""
    from clip2frame.infer.predict import predict

    clip = instrument_clip("drums", tmp_path / "drums.wav", duration_s=10.0, seed=0)
    with ServerThread(create_app(tmp_path / "results", model="default")) as srv:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.url + "/")
        page.wait_for_selector("body[data-ready='1']")
        upload_and_open(page, clip, timeout_ms=240000)
        assert not page.is_visible("#error-banner"), page.inner_text("#error-text")
        assert page.inner_text("#result-name") == "drums.wav" and page.inner_text("#duration") == "0:10.0"
        for t in (5.0, 8.0):
            x = float(page.get_attribute("#taggram-canvas", "data-playhead-x"))
            click_time(page, "taggram-canvas", t)
            page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {t}) < 0.05")
            assert float(page.get_attribute("#taggram-canvas", "data-playhead-x")) != x
            assert first_instrument(page) == "drums", top_tags(page)
        # What the page shows is what predict() gives for the file.
        shown = page.evaluate("() => window.c2f.state.result.probs")
        np.testing.assert_allclose(shown, predict(clip, model="default").probs, atol=1e-4)
        shot = tmp_path / "viewer-default-model.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert errors == []
