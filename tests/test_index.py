"""The event index (clip2frame.index), ``clip2frame tag`` keeping it, ``clip2frame index`` and ``clip2frame
search``: every test runs against SQLite and against a real PostgreSQL server (a throwaway cluster started
for the session from Debian's ``postgresql`` package; skipped with a one-line reason where it cannot start).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from clip2frame.cli import main
from clip2frame.index import FileRecord, IndexStore, QueryError, read_record, search, sync_folder
from clip2frame.data.events import mask_runs
from clip2frame.index.ingest import batch_index_hook
from clip2frame.index.query import subtract
from clip2frame.index.schema import parse_location
from clip2frame.index.records import decode_scores, encode_scores, event_stats
from clip2frame.infer import batch
from clip2frame.infer.options import TagOptions
from clip2frame.data.events import binary_to_events
from clip2frame.results.activations import FrameActivations
from clip2frame.results.readers import read_events_tsv
from clip2frame.results.writers import write_outputs

TESTS = Path(__file__).parent
TAGS = ["piano", "drums", "violin", "saxophone"]
FRAME = 0.5


# ------------------------------------------------------------------------------------------- backends
@pytest.fixture(scope="session")
def pg_cluster():
    from pg_cluster import PgCluster, PgUnavailable

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests: psycopg is not installed (pip install 'clip2frame[index-postgres]')")
    try:
        cluster = PgCluster().start()
    except PgUnavailable as e:
        pytest.skip(f"PostgreSQL tests: {e}")
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request, tmp_path):
    """Where a test's index lives: a SQLite file, or a fresh database on the throwaway server."""
    if request.param == "sqlite":
        return str(tmp_path / "idx" / "index.sqlite")
    return request.getfixturevalue("pg_cluster").new_database()


def _acts(probs: np.ndarray, labels=TAGS, thr=0.5, source=None) -> FrameActivations:
    T = len(probs)
    return FrameActivations(list(labels), np.asarray(probs, np.float32), np.arange(T + 1) * FRAME,
                            np.full(len(labels), thr, np.float32), source=source)


def _record(path: str, probs: np.ndarray, thr: float = 0.5) -> FileRecord:
    acts = _acts(probs, thr=thr)
    ev = [(e.label, e.onset, e.offset) for e in acts.to_events()]
    return FileRecord(path=path, name=path + ".wav", labels=list(TAGS), probs=acts.probs,
                      boundaries=acts.boundaries, thresholds=acts.thresholds, events=ev)


def _random_probs(rng: np.random.Generator, T: int = 120) -> np.ndarray:
    """Blocky scores far from 0.5 (so quantisation never flips a frame): runs of 1-20 frames on/off."""
    P = np.empty((T, len(TAGS)), np.float32)
    for k in range(len(TAGS)):
        t, on = 0, bool(rng.integers(2))
        while t < T:
            n = int(rng.integers(1, 21))
            P[t:t + n, k] = rng.uniform(0.6, 0.95, size=min(n, T - t)) if on else rng.uniform(0.05, 0.4,
                                                                                                size=min(n, T - t))
            t, on = t + n, not on
    return P


def _reference(P_by_file: dict[str, np.ndarray], pos, neg, min_dur, thr=0.5):
    """Brute force over frames: runs where all positive tags >= thr and no negative one."""
    out = set()
    for path, P in P_by_file.items():
        cols = [TAGS.index(t) for t in pos]
        active = (P[:, cols] >= thr).all(axis=1)
        for t in neg:
            active &= P[:, TAGS.index(t)] < thr
        for a, b in zip(*mask_runs(active)):
            if (b - a) * FRAME >= min_dur:
                out.add((path, a * FRAME, b * FRAME))
    return out


# ------------------------------------------------------------------------------------------- units
def test_score_codec_event_stats_and_interval_helpers():
    p = np.array([0.0, 1e-5, 0.12345, 0.5, 1.0, 1.2, np.nan])
    back = decode_scores(encode_scores(p))
    np.testing.assert_allclose(back[:5], p[:5], atol=1 / 65535 / 2 + 1e-7)
    assert back[5] == 1.0 and back[6] == 0.0
    probs = np.array([[0.1, 0.9], [0.3, 0.8], [0.5, 0.2], [0.7, 0.4]])
    b = np.arange(5) * 0.5
    peak, mean = event_stats(probs, b, np.array([0, 1, 0]), np.array([0.5, 0.0, 1.9]), np.array([2.0, 1.0, 1.95]))
    np.testing.assert_allclose(peak, [0.7, 0.9, 0.7])
    np.testing.assert_allclose(mean, [0.5, 0.85, 0.7])
    assert subtract(0, 10, [(2, 3), (2.5, 4), (9, 12)]) == [(0, 2), (4, 9)]
    assert subtract(0, 10, [(-1, 11)]) == [] and subtract(1, 2, []) == [(1, 2)]
    starts, stops = mask_runs(np.array([1, 1, 0, 1, 0, 0, 1], bool))
    assert list(zip(starts.tolist(), stops.tolist())) == [(0, 2), (3, 4), (6, 7)]


def test_locations():
    assert parse_location(None, "out").target == str(Path("out") / "index.sqlite")
    assert parse_location("sqlite:///tmp/x.db").target == "/tmp/x.db"
    pg = parse_location("postgresql://me:secret@db/cat")
    assert pg.dialect.name == "postgresql" and "secret" not in pg.display
    from clip2frame.errors import ConfigError

    with pytest.raises(ConfigError, match="mysql"):
        parse_location("mysql://x/y")


# ------------------------------------------------------------------------------------------- store + search
def test_put_replaces_rows_and_stores_scores(index_url):
    rng = np.random.default_rng(1)
    P1, P2 = _random_probs(rng), _random_probs(rng, 80)
    with IndexStore(index_url) as s:
        n1 = s.put(_record("a/one", P1))
        assert s.count() == {"files": 1, "events": n1, "tags": 4}
        labels, probs, bounds = s.frame_scores("a/one")
        assert labels == TAGS and probs.shape == P1.shape and bounds[-1] == pytest.approx(60.0)
        np.testing.assert_allclose(probs, P1, atol=1e-4)
        n2 = s.put(_record("a/one", P2))  # re-tag: every row replaced, nothing left of the first version
        assert s.count() == {"files": 1, "events": n2, "tags": 4}
        np.testing.assert_allclose(s.frame_scores("a/one")[1], P2, atol=1e-4)
        ev = s.fetchall("SELECT t.name, e.onset_s, e.offset_s, e.peak_score, e.mean_score FROM events e "
                        "JOIN tags t ON t.id = e.tag_id ORDER BY t.name, e.onset_s")
        ref = sorted((e.label, e.onset, e.offset) for e in _acts(P2).to_events())
        assert [r[:3] for r in ev] == [(a, pytest.approx(b), pytest.approx(c)) for a, b, c in ref]
        for name, on, off, peak, mean in ev:
            seg = P2[int(round(on / FRAME)):int(round(off / FRAME)), TAGS.index(name)]
            assert peak == pytest.approx(seg.max(), abs=1e-6) and mean == pytest.approx(seg.mean(), abs=1e-6)
        summ = dict(s.fetchall("SELECT t.name, m.active_s FROM summary m JOIN tags t ON t.id = m.tag_id"))
        for k, tag in enumerate(TAGS):
            assert summ[tag] == pytest.approx((P2[:, k] >= 0.5).sum() * FRAME)
        assert s.remove(["a/one", "nope"]) == 1 and s.count()["events"] == 0


@pytest.mark.parametrize("pos,neg,min_dur", [
    (["piano"], [], 0.0), (["piano"], [], 4.0), (["violin", "piano"], [], 1.0),
    (["saxophone"], ["drums"], 2.0), (["saxophone", "piano"], ["drums", "violin"], 0.5)])
def test_search_matches_a_brute_force_reference(index_url, pos, neg, min_dur):
    rng = np.random.default_rng(7)
    P = {f"f{i:02d}": _random_probs(rng) for i in range(12)}
    with IndexStore(index_url) as s:
        for path, probs in P.items():
            s.put(_record(path, probs))
        want = _reference(P, pos, neg, min_dur)
        for thr in (None, 0.5):  # stored events, and the stored scores thresholded at the same value
            res = search(s, pos[0], with_=pos[1:], without=neg, min_duration=min_dur, threshold=thr,
                         limit=10000)
            got = {(g.file, g.onset, g.offset) for g in res.segments}
            assert got == want and not res.has_more and len(res.segments) == len(want)
            scores = [g.score for g in res.segments]
            assert scores == sorted(scores, reverse=True)
        # threshold mode scores are the exact mean of the weakest positive tag over the segment
        for g in search(s, pos[0], with_=pos[1:], without=neg, min_duration=min_dur, threshold=0.5,
                        limit=50).segments:
            a, b = int(round(g.onset / FRAME)), int(round(g.offset / FRAME))
            ref = min(P[g.file][a:b, TAGS.index(t)].mean() for t in pos)
            assert g.score == pytest.approx(ref, abs=2e-4)
        # paging walks the same ranked list
        full = search(s, pos[0], with_=pos[1:], without=neg, min_duration=min_dur, limit=10000).segments
        pages = [search(s, pos[0], with_=pos[1:], without=neg, min_duration=min_dur, limit=7, offset=o)
                 for o in range(0, len(full), 7)]
        assert [g for p in pages for g in p.segments] == full
        assert full and [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]


def test_min_score_and_new_threshold_without_retagging(index_url):
    P = np.full((20, 4), 0.1, np.float32)
    P[0:10, 0] = 0.9            # piano 0-5 s, strong
    P[12:20, 0] = 0.55          # piano 6-10 s, weak
    P[2:8, 3] = 0.45            # saxophone below the model threshold (0.5) at 1-4 s
    with IndexStore(index_url) as s:
        s.put(_record("x", P))
        res = search(s, "piano")
        assert [(g.onset, g.offset, g.score) for g in res.segments] == [(0.0, 5.0, 0.9), (6.0, 10.0, 0.55)]
        assert [(g.onset, g.offset) for g in search(s, "piano", min_score=0.6).segments] == [(0.0, 5.0)]
        assert search(s, "saxophone").segments == []
        res = search(s, "saxophone", threshold=0.4, with_=["piano"])  # a new threshold, no re-tagging
        assert [(g.onset, g.offset) for g in res.segments] == [(1.0, 4.0)]
        assert res.segments[0].score == pytest.approx(0.45, abs=1e-4)


def _ranking_catalogue(s: IndexStore) -> None:
    """Hits that tie on score (0.8), then on duration, then on file: the ranking decides every place."""
    def probs(runs: list[tuple[int, int, float]]) -> np.ndarray:
        P = np.full((12, 4), 0.1, np.float32)
        for a, b, p in runs:
            P[a:b, 0] = p                       # piano
        return P

    s.put(_record("a", probs([(0, 2, 0.8), (6, 10, 0.8)])))     # 1 s at 0 s, 2 s at 3 s
    s.put(_record("b", probs([(0, 4, 0.8), (10, 12, 0.8)])))    # 2 s at 0 s, 1 s at 5 s
    s.put(_record("c", probs([(2, 4, 0.9)])))                   # the best score, 1 s


RANKED = [("c", 1.0, 2.0), ("a", 3.0, 5.0), ("b", 0.0, 2.0), ("a", 0.0, 1.0), ("b", 5.0, 6.0)]


@pytest.mark.parametrize("kwargs", [{}, {"without": ["drums"]}, {"threshold": 0.5}],
                         ids=["events-sql", "events-without", "stored-scores"])
def test_ranking_on_ties_is_one_policy_in_every_search_path(index_url, kwargs):
    """Score (desc), then duration (desc), then file (the order files entered the index), then onset: the
    SQL path, the path that cuts out excluded tags and the stored-scores path rank ties alike, one page or
    many."""
    with IndexStore(index_url) as s:
        _ranking_catalogue(s)
        got = [(g.file, g.onset, g.offset) for g in search(s, "piano", **kwargs).segments]
        assert got == RANKED
        paged = [(g.file, g.onset, g.offset) for off in range(5)
                 for g in search(s, "piano", limit=1, offset=off, **kwargs).segments]
        assert paged == RANKED


def test_ranking_policy_orders_sql_rows_and_arrays_alike():
    from clip2frame.index import query

    rows = [(2, 0.0, 1.0, 0.8), (1, 3.0, 5.0, 0.8), (1, 0.0, 1.0, 0.8), (3, 1.0, 2.0, 0.9), (2, 0.0, 2.0, 0.8)]
    want = [(3, 1.0, 2.0, 0.9), (1, 3.0, 5.0, 0.8), (2, 0.0, 2.0, 0.8), (1, 0.0, 1.0, 0.8), (2, 0.0, 1.0, 0.8)]
    assert sorted(rows, key=query.rank_key) == want
    f, on, off, sc = (np.asarray(c) for c in zip(*rows))
    assert [rows[i] for i in query.rank_order(f, on, off, sc)] == want
    assert query.rank_sql("file_id", "on_s", "off_s", "score") == \
        " ORDER BY score DESC, off_s - on_s DESC, file_id, on_s"


@pytest.mark.parametrize("kwargs,match", [
    ({"tag": "tuba"}, "unknown tag 'tuba'"),
    ({"tag": "piano", "without": ["drums'; DROP TABLE events; --"]}, "unknown tag"),
    ({"tag": "piano", "min_duration": -1}, "min_duration: -1 must be >= 0"),
    ({"tag": "piano", "min_duration": "nan"}, "min_duration"),
    ({"tag": "piano", "min_score": 2}, "between 0 and 1"),
    ({"tag": "piano", "with_": ["drums"], "without": ["drums"]}, "both wanted and excluded"),
    ({"tag": "piano", "limit": 0}, "limit"),
    ({"tag": "piano", "threshold": "0.5 OR 1=1"}, "threshold"),
])
def test_bad_queries_are_one_line_errors(index_url, kwargs, match):
    with IndexStore(index_url) as s:
        s.put(_record("x", np.full((4, 4), 0.7, np.float32)))
        with pytest.raises(QueryError, match=match) as ei:
            search(s, **kwargs)
        assert "\n" not in str(ei.value)
        assert s.count() == {"files": 1, "events": 4, "tags": 4}  # nothing was executed as SQL


def test_list_files_paged_and_sorted(index_url):
    with IndexStore(index_url) as s:
        for i, name in enumerate(["b", "a", "d", "c", "e"]):
            rec = _record(f"dir/{name}", np.full((2 + i, 4), 0.7, np.float32))
            rec.tagged_at = 1000.0 + i
            s.put(rec)
        page, total = s.list_files(limit=2)
        assert total == 5 and [r["id"] for r in page] == ["dir/e", "dir/c"]  # newest first
        assert [r["id"] for r in s.list_files(offset=4, limit=2)[0]] == ["dir/b"]
        assert [r["stem"] for r in s.list_files(sort="name", descending=False, limit=5)[0]] == list("abcde")
        assert [r["duration_s"] for r in s.list_files(sort="duration", limit=2)[0]] == [3.0, 2.5]
        page, total = s.list_files(name_contains="R/C")  # case-insensitive, matched as text
        assert total == 1 and page[0]["id"] == "dir/c" and page[0]["dir"] == "dir"
        assert s.list_files(name_contains="%")[1] == 0


# ------------------------------------------------------------------------------------------- catalogue
def _write_catalogue(root: Path, n: int, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    P = {}
    for i in range(n):
        rel = f"set{i % 2}/f{i:02d}"
        P[rel] = _random_probs(rng, 60)
        write_outputs(_acts(P[rel], source=f"/music/{rel}.wav"), root / f"set{i % 2}", stem=f"f{i:02d}",
                      formats=("scores", "events", "npz"))
    return P


def test_rebuild_from_outputs_and_cli(index_url, tmp_path, capsys):
    root = tmp_path / "cat"
    P = _write_catalogue(root, 6)
    rc = main(["index", str(root), "--index", index_url])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["indexed"] == 6 and out["files"] == 6 and out["failed"] == 0
    with IndexStore(index_url) as s:
        assert {r["id"] for r in s.list_files(limit=100)[0]} == set(P)
        assert s.list_files(limit=1)[0][0]["name"].endswith(".wav")
        want = _reference(P, ["violin"], ["piano"], 1.0)
        got = {(g.file, g.onset, g.offset) for g in search(s, "violin", without="piano", min_duration=1,
                                                           limit=1000).segments}
        assert got == want
    # unchanged results are not re-read; a removed one is dropped; a broken one is listed, the rest go on
    (root / "set0" / "f00.scores.tsv").unlink()
    (root / "set1" / "f01.scores.tsv").write_text("not a scores file\n")
    rc = main(["index", str(root), "--index", index_url])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out == {**out, "indexed": 0, "current": 4, "removed": 1, "failed": 1, "files": 5}


def test_search_cli_outputs_and_errors(index_url, tmp_path, capsys):
    root = tmp_path / "cat"
    P = _write_catalogue(root, 4)
    with IndexStore(index_url) as s:
        sync_folder(s, root)
    rc = main(["search", "--index", index_url, "piano", "--min-duration", "2", "--json", "--limit", "3"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(res["segments"]) == 3 and res["query"]["min_duration"] == 2.0
    assert all(seg["offset"] - seg["onset"] >= 2 for seg in res["segments"])
    rc = main(["search", "--index", index_url, "piano", "--with", "violin", "--without", "drums,saxophone",
               "--tsv", "--limit", "1000"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0 and lines[0] == "file\tonset\toffset\tscore\tmodel"
    got = {(f, float(a), float(b)) for f, a, b, _, _ in (ln.split("\t") for ln in lines[1:])}
    assert got == _reference(P, ["piano", "violin"], ["drums", "saxophone"], 0.0)
    for argv, msg in [(["tuba"], "unknown tag 'tuba'"), (["piano", "--min-duration", "-3"], "must be >= 0"),
                      (["piano", "--without", "x' OR '1'='1"], "unknown tag")]:
        rc = main(["search", "--index", index_url, *argv])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.startswith("error: ") and msg in err and "\n" not in err
    rc = main(["search", str(tmp_path / "nowhere"), "piano"])
    assert rc == 2 and "no index.sqlite" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- tag keeps it
def _fake_tag(root: Path, out: Path, index_url: str, **kw):
    from test_tag_cli import FakeBackend

    from clip2frame.audio.io import load_audio

    fake = FakeBackend()
    opts = TagOptions(**kw)
    return batch.tag_files([root], out_dir=out, options=opts, result_hook=batch_index_hook(index_url, opts.formats),
                           load_model_fn=fake.load, predict_fn=fake.predict, load_audio_fn=load_audio), fake


def _wavs(root: Path, n: int) -> None:
    from test_tag_cli import _wav

    for i in range(n):
        _wav(root / f"f{i}.wav", 0.6 + 0.5 * (i % 3), 0.5 + 0.25 * i)


def _assert_index_matches_outputs(index_url: str, out: Path, n: int) -> None:
    """Every result under ``out`` is in the index with exactly the events of its events.tsv and all its
    frame scores; nothing else is there."""
    with IndexStore(index_url) as s:
        rows = s.fetchall("SELECT f.path, t.name, e.onset_s, e.offset_s FROM events e JOIN files f ON "
                          "f.id = e.file_id JOIN tags t ON t.id = e.tag_id")
        files = s.fetchall("SELECT f.path, f.model_name, f.content_hash, (SELECT COUNT(*) FROM scores c WHERE "
                           "c.file_id = f.id), (SELECT COUNT(*) FROM summary m WHERE m.file_id = f.id) FROM files f")
    assert sorted(f[0] for f in files) == sorted(f"f{i}" for i in range(n))
    assert all(f[3] == 2 and f[4] == 2 and len(f[2] or "") == 64 for f in files)
    want = set()
    for i in range(n):
        want |= {(f"f{i}", lab, on, off) for _, on, off, lab in read_events_tsv(out / f"f{i}.events.tsv")}
    assert {(p, t, round(a, 3), round(b, 3)) for p, t, a, b in rows} == want and len(rows) == len(want)


def test_tag_indexes_and_resume_completes_missing_rows(index_url, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    _wavs(root, 5)
    rep, _ = _fake_tag(root, out, index_url, shard="0/2")
    assert len(rep.tagged) == 3 and rep.exit_code == 0
    # outputs written without the index (as a run killed after writing and before committing leaves them)
    rep, _ = _fake_tag(root, out, False, shard="1/2")
    rep, fake = _fake_tag(root, out, index_url)
    assert len(rep.skipped) == 5 and fake.calls == [] and rep.exit_code == 0
    _assert_index_matches_outputs(index_url, out, 5)
    with IndexStore(index_url) as s:
        assert {m for (m,) in s.fetchall("SELECT model_name FROM files")} <= {"fake", ""}
        assert "fake" in {m for (m,) in s.fetchall("SELECT model_name FROM files")}
    # --overwrite re-tags: rows are replaced, not added
    rep, _ = _fake_tag(root, out, index_url, overwrite=True)
    assert len(rep.tagged) == 5
    _assert_index_matches_outputs(index_url, out, 5)


SHARD_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_tag_cli import FakeBackend
from clip2frame.audio.io import load_audio
from clip2frame.index.ingest import batch_index_hook
from clip2frame.infer.batch import tag_files
from clip2frame.infer.options import TagOptions
fake = FakeBackend(delay_s={delay})
opts = TagOptions(shard={shard!r})
rep = tag_files([{root!r}], out_dir={out!r}, options=opts, result_hook=batch_index_hook({index!r}, opts.formats),
                load_model_fn=fake.load, predict_fn=fake.predict, load_audio_fn=load_audio)
sys.exit(rep.exit_code)
"""


def _spawn(root: Path, out: Path, index_url: str, shard: str | None, delay: float = 0.0) -> subprocess.Popen:
    script = SHARD_SCRIPT.format(tests=str(TESTS), root=str(root), out=str(out), index=index_url, shard=shard,
                                 delay=delay)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stderr=subprocess.PIPE)


def test_two_shards_write_one_index_at_once(index_url, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    n = 12
    _wavs(root, n)
    procs = [_spawn(root, out, index_url, f"{i}/2") for i in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()[-2000:]
    _assert_index_matches_outputs(index_url, out, n)


def test_sigkill_while_indexing_leaves_a_consistent_index(index_url, tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    n = 10
    _wavs(root, n)
    proc = _spawn(root, out, index_url, None, delay=0.2)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.scores.tsv"))) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    with IndexStore(index_url) as s:  # whatever is in the index is whole: 2 score rows, 2 summaries each
        counts = s.fetchall("SELECT f.path, (SELECT COUNT(*) FROM scores c WHERE c.file_id = f.id), "
                            "(SELECT COUNT(*) FROM summary m WHERE m.file_id = f.id) FROM files f")
    assert 0 < len(counts) < n and all(c == 2 and m == 2 for _, c, m in counts)
    for path, _, _ in counts:
        rec = read_record(out, path)
        with IndexStore(index_url) as s:
            assert sorted(e[:3] for e in s.fetchall(
                "SELECT t.name, e.onset_s, e.offset_s FROM events e JOIN tags t ON t.id = e.tag_id JOIN files f "
                "ON f.id = e.file_id WHERE f.path = ?", (path,))) == sorted(rec.events)
    rep, _ = _fake_tag(root, out, index_url)
    assert rep.exit_code == 0 and len(rep.tagged) + len(rep.skipped) == n
    _assert_index_matches_outputs(index_url, out, n)


def test_a_failed_put_leaves_nothing_and_the_store_goes_on(index_url, monkeypatch):
    rng = np.random.default_rng(5)
    with IndexStore(index_url) as s:
        s.put(_record("keep", _random_probs(rng)))
        before = s.count()
        real = s.insert_rows

        def broken(table, columns, rows):
            rows = list(rows)
            if table == "scores":  # the last statement of the transaction fails (NOT NULL)
                rows = [(r[0], r[1], None) for r in rows]
            real(table, columns, rows)

        monkeypatch.setattr(s, "insert_rows", broken)
        from clip2frame.index import IndexStoreError

        with pytest.raises(IndexStoreError, match="cannot index lost"):
            s.put(_record("lost", _random_probs(rng)))
        with pytest.raises(IndexStoreError):
            s.put(_record("keep", _random_probs(rng)))  # a replace that fails keeps the old rows
        monkeypatch.setattr(s, "insert_rows", real)
        assert s.count() == before and [r["id"] for r in s.list_files()[0]] == ["keep"]
        s.put(_record("next", _random_probs(rng)))
        assert s.count()["files"] == 2


def test_tag_cli_index_options(index_url, tmp_path, monkeypatch, capsys):
    from test_tag_cli import FakeBackend

    FakeBackend().install(monkeypatch)
    root = tmp_path / "in"
    _wavs(root, 3)
    assert main(["tag", str(root), "--out", str(tmp_path / "none"), "--no-index", "--quiet"]) == 0
    assert not (tmp_path / "none" / "index.sqlite").exists()
    out = tmp_path / "out"
    assert main(["tag", str(root), "--out", str(out), "--index", index_url, "--quiet"]) == 0
    assert not (out / "index.sqlite").exists()  # it went where --index said
    capsys.readouterr()
    assert main(["search", "--index", index_url, "loud", "--tsv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    want = {(f"f{i}", on, off) for i in range(3) for _, on, off, lab in read_events_tsv(out / f"f{i}.events.tsv")
            if lab == "loud"}
    assert {(f, float(a), float(b)) for f, a, b, _, m in (ln.split("\t") for ln in lines[1:])} == want and want
    assert {ln.split("\t")[4] for ln in lines[1:]} == {"fake"}  # every hit names its model
    assert main(["tag", str(root), "--out", str(out), "--index", "mysql://x/y", "--quiet"]) == 2
    assert "unknown kind of index" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- provenance
_PROV_COLS = "path, name, source, content_hash, model_name, model_version, model_sha256"


def _rows(index_url: str) -> dict[str, tuple]:
    with IndexStore(index_url) as s:
        return {r[0]: r[1:] for r in s.fetchall(f"SELECT {_PROV_COLS} FROM files")}


def test_index_rebuild_and_a_copied_folder_keep_every_provenance_field(index_url, tmp_path, capsys):
    """Defect #27.1: after `clip2frame index DIR --force` (or the viewer's sync of a copied folder) every
    result lost its model name, model version, source and content hash."""
    import hashlib
    import shutil

    root, out = tmp_path / "in", tmp_path / "out"
    _wavs(root, 3)
    from test_tag_cli import FakeBackend

    from clip2frame.audio.io import load_audio

    fake = FakeBackend()
    fake.model.weights_sha256 = "5e" * 32
    rep = batch.tag_files([root], out_dir=out, result_hook=batch_index_hook(index_url, ("scores", "events")),
                          load_model_fn=fake.load, predict_fn=fake.predict, load_audio_fn=load_audio)
    assert rep.exit_code == 0
    want = {f"f{i}": (f"f{i}.wav", str(root / f"f{i}.wav"),
                      hashlib.sha256((root / f"f{i}.wav").read_bytes()).hexdigest(), "fake", "1.0", "5e" * 32)
            for i in range(3)}
    assert _rows(index_url) == want
    assert main(["index", str(out), "--index", index_url, "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["indexed"] == 3
    assert _rows(index_url) == want
    copy = tmp_path / "copied"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("index.sqlite*"))
    with IndexStore(copy / "index.sqlite") as s:  # what the viewer's start-up sync runs
        assert sync_folder(s, copy).indexed == 3
    assert _rows(str(copy / "index.sqlite")) == want
    # an old folder without sidecars: indexed, with the provenance fields empty
    for p in copy.glob("*.meta.json"):
        p.unlink()
    with IndexStore(copy / "index.sqlite") as s:
        sync_folder(s, copy, force=True)
    assert _rows(str(copy / "index.sqlite"))["f0"] == ("f0.wav", None, None, "", "", "")


def _prov_record(path: str, probs, *, content: str | None, model: str, sha: str, at: float) -> FileRecord:
    rec = _record(path, probs)
    rec.content_hash, rec.model_name, rec.model_version, rec.model_sha256, rec.tagged_at = \
        content, model, "1", sha, at
    return rec


def test_same_content_is_one_entry_and_model_filter(index_url, capsys):
    """Defect #27.2: the same audio tagged in a folder and as a loose file was listed (and found) twice."""
    P = np.zeros((8, 4), np.float32)
    P[2:6, 0] = 0.9  # piano over frames 2-5
    with IndexStore(index_url) as s:
        s.put(_prov_record("set/song", P, content="c1" * 32, model="alpha", sha="a1" * 32, at=100.0))
        s.put(_prov_record("song", P, content="c1" * 32, model="beta", sha="b2" * 32, at=200.0))
        s.put(_prov_record("other", P, content="c2" * 32, model="alpha", sha="a1" * 32, at=150.0))
        s.put(_prov_record("legacy1", P, content=None, model="", sha="", at=50.0))
        s.put(_prov_record("legacy2", P, content=None, model="", sha="", at=50.0))
        page, total = s.list_files(limit=100)
        assert total == 4 and [r["id"] for r in page] == ["song", "other", "legacy1", "legacy2"]
        assert page[0]["paths"] == ["song", "set/song"] and page[0]["model"] == "beta"
        assert page[0]["model_sha256"] == "b2" * 32 and page[1]["paths"] == ["other"]
        hits = search(s, "piano", limit=100).segments
        assert sorted(h.file for h in hits) == ["legacy1", "legacy2", "other", "song"]
        assert {h.file: h.model for h in hits}["song"] == "beta"
        assert sorted(h.file for h in search(s, "piano", threshold=0.5, limit=100).segments) == \
            ["legacy1", "legacy2", "other", "song"]
        # --model: by name, or by a prefix of the weights hash; de-duplication among that model's results
        for model, files in [("alpha", ["other", "set/song"]), ("beta", ["song"]), ("a1a1a1", ["other", "set/song"]),
                             ("B2B2B2B2", ["song"]), ("b2", []), ("gamma", []), ("x' OR '1'='1", [])]:
            for thr in (None, 0.5):
                got = sorted(h.file for h in search(s, "piano", model=model, threshold=thr, limit=100).segments)
                assert got == files, (model, thr)
        assert [r["id"] for r in s.list_files(model="alpha")[0]] == ["other", "set/song"]
        # the newest result stands for its content: re-tagging the folder copy makes it the listed one
        s.put(_prov_record("set/song", P, content="c1" * 32, model="alpha", sha="a1" * 32, at=300.0))
        assert s.list_files(limit=100)[0][0]["paths"] == ["set/song", "song"]
    assert main(["search", "--index", index_url, "piano", "--by-model", "alpha", "--tsv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("\tmodel") and sorted(ln.split("\t")[0] for ln in lines[1:]) == ["other", "set/song"]
    assert {ln.split("\t")[4] for ln in lines[1:]} == {"alpha"}


def test_same_audio_in_a_folder_and_as_a_loose_file_is_listed_once(index_url, tmp_path):
    from test_tag_cli import _wav

    root, out = tmp_path / "in", tmp_path / "out"
    a = _wav(root / "album" / "song.wav", 1.0, 0.5)
    loose = tmp_path / "loose" / "copy of song.wav"
    loose.parent.mkdir()
    loose.write_bytes(a.read_bytes())
    rep, _ = _fake_tag(root, out, index_url)
    from test_tag_cli import FakeBackend

    from clip2frame.audio.io import load_audio

    fake = FakeBackend()
    rep = batch.tag_files([loose], out_dir=out, result_hook=batch_index_hook(index_url, ("scores", "events")),
                          load_model_fn=fake.load, predict_fn=fake.predict, load_audio_fn=load_audio)
    assert rep.exit_code == 0
    with IndexStore(index_url) as s:
        page, total = s.list_files(limit=100)
        assert total == 1 and sorted(page[0]["paths"]) == ["album/song", "copy of song"]
        assert len({h.file for h in search(s, "loud", limit=100).segments}) == 1
        assert s.count()["files"] == 2  # both results stay indexed


def test_an_index_of_schema_version_1_gets_the_clear_error(index_url, tmp_path, capsys):
    from clip2frame.index.schema import SCHEMA_VERSION
    from clip2frame.index.schema import IndexStoreError

    assert SCHEMA_VERSION == 2
    with IndexStore(index_url) as s:  # make it look like a version 1 index (no model_sha256 column)
        with s.transaction():
            s.execute("UPDATE meta SET value = ? WHERE key = ?", ("1", "schema_version"))
            s.execute("DROP INDEX files_model")
            s.execute("ALTER TABLE files DROP COLUMN model_sha256")
    with pytest.raises(IndexStoreError, match=r"index schema version 1, this clip2frame writes 2; rebuild it with `clip2frame index .*--rebuild`"):
        IndexStore(index_url)
    (tmp_path / "cat").mkdir()
    assert main(["index", str(tmp_path / "cat"), "--index", index_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "schema version 1" in err and err.count("\n") == 1
