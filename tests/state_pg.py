"""A private PostgreSQL for tests: a cluster made by ``initdb`` in a temporary folder, started
by ``pg_ctl`` on 127.0.0.1 and a free port, removed at the end.

PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` system user
and every command runs as that user (``runuser``). Missing binaries skip the tests on a
developer's machine and fail them under CI (``tests.conftest.require``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from nmops.lab.bind import free_port
from tests.conftest import require

USER = "nmops"  # the cluster's superuser (initdb -U)


def pg_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout first, then PATH)."""

    def version(initdb: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", initdb.parent.parent.name))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


@dataclass
class PgCluster:
    bindir: Path
    root: Path
    runas: list[str]  # e.g. ["runuser", "-u", "postgres", "--"]; empty: as this user
    port: int = 0
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        command = [*self.runas, str(self.bindir / args[0]), *args[1:]]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            server = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{server}")

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        for attempt in range(3):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c max_connections=200"
            )
            try:
                log = str(self.root / "server.log")
                self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
                return
            except RuntimeError:
                if attempt == 2:  # the port may have been taken in between: try another
                    raise

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def running_cluster() -> Iterator[PgCluster]:
    """A started cluster for the duration of the ``with`` block."""
    bindir = pg_bindir()
    require(bindir is not None, "PostgreSQL (initdb, pg_ctl) is not installed")
    assert bindir is not None
    runas: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        require(
            runuser is not None and owner is not None,
            "running as root needs the postgres system user and runuser to start PostgreSQL",
        )
        runas = [str(runuser), "-u", "postgres", "--"]
    # Not under pytest's tmp_path: its folders are private to root, and the server runs as
    # postgres. A short path also keeps the Unix socket's name under its length limit.
    root = Path(tempfile.mkdtemp(prefix="nmops-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PgCluster(bindir, root, runas)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
