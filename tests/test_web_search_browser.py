"""The viewer's search and result list in real headless Chromium: tag chips (with / without), minimum
duration, results that open the file and play from the segment's onset; the browse table paged and sorted
by the server."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from test_web_browser import CHROMIUM, ServerThread, browser, sync_api  # noqa: F401 - fixture
from test_web_api import fake_analyze

from clip2frame.results.activations import FrameActivations
from clip2frame.results.writers import write_outputs
from clip2frame.web.app import create_app

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")]
TAGS = ["piano", "drums", "violin"]


def _result(root, stem: str, piano: tuple[int, int], drums: tuple[int, int] | None, n: int = 24) -> None:
    P = np.full((n, 3), 0.1, np.float32)
    P[piano[0]:piano[1], 0] = 0.85
    if drums:
        P[drums[0]:drums[1], 1] = 0.9
    acts = FrameActivations(TAGS, P, np.arange(n + 1) * 0.5, np.full(3, 0.5), source=f"{stem}.wav")
    write_outputs(acts, root, formats=("scores", "events"), stem=stem)
    t = np.arange(int(n * 0.5 * 16000)) / 16000
    sf.write(root / f"{stem}.wav", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 16000, subtype="PCM_16")


def test_search_chips_and_play_from_onset(browser, tmp_path):  # noqa: F811
    root = tmp_path / "results"
    root.mkdir()
    _result(root, "alpha", (2, 20), (2, 8))     # piano 1-10 s, drums 1-4 s -> piano without drums 4-10 s
    _result(root, "bravo", (0, 6), None)        # piano 0-3 s (too short for 4 s)
    _result(root, "charlie", (10, 22), (0, 4))  # piano 5-11 s, drums elsewhere -> 5-11 s
    app = create_app(root, analyze=fake_analyze, sync_on_start=True)
    with ServerThread(app) as server:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        page.wait_for_function("() => document.querySelectorAll('#browse-table tbody tr').length === 3",
                               timeout=20000)
        # sorted by the server: click "Name" -> ascending, again -> descending
        page.click("#browse-table th[data-sort='name']")
        page.wait_for_function("() => document.querySelector('#browse-table tbody tr').dataset.id === 'alpha'")
        page.click("#browse-table th[data-sort='name']")
        page.wait_for_function("() => document.querySelector('#browse-table tbody tr').dataset.id === 'charlie'")

        page.wait_for_selector(".chip[data-tag='piano']")
        page.click(".chip[data-tag='piano']")                 # require
        page.click(".chip[data-tag='drums']")
        page.click(".chip[data-tag='drums']")                 # exclude
        assert page.get_attribute(".chip[data-tag='drums']", "data-state") == "without"
        assert "main" in page.get_attribute(".chip[data-tag='piano']", "class")
        page.fill("#min-duration", "4")
        page.click("#search-btn")
        page.wait_for_selector("#search-table tbody tr")
        rows = page.eval_on_selector_all("#search-table tbody tr",
                                         "els => els.map(e => [e.dataset.file, parseFloat(e.dataset.onset)])")
        assert rows == [["alpha", 4.0], ["charlie", 5.0]] or rows == [["charlie", 5.0], ["alpha", 4.0]]
        page.click("#search-table tbody tr[data-file='charlie']")
        page.wait_for_function("() => document.getElementById('viewer').dataset.resultId === 'charlie'")
        page.wait_for_function("() => { const p = document.getElementById('player');"
                               " return p && !p.paused && p.currentTime >= 5.0; }", timeout=20000)
        assert page.evaluate("document.getElementById('player').currentTime") < 8.0
        # a bad query shows the server's one-line message
        page.click("#search-clear")
        page.click("#search-btn")
        assert "Pick a tag" in page.text_content("#error-text")
        assert errors == []
