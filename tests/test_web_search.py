"""The viewer on the event index: the result list is a paged, sortable query (newest first over the whole
catalogue, no cap before the sort), tags and segment search over HTTP, uploads indexed as they finish."""
from __future__ import annotations

import os

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clip2frame.results.activations import FrameActivations
from clip2frame.results.writers import write_outputs
from clip2frame.web.app import create_app
from test_web_api import SAME_ORIGIN, fake_analyze, wait_job, wav_bytes

TAGS = ["piano", "drums", "violin"]


def _write(root, rel: str, probs: np.ndarray, mtime: float) -> None:
    d = root / rel.rpartition("/")[0] if "/" in rel else root
    d.mkdir(parents=True, exist_ok=True)
    stem = rel.rpartition("/")[2]
    acts = FrameActivations(TAGS, probs.astype(np.float32), np.arange(len(probs) + 1) * 0.5,
                            np.full(len(TAGS), 0.5), source=f"{stem}.wav")
    write_outputs(acts, d, formats=("scores", "events"), stem=stem)
    os.utime(d / f"{stem}.scores.tsv", (mtime, mtime))


@pytest.fixture
def catalogue(tmp_path):
    """25 results with known modification times (older ones written last) and known tags."""
    root = tmp_path / "results"
    for i in range(25):
        P = np.full((20, 3), 0.1)
        P[: 2 + i % 10, 0] = 0.8          # piano for 1-5.5 s
        if i % 3 == 0:
            P[:4, 1] = 0.9                # drums in the first 2 s of every third file
        _write(root, f"d{i % 2}/r{i:02d}", P, mtime=1_000_000 + 1000 * (25 - i))
    return root


def test_listing_is_paged_sorted_and_newest_first_across_pages(catalogue):
    app = create_app(catalogue, analyze=fake_analyze, sync_on_start=False)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        assert client.get("/api/results").json()["total"] == 0   # nothing walked per request
        rep = client.post("/api/index/rescan").json()
        assert rep["indexed"] == 25 and rep["failed"] == 0
        page = client.get("/api/results?limit=10").json()
        assert page["total"] == 25 and [r["id"] for r in page["results"]][:3] == ["d0/r00", "d1/r01", "d0/r02"]
        ids = [r["id"] for o in (0, 10, 20) for r in client.get(f"/api/results?limit=10&offset={o}").json()["results"]]
        assert ids == [f"d{i % 2}/r{i:02d}" for i in range(25)]
        asc = client.get("/api/results?sort=name&order=asc&limit=3").json()["results"]
        assert [r["name"] for r in asc] == ["r00.wav", "r01.wav", "r02.wav"]
        assert client.get("/api/results?q=R1&limit=100").json()["total"] == 10
        assert client.get("/api/results?sort=evil").status_code == 400
        assert client.get("/api/results?order=sideways").status_code == 400
        # a second rescan reads nothing again; a removed result leaves the list
        (catalogue / "d0" / "r00.scores.tsv").unlink()
        rep = client.post("/api/index/rescan").json()
        assert rep["indexed"] == 0 and rep["current"] == 24 and rep["removed"] == 1
        assert client.get("/api/results?limit=1").json()["results"][0]["id"] == "d1/r01"


def test_tags_and_search_over_http(catalogue):
    app = create_app(catalogue, analyze=fake_analyze, sync_on_start=False)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        client.post("/api/index/rescan")
        assert [t["name"] for t in client.get("/api/tags").json()["tags"]] == TAGS
        res = client.get("/api/search?tag=piano&min_duration=4&limit=100").json()
        # piano lasts (2 + i % 10) * 0.5 s: >= 4 s for i in 6-9 and 16-19 -> 8 files
        assert len(res["segments"]) == 8 and not res["has_more"]
        assert all(s["onset"] == 0.0 and s["offset"] >= 4.0 for s in res["segments"])
        assert [s["duration"] for s in res["segments"]] == sorted((s["duration"] for s in res["segments"]),
                                                                  reverse=True)
        res = client.get("/api/search?tag=piano&without=drums&limit=100").json()
        with_drums = [s for s in res["segments"] if int(s["file"][-2:]) % 3 == 0]
        assert with_drums and all(s["onset"] == 2.0 for s in with_drums)  # cut after the drums
        res = client.get("/api/search?tag=piano&with=drums&limit=100").json()
        assert {s["file"] for s in res["segments"]} == {f"d{i % 2}/r{i:02d}" for i in range(0, 25, 3)}
        for q, msg in [("tag=tuba", "unknown tag 'tuba'"), ("tag=piano&min_duration=-1", "must be >= 0"),
                       ("tag=piano&without=drums%27%3B%20DROP%20TABLE%20files%3B--", "unknown tag")]:
            r = client.get("/api/search?" + q)
            assert r.status_code == 400 and msg in r.json()["detail"]
        assert client.get("/api/results").json()["total"] == 25


def test_upload_is_listed_and_searchable_without_rescan(tmp_path):
    app = create_app(tmp_path / "res", analyze=fake_analyze, sync_on_start=False)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        job = wait_job(client, client.post("/api/jobs?filename=solo.wav", content=wav_bytes(4.0)).json()["id"])
        assert job["status"] == "done"
        assert [r["id"] for r in client.get("/api/results").json()["results"]] == [job["result_id"]]
        seg = client.get("/api/search?tag=trumpet").json()["segments"]
        assert [(s["file"], s["onset"], s["name"]) for s in seg] == [(job["result_id"], 0.0, "solo.wav")]
