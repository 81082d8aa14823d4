"""A throwaway PostgreSQL cluster for the index tests and benchmarks/bench_search.py.

``initdb`` into a temporary folder, ``postgres`` listening on a unix socket only (no TCP), stopped and
deleted by :meth:`PgCluster.stop`. The server binaries come from Debian's ``postgresql`` package
(``scripts/setup.sh`` installs it). ``initdb`` and ``postgres`` refuse to run as root, so as root they run as
the ``postgres`` user, which then owns the folder.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


class PgUnavailable(Exception):
    """PostgreSQL cannot be started here (the message says why, in one line)."""


def _bin_dir() -> Path:
    env = os.environ.get("CLIP2FRAME_PG_BIN")
    cands = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                     key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    for c in reversed(cands):
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise PgUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")


class PgCluster:
    """``with PgCluster() as pg: url = pg.new_database()``; ``settings`` are extra ``-c`` server options."""

    def __init__(self, settings: dict[str, str] | None = None):
        self.settings = {"listen_addresses": "''", "fsync": "off", "full_page_writes": "off",
                         **(settings or {})}
        self.dir: Path | None = None
        self._started = False

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            tail = " ".join((r.stderr or r.stdout).split())[-300:]
            raise PgUnavailable(f"{Path(args[0]).name} failed: {tail}")
        return r

    def start(self) -> "PgCluster":
        bin_dir = _bin_dir()
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise PgUnavailable("running as root without runuser: cannot start postgres as another user")
        self.dir = Path(tempfile.mkdtemp(prefix="clip2frame-pg-"))
        if os.geteuid() == 0:
            try:
                import pwd

                pw = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise PgUnavailable("no 'postgres' user to run the server as (apt-get install postgresql)") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        try:
            self._run(str(bin_dir / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres",
                      "--no-sync", "-E", "UTF8", "--locale", "C")
            (self.dir / "sock").mkdir() if os.geteuid() != 0 else self._run("mkdir", str(self.dir / "sock"))
            opts = " ".join(f"-c {k}={v}" for k, v in self.settings.items()) + f" -k {self.dir / 'sock'}"
            self._run(str(bin_dir / "pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "log"),
                      "-o", opts, "-w", "-t", "60", "start")
            self._started = True
        except (PgUnavailable, OSError, subprocess.SubprocessError) as e:
            self.stop()
            raise e if isinstance(e, PgUnavailable) else PgUnavailable(f"cannot start postgres: {e}") from None
        self._bin = bin_dir
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.dir / 'sock'}"

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')  # generated name, not user input
        return self.url(name)

    def stop(self) -> None:
        if self.dir is None:
            return
        if self._started:
            self._run(str(_bin_dir() / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop",
                      check=False)
            self._started = False
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> "PgCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
