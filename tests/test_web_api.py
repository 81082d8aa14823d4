"""The viewer's HTTP API through FastAPI's TestClient, with an injected (fake, deterministic) analyzer."""
from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from clip2frame.results.activations import FrameActivations  # noqa: E402
from clip2frame.results.writers import write_outputs  # noqa: E402
from clip2frame.tags import MUSIC_TAG_KINDS, MUSIC_TAGS  # noqa: E402
from clip2frame.web.app import create_app  # noqa: E402
from clip2frame.web.media import file_envelope, sniff_media_type  # noqa: E402
from clip2frame.results.readers import NotInside, resolve_inside  # noqa: E402

FRAME_S = 0.512
#: What the viewer's own page sends with a POST (TestClient's default Host is testserver).
SAME_ORIGIN = {"origin": "http://testserver"}


def wav_bytes(duration_s: float = 3.0, freq: float = 440.0, sr: int = 16000, fmt: str = "WAV") -> bytes:
    t = np.arange(int(duration_s * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype="PCM_16" if fmt == "WAV" else None)
    return buf.getvalue()


def fake_acts(duration_s: float, source: str | None = None) -> FrameActivations:
    """Trumpet over the first half, flute over the second, everything else low."""
    T = max(1, int(np.ceil(duration_s / FRAME_S)))
    bounds = np.arange(T + 1) * FRAME_S
    bounds[-1] = min(bounds[-1], duration_s) if duration_s > bounds[-2] else bounds[-1]
    probs = np.full((T, len(MUSIC_TAGS)), 0.05, dtype=np.float32)
    half = T // 2 if T > 1 else 1
    probs[:half, MUSIC_TAGS.index("trumpet")] = 0.9
    probs[half:, MUSIC_TAGS.index("flute")] = 0.8
    probs[:, MUSIC_TAGS.index("fast")] = 0.3
    return FrameActivations(list(MUSIC_TAGS), probs, bounds, np.full(len(MUSIC_TAGS), 0.5),
                            dict(MUSIC_TAG_KINDS), source, {"model": "fake"})


def fake_analyze(path: Path) -> FrameActivations:
    from clip2frame.audio.io import load_audio

    wave = load_audio(path, sr=16000)  # raises AudioError for corrupt files, like predict would
    return fake_acts(len(wave) / 16000, str(path))


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    d.mkdir()
    return d


@pytest.fixture
def client(results_dir: Path):
    app = create_app(results_dir, analyze=fake_analyze, max_upload_bytes=2_000_000)
    with TestClient(app, headers=SAME_ORIGIN) as c:
        yield c


def listing(client: TestClient) -> list[dict]:
    """The result list after a rescan (results written straight into the folder reach the index so)."""
    assert client.post("/api/index/rescan").status_code == 200
    return client.get("/api/results").json()["results"]


def wait_job(client: TestClient, job_id: str, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200
        job = r.json()
        if job["status"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def make_result(root: Path, rel_dir: str, stem: str, *, duration_s: float = 3.0, media: bool = True) -> Path:
    """A result as ``clip2frame tag`` leaves it: scores + events (+ the audio beside them)."""
    d = root / rel_dir
    d.mkdir(parents=True, exist_ok=True)
    write_outputs(fake_acts(duration_s, f"{stem}.wav"), d, formats=("scores", "events", "npz"), stem=stem)
    if media:
        (d / f"{stem}.wav").write_bytes(wav_bytes(duration_s))
    return d


# ------------------------------------------------------------------------------------------- sniffing
@pytest.mark.parametrize("head, mime", [
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
    (b"fLaC\x00\x00\x00\x22" + bytes(8), "audio/flac"),
    (b"FORM\x00\x00\x10\x00AIFFCOMM", "audio/aiff"),
    (b"OggS\x00\x02" + bytes(10), "audio/ogg"),
    (b"ID3\x04\x00\x00" + bytes(10), "audio/mpeg"),
    (b"\xff\xfb\x90\x64" + bytes(12), "audio/mpeg"),
    (b"\xff\xf1\x50\x80" + bytes(12), "audio/aac"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm", "video/webm"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
])
def test_sniff_known_types(head, mime):
    assert sniff_media_type(head).mime == mime


@pytest.mark.parametrize("head", [b"", b"hello world, not audio", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n" + bytes(8),
                                  b"RIFF\x24\x00\x00\x00AVI LIST", b"<html><body>"])
def test_sniff_refuses_other_content(head):
    assert sniff_media_type(head) is None


def test_sniff_real_encoded_files():
    assert sniff_media_type(wav_bytes(0.2)[:64]).mime == "audio/wav"
    assert sniff_media_type(wav_bytes(0.2, fmt="FLAC")[:64]).mime == "audio/flac"
    assert sniff_media_type(wav_bytes(0.2, fmt="OGG")[:64]).mime == "audio/ogg"


def test_file_envelope_streams_and_matches_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    x = (0.4 * rng.standard_normal(16000 * 5 + 123)).clip(-1, 1).astype(np.float32)
    sf.write(tmp_path / "n.wav", x, 16000, subtype="FLOAT")
    env = file_envelope(tmp_path / "n.wav", block_s=0.77)  # blocks not aligned with buckets
    assert env["n"] == 501 and env["duration_s"] == pytest.approx(len(x) / 16000, abs=1e-4)
    np.testing.assert_allclose(env["min"][:500], x[:80000].reshape(500, 160).min(1), atol=1e-4)
    np.testing.assert_allclose(env["max"][:500], x[:80000].reshape(500, 160).max(1), atol=1e-4)
    assert env["max"][500] == pytest.approx(x[80000:].max(), abs=1e-4)
    small = file_envelope(tmp_path / "n.wav", max_buckets=100)
    assert small["n"] <= 100 and max(small["max"]) == pytest.approx(x.max(), abs=1e-4)
    assert min(small["min"]) == pytest.approx(x.min(), abs=1e-4)


# ------------------------------------------------------------------------------------------- page
def test_page_and_assets_served_with_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'src="/static/app.js"' in r.text and "error-banner" in r.text and "taggram-canvas" in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "//cdn" not in client.get("/static/app.js").text and "http" not in r.text.replace("http-equiv", "")
    cfg = client.get("/api/config").json()
    assert cfg["max_upload_bytes"] == 2_000_000


# ------------------------------------------------------------------------------------------- listing
def test_listing_and_result_contents(client, results_dir):
    make_result(results_dir, ".", "song", duration_s=3.0)
    make_result(results_dir, "album/cd1", "track 01", duration_s=2.0, media=False)
    (results_dir / ".hidden").mkdir()
    make_result(results_dir, ".hidden", "secret")
    (results_dir / "notes.scores.tsv.bak").write_text("x")

    found = listing(client)
    ids = sorted(r["id"] for r in found)
    assert ids == ["album/cd1/track 01", "song"]

    r = client.get("/api/results/song")
    assert r.status_code == 200
    res = r.json()
    assert res["labels"] == list(MUSIC_TAGS)
    T = len(res["probs"])
    assert T == 6 and len(res["boundaries"]) == T + 1 and res["boundaries"][-1] == pytest.approx(3.0)
    assert res["probs"][0][MUSIC_TAGS.index("trumpet")] == pytest.approx(0.9)
    kinds = [g["kind"] for g in res["groups"]]
    assert kinds == ["keyboards", "guitars & bass", "strings", "winds", "percussion", "tempo"]
    assert {t for g in res["groups"] for t in g["tags"]} == set(MUSIC_TAGS)
    assert res["kinds"]["trumpet"] == "winds" and res["kinds"]["fast"] == "tempo"
    assert {(e["label"], e["onset"], e["offset"]) for e in res["events"]} == {
        ("trumpet", 0.0, 1.536), ("flute", 1.536, 3.0)}
    assert res["media"] == {"url": "/files/song.wav", "name": "song.wav", "type": "audio/wav", "video": False}
    names = [f["name"] for f in res["files"]]
    assert names == ["song.events.tsv", "song.npz", "song.scores.tsv", "song.wav"]
    # No waveform.json: computed from the media on the fly (and not written into the user's folder).
    assert res["waveform"]["n"] > 100 and max(res["waveform"]["max"]) == pytest.approx(0.5, abs=1e-3)
    assert not (results_dir / "song.waveform.json").exists()

    nested = client.get("/api/results/album/cd1/track%2001").json()
    assert nested["media"] is None and nested["waveform"] is None and nested["duration_s"] == pytest.approx(2.0)
    assert nested["files"][0]["url"] == "/files/album/cd1/track%2001.events.tsv"
    assert client.get(nested["files"][0]["url"]).text.startswith("filename\tonset\toffset\tevent_label")


def test_media_root_plays_the_originals_of_tag_results(results_dir, tmp_path):
    """``clip2frame tag music/ --out results/`` mirrors music/ without copying audio: with media_root the
    viewer plays music/live/a.flac for result live/a (Range included), and nothing else of music/."""
    music = tmp_path / "music"
    (music / "live").mkdir(parents=True)
    flac = wav_bytes(2.0, fmt="FLAC")
    (music / "live" / "a.flac").write_bytes(flac)
    (tmp_path / "private.txt").write_text("TOP SECRET")
    make_result(results_dir, "live", "a", duration_s=2.0, media=False)
    app = create_app(results_dir, analyze=fake_analyze, media_root=music)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        res = client.get("/api/results/live/a").json()
        assert res["media"] == {"url": "/media/live/a.flac", "name": "a.flac", "type": "audio/flac", "video": False}
        assert res["waveform"]["n"] == 200
        r = client.get("/media/live/a.flac", headers={"Range": "bytes=4-103"})
        assert r.status_code == 206 and r.content == flac[4:104]
        for url in ["/media/../private.txt", "/media/%2e%2e/private.txt", "/media/..%2fprivate.txt",
                    "/media/" + str(tmp_path / "private.txt"), "/media/live"]:
            assert client.get(url).status_code in (400, 404), url
    with TestClient(create_app(results_dir, analyze=fake_analyze), headers=SAME_ORIGIN) as client:
        assert client.get("/api/results/live/a").json()["media"] is None
        assert client.get("/media/live/a.flac").status_code == 404


def test_video_detection_result(client, results_dir):
    """``clip2frame detect`` writes heat maps + events + overlay, no scores.tsv: the viewer shows the frame
    scores detect wrote (the fused map's peak as the geometric mean of its streams), plays the original video
    beside it, offers the overlay."""
    from clip2frame.tags import VIDEO_INSTRUMENTS, VIDEO_KIND
    from clip2frame.video.inference.fusion import frame_scores

    T, K = 5, len(VIDEO_INSTRUMENTS)
    fused = np.zeros((T, K, 4, 6), dtype=np.float32)
    fused[:3, VIDEO_INSTRUMENTS.index("cello"), 1, 2] = 0.75
    fused[3:, VIDEO_INSTRUMENTS.index("flute"), 3, 5] = 0.5

    def detection(method: str) -> FrameActivations:
        return FrameActivations(list(VIDEO_INSTRUMENTS), frame_scores(fused, method), np.arange(T + 1) * 0.512,
                                np.full(K, 0.6, np.float32), {lab: VIDEO_KIND for lab in VIDEO_INSTRUMENTS},
                                "duet.mp4", {"fusion": method, "frame_size": [192, 256]},
                                {"action": fused, "fused": fused})

    write_outputs(detection("A"), results_dir, formats=("heatmaps", "events"), stem="duet")
    (results_dir / "duet.overlay.mp4").write_bytes(mp4_bytes(1.0))
    (results_dir / "duet.mp4").write_bytes(mp4_bytes(2.5))
    found = listing(client)
    assert [(r["id"], r["kind"]) for r in found] == [("duet", "video detection")]
    res = client.get("/api/results/duet").json()
    assert res["kind"] == "video detection" and res["labels"] == list(VIDEO_INSTRUMENTS)
    assert res["groups"] == [{"kind": "instrument playing (video)", "tags": list(VIDEO_INSTRUMENTS)}]
    assert res["boundaries"] == pytest.approx([0, 0.512, 1.024, 1.536, 2.048, 2.56])
    probs = np.array(res["probs"])
    assert probs[:3, VIDEO_INSTRUMENTS.index("cello")] == pytest.approx(0.75)
    assert probs[3:, VIDEO_INSTRUMENTS.index("flute")] == pytest.approx(0.5)
    assert res["thresholds"] == pytest.approx([0.6] * K)  # the detection's, from the heat-map file
    assert res["events"] == [{"onset": 0.0, "offset": 1.536, "label": "cello"}]  # flute 0.5 < 0.6
    assert res["media"]["url"] == "/files/duet.mp4" and res["media"]["video"] is True
    assert res["overlay_url"] == "/files/duet.overlay.mp4"
    # a fused product of three streams is shown on the probability scale, as detect thresholds it
    write_outputs(detection("A*O*S"), results_dir, formats=("heatmaps",), stem="trio")
    probs = np.array(client.get("/api/results/trio").json()["probs"])
    assert probs[0, VIDEO_INSTRUMENTS.index("cello")] == pytest.approx(0.75 ** (1 / 3), rel=1e-3)
    (results_dir / "broken.heatmaps.npz").write_bytes(b"PK nonsense")
    r = client.get("/api/results/broken")
    assert r.status_code == 422 and "broken.heatmaps.npz" in r.json()["detail"]
    # heat maps of an older detect (no frame scores) are named, not recomputed
    np.savez_compressed(results_dir / "old.heatmaps.npz", times=np.arange(T) * 0.512,
                        labels=np.array(VIDEO_INSTRUMENTS), fused=fused, fusion=np.array("A"))
    r = client.get("/api/results/old")
    assert r.status_code == 422 and "run clip2frame detect again" in r.json()["detail"]


def test_thresholds_from_npz_and_overlay_video(client, results_dir):
    """A result as ``clip2frame tag`` writes it (no meta.json): thresholds come from the NPZ; a video
    detection overlay next to it is offered (and played when there is no other media)."""
    acts = fake_acts(2.0)
    acts.thresholds[MUSIC_TAGS.index("trumpet")] = 0.7
    write_outputs(acts, results_dir, formats=("scores", "npz"), stem="clip")
    (results_dir / "clip.overlay.mp4").write_bytes(mp4_bytes(1.0))
    res = client.get("/api/results/clip").json()
    assert res["thresholds"][MUSIC_TAGS.index("trumpet")] == pytest.approx(0.7)
    assert res["thresholds"][MUSIC_TAGS.index("flute")] == pytest.approx(0.5)
    # Events were thresholded from the scores (no events.tsv): trumpet 0.9 >= 0.7, flute 0.8 >= 0.5.
    assert {e["label"] for e in res["events"]} == {"trumpet", "flute"}
    assert res["overlay_url"] == "/files/clip.overlay.mp4"
    assert res["media"]["name"] == "clip.overlay.mp4" and res["media"]["video"] is True


def test_malformed_result_is_422_and_unknown_is_404(client, results_dir):
    (results_dir / "bad.scores.tsv").write_text("this is not\ta scores file\n")
    r = client.get("/api/results/bad")
    assert r.status_code == 422 and "bad.scores.tsv" in r.json()["detail"]
    assert client.get("/api/results/nope").status_code == 404
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/results").status_code == 200  # the listing survives a bad file


# ------------------------------------------------------------------------------------------- uploads
def test_upload_job_and_result(client, results_dir):
    data = wav_bytes(3.0)
    r = client.post("/api/jobs?filename=My%20Trumpet%20(take%202).wav", content=data,
                    headers={"content-type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["filename"] == "My Trumpet (take 2).wav"
    job = wait_job(client, job["id"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["error"] is None and job["elapsed_s"] >= 0
    rid = job["result_id"]
    assert rid == f"uploads/{job['id']}/My_Trumpet_take_2"

    res = client.get(f"/api/results/{rid}").json()
    assert res["name"] == "My Trumpet (take 2).wav"
    assert res["media"]["type"] == "audio/wav" and res["media"]["video"] is False
    assert res["duration_s"] == pytest.approx(3.0)
    assert res["waveform"]["n"] == 300  # 100 buckets per second, written at analysis time
    names = {f["name"] for f in res["files"]}
    stem = "My_Trumpet_take_2"
    assert names == {f"{stem}{s}" for s in (".wav", ".scores.tsv", ".events.tsv", ".npz", ".audacity.txt",
                                             ".meta.json", ".waveform.json")}
    meta = json.loads((results_dir / "uploads" / job["id"] / f"{stem}.meta.json").read_text())
    assert meta["kinds"]["trumpet"] == "winds" and meta["thresholds"]["trumpet"] == 0.5
    assert meta["source_name"] == "My Trumpet (take 2).wav" and meta["media"] == f"{stem}.wav"
    # The uploaded bytes are kept exactly, and downloadable.
    media = client.get(res["media"]["url"])
    assert media.status_code == 200 and media.content == data
    dl = client.get(res["media"]["url"] + "?download=1")
    assert dl.headers["content-disposition"].startswith("attachment")
    assert rid in [x["id"] for x in client.get("/api/results").json()["results"]]
    assert not [p for p in (results_dir / "uploads").iterdir() if p.name.startswith(".staging")]


def test_multipart_upload_and_type_from_content_not_name(client):
    data = wav_bytes(1.0, fmt="FLAC")
    r = client.post("/api/jobs", files={"file": ("misnamed.mp3", data, "audio/mpeg")})
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "done", job
    res = client.get(f"/api/results/{job['result_id']}").json()
    assert res["media"]["name"] == "misnamed.flac" and res["media"]["type"] == "audio/flac"


def test_wrong_type_is_415_with_message(client, results_dir):
    r = client.post("/api/jobs?filename=song.wav", content=b"just some text pretending to be a wav file" * 4)
    assert r.status_code == 415
    assert "song.wav" in r.json()["detail"] and "content" in r.json()["detail"]
    r = client.post("/api/jobs", files={"file": ("x.mp4", b"<html>nope</html>" * 10, "video/mp4")})
    assert r.status_code == 415
    r = client.post("/api/jobs?filename=empty.wav", content=b"")
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    assert client.get("/api/jobs").json()["jobs"] == []
    assert [p.name for p in (results_dir / "uploads").iterdir()] == []


def test_oversize_upload_is_413_with_message(results_dir):
    app = create_app(results_dir, analyze=fake_analyze, max_upload_bytes=10_000)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        big = wav_bytes(1.0)  # 32 kB
        r = client.post("/api/jobs?filename=big.wav", content=big)
        assert r.status_code == 413 and "too large" in r.json()["detail"] and "MB" in r.json()["detail"]

        def chunks():  # no Content-Length: the limit is enforced while streaming
            for i in range(0, len(big), 4096):
                yield big[i:i + 4096]

        r = client.post("/api/jobs?filename=big.wav", content=chunks())
        assert r.status_code == 413
        r = client.post("/api/jobs", files={"file": ("big.wav", big, "audio/wav")})
        assert r.status_code == 413
        r = client.post("/api/jobs?filename=ok.wav", content=wav_bytes(0.2))
        assert r.status_code == 202 and wait_job(client, r.json()["id"])["status"] == "done"
    assert [p.name for p in (results_dir / "uploads").iterdir() if p.name.startswith(".staging")] == []


def test_corrupt_audio_becomes_job_error(client):
    corrupt = wav_bytes(1.0)[:44] + bytes(range(256)) * 8  # WAVE magic, then garbage / truncated data
    corrupt = corrupt[:4] + (10**6).to_bytes(4, "little") + corrupt[8:12] + b"fmt \xff\xff\xff\xff" + corrupt[20:]
    r = client.post("/api/jobs?filename=broken.wav", content=corrupt)
    assert r.status_code == 202
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "error" and job["result_id"] is None
    assert job["error"].startswith("broken.wav") and ".staging" not in job["error"]
    # The server is fine afterwards.
    r = client.post("/api/jobs?filename=fine.wav", content=wav_bytes(1.0))
    assert wait_job(client, r.json()["id"])["status"] == "done"
    assert all("broken" not in x["id"] for x in client.get("/api/results").json()["results"])


def test_analyzer_crash_becomes_job_error(results_dir):
    calls = []

    def flaky(path: Path, progress=None) -> FrameActivations:
        calls.append(path)
        progress(0.5)
        if len(calls) == 1:
            raise RuntimeError("out of cheese")
        return fake_analyze(path)

    with TestClient(create_app(results_dir, analyze=flaky), headers=SAME_ORIGIN) as client:
        job = wait_job(client, client.post("/api/jobs?filename=a.wav", content=wav_bytes(0.5)).json()["id"])
        assert job["status"] == "error" and "RuntimeError: out of cheese" in job["error"] and "a.wav" in job["error"]
        job = wait_job(client, client.post("/api/jobs?filename=b.wav", content=wav_bytes(0.5)).json()["id"])
        assert job["status"] == "done"


def test_concurrent_uploads_get_unique_jobs_and_results(client):
    n = 6
    freqs = [220.0 * (i + 1) for i in range(n)]
    answers: dict[int, dict] = {}
    barrier = threading.Barrier(n)

    def send(i: int) -> None:
        barrier.wait()
        r = client.post(f"/api/jobs?filename=take{i}.wav", content=wav_bytes(1.0 + 0.25 * i, freqs[i]))
        answers[i] = r.json() | {"status_code": r.status_code}

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a["status_code"] == 202 for a in answers.values())
    assert len({a["id"] for a in answers.values()}) == n
    for i, a in answers.items():
        job = wait_job(client, a["id"])
        assert job["status"] == "done", job
        res = client.get(f"/api/results/{job['result_id']}").json()
        assert res["name"] == f"take{i}.wav" and res["duration_s"] == pytest.approx(1.0 + 0.25 * i)
    assert len(client.get("/api/results").json()["results"]) == n


def test_queue_position_reported(results_dir):
    gate = threading.Event()

    def slow(path: Path) -> FrameActivations:
        gate.wait(10)
        return fake_analyze(path)

    with TestClient(create_app(results_dir, analyze=slow), headers=SAME_ORIGIN) as client:
        ids = [client.post(f"/api/jobs?filename={i}.wav", content=wav_bytes(0.3)).json()["id"] for i in range(3)]
        time.sleep(0.2)
        jobs = [client.get(f"/api/jobs/{i}").json() for i in ids]
        assert jobs[0]["status"] == "running"
        assert [j["status"] for j in jobs[1:]] == ["queued", "queued"]
        assert [j["jobs_ahead"] for j in jobs] == [0, 1, 2]
        gate.set()
        assert all(wait_job(client, i)["status"] == "done" for i in ids)


# ------------------------------------------------------------------------------------------- range requests
def test_range_requests_return_exact_bytes(client, results_dir):
    make_result(results_dir, ".", "song", duration_s=2.0)
    data = (results_dir / "song.wav").read_bytes()
    n = len(data)
    full = client.get("/files/song.wav")
    assert full.status_code == 200 and full.content == data and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "audio/wav"

    for header, start, end in [("bytes=0-0", 0, 0), ("bytes=100-1123", 100, 1123), (f"bytes={n - 10}-", n - 10, n - 1),
                               ("bytes=-50", n - 50, n - 1), (f"bytes=1000-{n + 5000}", 1000, n - 1)]:
        r = client.get("/files/song.wav", headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == data[start:end + 1], header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{n}", header
        assert int(r.headers["content-length"]) == end - start + 1

    head = client.head("/files/song.wav")
    assert head.status_code == 200 and int(head.headers["content-length"]) == n and head.content == b""
    r = client.get("/files/song.wav", headers={"Range": f"bytes={n}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{n}"
    r = client.get("/files/song.wav", headers={"Range": "bytes=0-9,20-29"})
    assert r.status_code == 206 and r.headers["content-type"].startswith("multipart/byteranges")
    assert data[0:10] in r.content and data[20:30] in r.content


# ------------------------------------------------------------------------------------------- traversal
def test_path_traversal_refused(client, results_dir, tmp_path):
    make_result(results_dir, ".", "song", duration_s=1.0)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    (tmp_path / "outside.scores.tsv").write_text("onset\toffset\tpiano\n0.000\t0.512\t0.9\n")
    os.symlink(secret, results_dir / "link.txt")
    os.symlink(tmp_path, results_dir / "linkdir")
    os.symlink(tmp_path / "outside.scores.tsv", results_dir / "sneaky.scores.tsv")
    (results_dir / ".hidden.txt").write_text("hidden")

    attempts = [
        "/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/..%2fsecret.txt", "/files/%2e%2e%2fsecret.txt",
        "/files/%252e%252e/secret.txt", "/files/..%5csecret.txt", "/files/%2Fetc%2Fpasswd", "/files//etc/passwd",
        "/files/%2F" + str(secret).lstrip("/"), "/files/" + str(secret), "/files/song.wav/../../secret.txt",
        "/files/link.txt", "/files/linkdir/secret.txt", "/files/.hidden.txt", "/files/", "/files/uploads",
        "/files/song.wav%00.txt", "/files/C:%5cwindows", "/api/results/..%2foutside", "/api/results/%2e%2e/outside",
        "/api/results/sneaky", "/api/results/linkdir/outside", "/api/results/" + str(tmp_path / "outside"),
    ]
    for url in attempts:
        r = client.get(url)
        assert r.status_code in (400, 404), (url, r.status_code)
        assert "TOP SECRET" not in r.text and "0.512" not in r.text, url
    assert [x["id"] for x in listing(client)] == ["song"]
    assert client.get("/files/song.wav").status_code == 200


def test_resolve_inside_unit(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("x")
    assert resolve_inside(tmp_path, "a/b.txt") == (tmp_path / "a" / "b.txt").resolve()
    for bad in ["", "a/../a/b.txt", "./a/b.txt", "a//b.txt", "/a/b.txt", "a\\b.txt", "a/.b", "a", "a/b.txt\x00",
                "c:/x", "../x"]:
        with pytest.raises(NotInside):
            resolve_inside(tmp_path, bad)


def test_host_header_checked_when_configured(results_dir):
    app = create_app(results_dir, analyze=fake_analyze, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/results").status_code == 200
        assert client.get("/api/results", headers={"host": "localhost"}).status_code == 200
        assert client.get("/api/results", headers={"host": "[::1]:8000"}).status_code == 200
        assert client.get("/api/results", headers={"host": "evil.example:8000"}).status_code == 400
        assert client.get("/api/results", headers={"host": "localhost.evil.example"}).status_code == 400


TOKEN = "s3cret-token-0123456789"


def test_token_required_when_configured(results_dir):
    make_result(results_dir, "tagged", "song")
    app = create_app(results_dir, analyze=fake_analyze, token=TOKEN)
    with TestClient(app, base_url="http://192.0.2.1:8000") as client:
        r = client.get("/api/results")
        assert r.status_code == 401 and "token" in r.json()["detail"]
        assert client.get("/").status_code == 401
        assert client.get("/files/tagged/song.scores.tsv").status_code == 401
        assert client.get("/api/results", headers={"authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        assert client.get("/api/results?token=wrong-token-0123456789").status_code == 401
        assert client.get("/api/results", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        # an upload with ?token= is taken as it is (no redirect that would drop its body)
        r = client.post(f"/api/jobs?filename=a.wav&token={TOKEN}", content=wav_bytes(0.5))
        assert r.status_code == 202, r.text
        # the printed address: ?token= is swapped for an HttpOnly cookie and dropped from the URL
        r = client.get(f"/?token={TOKEN}&x=1", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/?x=1"
        cookie = r.headers["set-cookie"]
        assert "clip2frame_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/api/results").status_code == 200  # the client now sends the cookie
        assert client.get("/files/tagged/song.scores.tsv").status_code == 200
        assert client.get("/").status_code == 200


# ------------------------------------------------------------------------------------------- upload quota
def fake_upload(results_dir: Path, job_id: str, *, n_bytes: int, age_s: float) -> Path:
    """A finished viewer analysis ``uploads/<job_id>/`` of about ``n_bytes``, ``age_s`` seconds old."""
    d = results_dir / "uploads" / job_id
    d.mkdir(parents=True)
    (d / "a.wav").write_bytes(bytes(n_bytes))
    meta = d / "a.meta.json"
    meta.write_text(json.dumps({"format": "clip2frame-viewer-meta"}))
    t = time.time() - age_s
    os.utime(meta, (t, t))
    return d


def test_upload_quota_removes_oldest_analyses_never_tag_results(results_dir):
    from clip2frame.web.jobs import enforce_uploads_quota, viewer_analyses

    old = fake_upload(results_dir, "000000000001", n_bytes=4000, age_s=300)
    mid = fake_upload(results_dir, "000000000002", n_bytes=4000, age_s=200)
    new = fake_upload(results_dir, "000000000003", n_bytes=4000, age_s=100)
    # a result `clip2frame tag` wrote into uploads/ (no viewer meta), older than all of them
    tagged = make_result(results_dir, "uploads/0000000000aa", "song", duration_s=1.0)
    os.utime(tagged, (time.time() - 1000,) * 2)
    assert [d for _, d in viewer_analyses(results_dir)] == [old, mid, new]
    tag_bytes = sum(p.stat().st_size for p in tagged.iterdir())
    assert enforce_uploads_quota(results_dir, 10**9) == []  # under the quota: nothing goes
    quota = tag_bytes + 2 * 4000 + 200  # room for the tag result and two analyses
    assert enforce_uploads_quota(results_dir, quota) == [old]
    assert not old.exists() and mid.exists() and new.exists() and tagged.exists()
    # the folder in `keep` (the analysis just finished) stays even when it is the oldest
    assert enforce_uploads_quota(results_dir, tag_bytes + 4000 + 100, keep=[mid]) == [new]
    assert mid.exists() and tagged.exists()
    # over the quota with nothing removable: everything else is left alone
    assert enforce_uploads_quota(results_dir, 10, keep=[mid]) == []
    assert mid.exists() and tagged.exists()


def test_upload_quota_applied_after_each_analysis(results_dir, monkeypatch):
    import time

    import clip2frame.web.jobs as jobs

    enforce = jobs.enforce_uploads_quota

    def slow_enforce(*a, **kw):  # a loaded machine: the job must not read "done" before the quota is applied
        time.sleep(0.5)
        return enforce(*a, **kw)

    monkeypatch.setattr(jobs, "enforce_uploads_quota", slow_enforce)
    old = fake_upload(results_dir, "000000000001", n_bytes=200_000, age_s=300)
    data = wav_bytes(1.0)
    app = create_app(results_dir, analyze=fake_analyze, uploads_quota_bytes=150_000)
    with TestClient(app, headers=SAME_ORIGIN) as client:
        job = wait_job(client, client.post("/api/jobs?filename=a.wav", content=data).json()["id"])
        assert job["status"] == "done"
        assert not old.exists()  # removed to make room
        assert (results_dir / job["result_id"]).parent.is_dir()  # the new analysis stays
        assert client.get(f"/api/results/{job['result_id']}").status_code == 200


# ------------------------------------------------------------------------------------------- CLI
def test_cli_serve_help_and_bad_options(capsys, tmp_path):
    from clip2frame.cli import build_parser, main

    args = build_parser().parse_args(["serve", str(tmp_path)])
    assert (args.host, args.port, args.model, args.max_upload_mb) == ("127.0.0.1", 8000, "default", 200.0)
    assert main(["serve", str(tmp_path), "--model", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    assert main(["serve", str(tmp_path), "--model", str(tmp_path / "broken.safetensors")]) == 2  # before binding
    assert "broken.safetensors" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["serve", str(tmp_path / "file")]) == 2
    capsys.readouterr()
    assert main(["serve", str(tmp_path), "--host", "0.0.0.0"]) == 2  # beyond loopback without a token
    assert "--token" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--host", "0.0.0.0", "--token", "short"]) == 2
    assert "16 characters" in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--uploads-quota-mb", "0"]) == 2
    assert "--uploads-quota-mb" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- real pipeline
def mp4_bytes(duration_s: float = 2.0, sr: int = 16000) -> bytes:
    """A tiny H.264 + AAC MP4 (grey frames, a 440 Hz tone)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=sr)
        a.layout = "mono"
        for i in range(int(duration_s * 10)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * i, np.uint8), format="rgb24")
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(duration_s * sr)) / sr)).astype(np.float32)
        for i in range(0, len(x), 1024):
            af = av.AudioFrame.from_ndarray(x[None, i:i + 1024], format="fltp", layout="mono")
            af.sample_rate = sr
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return buf.getvalue()


@pytest.fixture
def tiny_model_file(tmp_path: Path) -> Path:
    """A real (untrained) model file: the default analyzer runs predict + write_outputs on it."""
    import torch

    from clip2frame.audio.features import FeatureSpec, Standardizer
    from clip2frame.models.fcn import Clip2FrameNet
    from clip2frame.models.io import TaggerModel, save_model
    from clip2frame.models.registry import fit_model_to_features, get_preset

    torch.manual_seed(0)
    preset = get_preset("tiny")
    spec = FeatureSpec(**preset.features)
    cfg = fit_model_to_features(preset.model, n_scales=spec.n_scales, n_bands=spec.n_bands)
    labels = ["trumpet", "drums", "fast"]
    tagger = TaggerModel(Clip2FrameNet(cfg, len(labels)).eval(), spec,
                         Standardizer.identity(spec.n_scales, spec.n_bands), labels,
                         {"trumpet": "winds", "drums": "percussion", "fast": "tempo"},
                         np.array([0.5, 0.4, 0.6], dtype=np.float32), name="tiny-test", version="0.0.1")
    return save_model(tmp_path / "tiny.safetensors", tagger)


def test_default_analyzer_with_a_real_model_file_audio_and_video(results_dir, tiny_model_file):
    with TestClient(create_app(results_dir, model=tiny_model_file), headers=SAME_ORIGIN) as client:
        assert client.get("/api/config").json()["model"] == str(tiny_model_file)
        ids = {}
        for name, data in [("tone.wav", wav_bytes(3.0)), ("clip.mp4", mp4_bytes(2.0))]:
            r = client.post(f"/api/jobs?filename={name}", content=data)
            assert r.status_code == 202, r.text
            ids[name] = r.json()["id"]
        audio_job, video_job = (wait_job(client, ids[n], timeout_s=120) for n in ("tone.wav", "clip.mp4"))
        assert audio_job["status"] == "done" and video_job["status"] == "done", (audio_job, video_job)

        res = client.get(f"/api/results/{audio_job['result_id']}").json()
        assert res["labels"] == ["trumpet", "drums", "fast"] and res["thresholds"] == [0.5, 0.4, 0.6]
        assert res["groups"] == [{"kind": "winds", "tags": ["trumpet"]}, {"kind": "percussion", "tags": ["drums"]},
                                 {"kind": "tempo", "tags": ["fast"]}]
        assert len(res["probs"]) == int(np.ceil(3.0 / 0.512)) and res["duration_s"] == pytest.approx(3.0)
        from clip2frame.models.io import load_model

        assert res["model"]["name"] == "tiny-test"  # the model's own name (the file's path is in the config)
        assert res["model"]["weights_sha256"] == load_model(tiny_model_file).weights_sha256
        assert res["provenance"]["source"] == "tone.wav" and len(res["provenance"]["content_sha256"]) == 64
        listed = {r["id"]: r for r in client.get("/api/results").json()["results"]}
        assert listed[audio_job["result_id"]]["model"] == "tiny-test"

        vid = client.get(f"/api/results/{video_job['result_id']}").json()
        assert vid["media"]["type"] == "video/mp4" and vid["media"]["video"] is True
        assert vid["media"]["name"] == "clip.mp4" and vid["duration_s"] == pytest.approx(2.0, abs=0.1)
        assert vid["waveform"]["n"] > 100
        r = client.get(vid["media"]["url"], headers={"Range": "bytes=0-11"})
        assert r.status_code == 206 and r.content[4:8] == b"ftyp"


def test_missing_model_file_is_a_job_error(results_dir, tmp_path):
    app = create_app(results_dir, model=tmp_path / "nope.safetensors")
    with TestClient(app, headers=SAME_ORIGIN) as client:
        job = wait_job(client, client.post("/api/jobs?filename=a.wav", content=wav_bytes(0.5)).json()["id"])
        assert job["status"] == "error" and "nope.safetensors" in job["error"]


# ------------------------------------------------------------------------------------------- cross-site requests
ORIGIN = "http://127.0.0.1:8000"


def _jobs(client: TestClient) -> list:
    return client.get("/api/jobs").json()["jobs"]


@pytest.mark.parametrize("headers", [
    {"origin": "http://evil.example"},                         # a foreign page
    {"origin": "http://127.0.0.1:9999"},                       # another local origin (another port: same site)
    {"origin": "null"},                                        # sandboxed frame, no-referrer form post
    {},                                                        # neither Origin nor Referer
    {"referer": "http://evil.example/page.html"},              # Referer only, foreign
    {"origin": ORIGIN, "sec-fetch-site": "cross-site"},        # the browser says so
    {"origin": ORIGIN, "sec-fetch-site": "same-site"},
    {"origin": "http://127.0.0.1:8000.evil.example"},
])
def test_state_changing_requests_need_the_same_origin(results_dir, headers):
    """On loopback without a token, a page elsewhere must not start analyses or rescans (CSRF): a text/plain
    body is a 'simple' request that a browser sends cross-site without asking."""
    make_result(results_dir, "tagged", "song")
    app = create_app(results_dir, analyze=fake_analyze, allowed_hosts=["127.0.0.1", "localhost", "[::1]"],
                     sync_on_start=False)
    with TestClient(app, base_url=ORIGIN) as client:
        for method, url, body in [("POST", "/api/jobs?filename=a.wav", wav_bytes(0.5)),
                                  ("POST", "/api/index/rescan", b""), ("PUT", "/api/jobs", b"x"),
                                  ("PATCH", "/api/jobs", b"x"), ("DELETE", "/api/jobs/1", b"")]:
            r = client.request(method, url, content=body, headers={"content-type": "text/plain", **headers})
            assert r.status_code == 403, (method, url, r.status_code, r.text)
            assert "\n" not in r.json()["detail"] and "cross-origin" in r.json()["detail"]
        assert _jobs(client) == [] and not (results_dir / "uploads").exists()
        assert client.get("/api/results").json()["total"] == 0  # the rescan did not run
        # the viewer's own page (Origin, or Referer without Origin, of this server) may
        r = client.post("/api/jobs?filename=a.wav", content=wav_bytes(0.5),
                        headers={"origin": ORIGIN, "sec-fetch-site": "same-origin"})
        assert r.status_code == 202, r.text
        assert client.post("/api/index/rescan", headers={"referer": ORIGIN + "/?x=1"}).status_code == 200
        assert client.post("/api/index/rescan", headers={"origin": "http://localhost:8000",
                                                         "host": "localhost:8000"}).status_code == 200
        assert len(_jobs(client)) == 1
        assert wait_job(client, r.json()["id"])["status"] == "done"


def test_a_token_in_the_request_itself_passes_the_origin_check(results_dir):
    app = create_app(results_dir, analyze=fake_analyze, token=TOKEN, sync_on_start=False)
    with TestClient(app, base_url="http://192.0.2.1:8000") as client:
        # scripts: a Bearer header (any case of the scheme: RFC 7235) or ?token= carries the secret itself
        for scheme in ("Bearer", "bearer", "BEARER"):
            r = client.post("/api/index/rescan", headers={"authorization": f"{scheme} {TOKEN}"})
            assert r.status_code == 200, (scheme, r.text)
        assert client.get("/api/results", headers={"authorization": f"bearer {TOKEN}"}).status_code == 200
        assert client.post(f"/api/index/rescan?token={TOKEN}", headers={"origin": "null"}).status_code == 200
        # the cookie alone does not: a page on another port of the same host is same-site and gets it sent
        assert client.get(f"/?token={TOKEN}").status_code == 200  # now the cookie is set
        r = client.post("/api/index/rescan", headers={"origin": "http://192.0.2.1:9999"})
        assert r.status_code == 403
        assert client.post("/api/index/rescan", headers={"origin": "http://192.0.2.1:8000"}).status_code == 200


@pytest.mark.parametrize("path", ["//evil.com/", "/\\evil.com", "/%2F%2Fevil.com", "/%5C%5Cevil.com",
                                  "/https://evil.com", "///evil.com/x", "/%09/evil.com", "/\\/evil.com"])
def test_token_redirect_stays_on_this_server(results_dir, path):
    app = create_app(results_dir, analyze=fake_analyze, token=TOKEN, sync_on_start=False)
    with TestClient(app, base_url="http://192.0.2.1:8000") as client:
        r = client.get(f"http://192.0.2.1:8000{path}?token={TOKEN}&a=1", follow_redirects=False)
        assert r.status_code == 303
        loc = r.headers["location"]
        assert loc.startswith("/") and loc[1:2] not in ("/", "\\") and "\t" not in loc, loc
        from urllib.parse import urljoin

        assert urljoin("http://192.0.2.1:8000/", loc).startswith("http://192.0.2.1:8000/"), loc
        assert loc.endswith("?a=1") and "token" not in loc
    # an absolute-form request target (GET https://evil.com/?token=...) redirects to the path only
    with TestClient(app, base_url="https://evil.com") as client:
        r = client.get(f"https://evil.com/?token={TOKEN}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.parametrize("headers,scheme,refused", [
    ({"host": "[::1]:8000", "origin": "http://[::1]:8000"}, "http", False),
    ({"host": "LOCALHOST", "origin": "http://localhost:80"}, "http", False),        # default port either way
    ({"host": "viewer.example", "origin": "https://viewer.example"}, "https", False),
    ({"host": "viewer.example", "referer": "https://viewer.example/#result=a"}, "https", False),
    ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000", "sec-fetch-site": "none"}, "http", False),
    ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1"}, "http", True),       # port 80 is not 8000
    ({"host": "127.0.0.1:8000", "origin": "http://user@127.0.0.1:8000"}, "http", True),
    ({"host": "127.0.0.1:8000", "origin": "file://"}, "http", True),
    ({"host": "127.0.0.1:8000", "origin": "http://[::1"}, "http", True),            # malformed
    ({"host": "127.0.0.1:8000", "referer": "null"}, "http", True),
    ({"origin": "http://127.0.0.1:8000"}, "http", True),                           # no Host header
])
def test_cross_origin_reason_unit(headers, scheme, refused):
    from clip2frame.web.access import cross_origin_reason

    why = cross_origin_reason(headers, scheme)
    assert (why is not None) == refused, why


def test_bearer_token_unit():
    from clip2frame.web.access import bearer_token

    assert bearer_token("Bearer abc") == bearer_token("bEaReR  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer") is None and bearer_token(None) is None
    assert bearer_token("Bearerabc") is None


# ------------------------------------------------------------------------------------------- provenance, names
def test_tag_results_with_any_name_are_listed_viewable_and_show_their_model(tmp_path):
    """Defects #27.1/#27.2: a backslash (or tab, newline, ...) in a name was tagged but never indexed or
    viewable; the viewer did not show which model made a result. Start-up sync of a tagged folder."""
    from urllib.parse import quote

    from clip2frame.infer.batch import tag_files
    from clip2frame.infer.options import TagOptions

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    names = ["back\\slash", "tab\there", "new\nline", "c:olon", 'quo"te', "ünï 音", "-dash", " sp ace "]
    for i, n in enumerate(names):  # different bytes each: equal ones would be one entry (de-duplication)
        (src / f"{n}.wav").write_bytes(wav_bytes(1.5, freq=300.0 + 50 * i))
    model = type("M", (), {"name": "fake-model", "version": "7", "weights_sha256": "9f" * 32, "labels": MUSIC_TAGS,
                           "feature_spec": None})()
    rep = tag_files([src], out_dir=out, options=TagOptions(formats=("scores", "events", "npz")),
                    load_model_fn=lambda m, device: model,
                    predict_fn=lambda audio, *, model, sr=None, resolution="model", device="cpu":
                    fake_acts(len(audio) / 16000))
    assert rep.exit_code == 0 and len(rep.tagged) == len(names)
    app = create_app(out, analyze=fake_analyze)
    with TestClient(app) as c:  # the index is built by the start-up sync
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = c.get("/api/results", params={"limit": 100}).json()
            if not body["indexing"] and body["total"] == len(names):
                break
            time.sleep(0.05)
        assert sorted(r["id"] for r in body["results"]) == sorted(names)
        assert {r["model"] for r in body["results"]} == {"fake-model"}
        assert {r["model_sha256"] for r in body["results"]} == {"9f" * 32}
        for n in names:
            r = c.get("/api/results/" + quote(n, safe=""))
            assert r.status_code == 200, (n, r.text)
            data = r.json()
            assert data["name"] == f"{n}.wav"
            assert data["model"]["name"] == "fake-model" and data["model"]["weights_sha256"] == "9f" * 32
            assert data["provenance"]["source"] == str(src / f"{n}.wav")
            assert len(data["provenance"]["content_sha256"]) == 64
            files = {f["name"] for f in data["files"]}
            assert f"{n}.meta.json" in files and f"{n}.scores.tsv" in files
            assert c.get(f"/files/{quote(n, safe='')}.scores.tsv").status_code == 200


def test_search_api_filters_by_model(results_dir):
    from clip2frame.results.provenance import ModelIdentity, Provenance

    for stem, model, sha, content, dur in [("a", "alpha", "aa" * 32, "1" * 64, 3.0), ("b", "beta", "bb" * 32, "2" * 64, 4.0)]:
        write_outputs(fake_acts(dur, f"{stem}.wav"), results_dir, formats=("scores", "events"), stem=stem,
                      provenance=Provenance(ModelIdentity(model, "1", sha), f"/in/{stem}.wav", content))
    with TestClient(create_app(results_dir, analyze=fake_analyze), headers=SAME_ORIGIN) as c:
        assert len(listing(c)) == 2
        hits = c.get("/api/search", params={"tag": "trumpet"}).json()["segments"]
        assert sorted((h["file"], h["model"]) for h in hits) == [("a", "alpha"), ("b", "beta")]
        hits = c.get("/api/search", params={"tag": "trumpet", "model": "bbbbbbbb"}).json()["segments"]
        assert [(h["file"], h["model_sha256"]) for h in hits] == [("b", "bb" * 32)]
