"""The event index when things are not as they should be: ``clip2frame index DIR --rebuild`` over damaged and
other-version indexes (atomic on both backends), ``clip2frame search`` never creating an index and reading a
read-only catalogue, and passwords kept out of everything printed. SQLite and PostgreSQL alike (the throwaway
cluster of test_index.py)."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from clip2frame.cli import main
from clip2frame.index import IndexStore, rebuild_index, search
from clip2frame.index.schema import SCHEMA_VERSION, parse_location
from clip2frame.redact import mask_secrets
from test_index import _record, _write_catalogue, index_url, pg_cluster  # noqa: F401 - fixtures

SRC = Path(__file__).resolve().parents[1] / "src"
#: Run as root, this drops to uid/gid 65534 (nobody) after the imports (the interpreter lives under /root,
#: which nobody may enter, so it cannot simply be started as nobody), checks that the catalogue copy is
#: really not writable now, and searches it.
UNPRIVILEGED_SEARCH = """
import json, os, sqlite3, sys
import clip2frame.index, clip2frame.index.query, clip2frame.results.writers  # every module the search imports
from clip2frame.cli import build_parser, main
build_parser()
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
try:
    open(os.path.join(sys.argv[1], "probe"), "w")
except PermissionError:
    pass
else:
    sys.exit("the copy is writable: the test would not exercise the read-only path")
sys.exit(main(["search", sys.argv[1], "piano", "--without", "drums", "--json", "--limit", "1000"]))
"""


def _rebuild_hint(err: str) -> list[str]:
    """The command line an error message names (between backticks), as argv for ``main``."""
    assert err.startswith("error: ") and "\n" not in err.strip(), err
    cmd = shlex.split(err.split("`")[1])
    assert cmd[:2] == ["clip2frame", "index"] and cmd[-1] == "--rebuild", err
    return cmd[1:]


def _version(url: str) -> str:
    with IndexStore(url, read_only=True, schema=False) as s:
        return s.fetchall("SELECT value FROM meta WHERE key = ?", ("schema_version",))[0][0]


# ------------------------------------------------------------------------------------------- --rebuild
def test_other_version_error_names_the_rebuild_command_that_works(index_url, tmp_path, capsys):
    root = tmp_path / "cat"
    P = _write_catalogue(root, 4)
    assert main(["index", str(root), "--index", index_url]) == 0
    with IndexStore(index_url) as s:
        s.put(_record("ghost", np.full((4, 4), 0.7, np.float32)))  # not in the folder: a rebuild drops it
        s.execute("UPDATE meta SET value = ? WHERE key = ?", ("0", "schema_version"))
    capsys.readouterr()
    assert main(["index", str(root), "--index", index_url]) == 2
    err = capsys.readouterr().err
    assert "schema version 0" in err
    argv = _rebuild_hint(err)
    assert argv == ["index", str(root), "--index", index_url, "--rebuild"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["indexed"] == 4 and out["files"] == 4 and out["failed"] == 0
    assert _version(index_url) == str(SCHEMA_VERSION)
    with IndexStore(index_url, read_only=True) as s:
        assert {r["id"] for r in s.list_files(limit=100)[0]} == set(P)
        assert search(s, "piano", limit=1000).segments
    # search names the same command
    with IndexStore(index_url) as s:
        s.execute("UPDATE meta SET value = ? WHERE key = ?", ("7", "schema_version"))
    assert main(["search", "--index", index_url, "piano"]) == 2
    assert _rebuild_hint(capsys.readouterr().err)[-3:] == ["--index", index_url, "--rebuild"]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_rebuild_replaces_a_damaged_sqlite_index(tmp_path, capsys, damage):
    root = tmp_path / "cat"
    P = _write_catalogue(root, 4)
    assert main(["index", str(root)]) == 0
    db = root / "index.sqlite"
    if damage == "garbage":
        db.write_bytes(np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    else:  # the header survives, the pages after it are gone
        db.write_bytes(db.read_bytes()[:1024])
    (root / "index.sqlite-wal").write_bytes(b"left over from the damaged file" * 100)
    capsys.readouterr()
    assert main(["index", str(root)]) == 2
    err = capsys.readouterr().err
    assert _rebuild_hint(err) == ["index", str(root), "--rebuild"] and str(db) in err
    assert main(["index", str(root), "--rebuild"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 4
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == ["index.sqlite"]  # no temp, no stale WAL
    assert main(["search", str(root), "violin", "--tsv", "--limit", "1000"]) == 0
    assert {ln.split("\t")[0] for ln in capsys.readouterr().out.splitlines()[1:]} <= set(P)
    assert main(["index", str(root)]) == 0  # an ordinary sync works on it again
    assert json.loads(capsys.readouterr().out)["current"] == 4


def test_a_failed_rebuild_leaves_the_old_index(index_url, tmp_path, monkeypatch):
    """Readers see the old index or the new one: a rebuild that dies half-way changes nothing."""
    root = tmp_path / "cat"
    _write_catalogue(root, 4)
    with IndexStore(index_url) as s:
        s.put(_record("old", np.full((4, 4), 0.7, np.float32)))
        before = s.count()
    import clip2frame.index.rebuild as rb

    real = rb.sync_folder

    def dies(store, root, **kw):
        real(store, root, **kw)  # everything written, then the process "dies" before the swap / commit
        raise KeyboardInterrupt

    monkeypatch.setattr(rb, "sync_folder", dies)
    with pytest.raises(KeyboardInterrupt):
        rebuild_index(root, index_url)
    with IndexStore(index_url, read_only=True) as s:
        assert s.count() == before and [r["id"] for r in s.list_files()[0]] == ["old"]
    if not index_url.startswith("postgresql"):  # the temporary file is gone
        assert [p.name for p in Path(index_url).parent.iterdir() if not p.name.startswith("index.sqlite")] == []


# ------------------------------------------------------------------------------------------- search is read-only
def test_search_never_creates_an_index(index_url, tmp_path, capsys):
    if index_url.startswith("postgresql"):
        target = index_url  # an empty database: no tables may appear in it
    else:
        target = str(tmp_path / "typo" / "sub" / "index.sqlite")
    assert main(["search", "--index", target, "piano"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    if index_url.startswith("postgresql"):
        assert "not a clip2frame event index" in err
        import psycopg

        with psycopg.connect(index_url) as c:
            assert c.execute("SELECT count(*) FROM information_schema.tables "
                             "WHERE table_schema = 'public'").fetchone()[0] == 0
    else:
        assert target in err and "no such index" in err
        assert not (tmp_path / "typo").exists()
    # a folder without an index is refused the same way
    assert main(["search", str(tmp_path / "nothing"), "piano"]) == 2
    assert not (tmp_path / "nothing").exists()


def _read_only_copy(root: Path) -> Path:
    """A copy of catalogue ``root`` that the unprivileged user can read but not write (files 0444, folders
    0555), in a world-traversable temporary folder (pytest's tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="clip2frame-ro-"))
    base.chmod(0o755)
    copy = base / "cat"
    shutil.copytree(root, copy)
    for d, dirs, files in os.walk(copy, topdown=False):
        for f in files:
            os.chmod(os.path.join(d, f), 0o444)
        os.chmod(d, 0o555)
    return copy


@pytest.mark.parametrize("side_files", [False, True])
def test_search_reads_a_read_only_catalogue(tmp_path, side_files):
    """WAL readers need -shm/-wal files, which they cannot create in a read-only folder: search opens the index
    mode=ro, + immutable=1 where they are missing (side_files=False, what a writer leaves when it closes);
    where they exist (a reader left them), SQLite reads them read-only. Root ignores file permissions, so as
    root the search runs in a subprocess dropped to uid 65534 (nobody), where the chmod really applies."""
    root = tmp_path / "cat"
    _write_catalogue(root, 6)
    assert main(["index", str(root)]) == 0
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == ["index.sqlite"]
    if side_files:
        with IndexStore(out_dir=root, read_only=True) as s:  # a mode=ro reader leaves them behind
            s.count()
        assert (root / "index.sqlite-shm").is_file() and (root / "index.sqlite-wal").is_file()
    copy = _read_only_copy(root)
    with IndexStore(out_dir=root, read_only=True) as s:
        want = search(s, "piano", without=["drums"], limit=1000).to_dict()["segments"]
    try:
        listing = sorted(p.name for p in copy.iterdir())
        env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(copy.parent)}
        r = subprocess.run([sys.executable, "-c", UNPRIVILEGED_SEARCH, str(copy)], capture_output=True, text=True,
                           env=env, cwd=copy.parent, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads(r.stdout)["segments"] == want and want
        assert sorted(p.name for p in copy.iterdir()) == listing  # nothing created beside it
    finally:
        for d, _, _ in os.walk(copy.parent):
            os.chmod(d, 0o755)
        shutil.rmtree(copy.parent)


def test_read_only_open_flags(tmp_path, monkeypatch):
    """The open flags themselves: mode=ro always; immutable=1 only where -shm/-wal cannot be created."""
    import sqlite3

    root = tmp_path / "cat"
    _write_catalogue(root, 2)
    assert main(["index", str(root)]) == 0
    uris = []
    real_connect = sqlite3.connect

    def spy(target, *a, **kw):
        uris.append((str(target), kw.get("uri", False)))
        return real_connect(target, *a, **kw)

    monkeypatch.setattr(sqlite3, "connect", spy)
    real_access = os.access
    with monkeypatch.context() as m:  # a folder nobody may write: immutable, and no side files at all
        m.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real_access(p, mode, **kw))
        with IndexStore(out_dir=root, read_only=True) as s:
            assert s.count()["files"] == 2
        assert uris[-1] == (f"file:{root.absolute() / 'index.sqlite'}?mode=ro&immutable=1", True)
        assert sorted(p.name for p in root.iterdir() if p.is_file()) == ["index.sqlite"]
    with IndexStore(out_dir=root, read_only=True) as s:
        assert s.count()["files"] == 2
        with pytest.raises(Exception, match="readonly|read-only"):
            s.execute("DELETE FROM files")
    assert uris[-1] == (f"file:{root.absolute() / 'index.sqlite'}?mode=ro", True)


# ------------------------------------------------------------------------------------------- secrets
def test_mask_secrets():
    url = "postgresql://me:s3cr%40t@db.example:5432/cat?sslmode=require&password=pw2&sslpassword=k3y"
    shown = mask_secrets(url)
    assert shown == "postgresql://me:***@db.example:5432/cat?sslmode=require&password=***&sslpassword=***"
    assert parse_location(url).display == shown
    msg = 'connection failed: invalid percent-encoded token "s3cr@t" near pw2 (k3y)'
    assert mask_secrets(msg, url) == 'connection failed: invalid percent-encoded token "***" near *** (***)'
    assert mask_secrets("see postgresql://u@h/db?PassWord=x&a=1 now") == "see postgresql://u@h/db?PassWord=***&a=1 now"
    assert mask_secrets("/data/index.sqlite") == "/data/index.sqlite"


def test_passwords_never_printed(pg_cluster, tmp_path, capsys):
    root = tmp_path / "cat"
    _write_catalogue(root, 2)
    # trust authentication: the password is accepted and ignored, the index works, the output hides it
    url = pg_cluster.new_database() + "&password=hunter2"
    assert main(["index", str(root), "--index", url]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["index"].endswith("&password=***") and "hunter2" not in out.out + out.err
    bad = "postgresql://me:hunter3@/nodb?host=/nonexistent-socket-dir&password=hunter4&connect_timeout=2"
    for argv in (["search", "--index", bad, "piano"], ["index", str(root), "--index", bad],
                 ["index", str(root), "--index", bad, "--rebuild"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "cannot connect" in err and "hunter" not in err and "me:***@" in err, err
