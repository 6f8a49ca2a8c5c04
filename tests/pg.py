"""A real PostgreSQL server for the tests: Debian's `initdb` and `pg_ctl` on a temporary
folder and a free loopback port, started once per session and stopped afterwards.

As root (initdb refuses root) the server runs as the `postgres` user, else `nobody`, through
`runuser`. Without the PostgreSQL binaries the PostgreSQL variants FAIL, saying how to install
them (`make test` does: apt-get install postgresql); they are never skipped silently.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from serving.local import free_port

SUPERUSER = "o2c"
BACKENDS = ("sqlite", "postgresql")


@dataclass
class PostgresServer:
    """A running server: where it listens and how to reach it."""

    port: int
    socket_dir: Path

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database on it (psycopg 3)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; its URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def postgres_bin() -> Path | None:
    """The folder of `pg_ctl` and `initdb`: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parent.parent.name)
                      if Path(p).parent.parent.name.isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _runner() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs the server's programs, and the user they run as (None:
    this process's own user)."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], account
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists to "
                       "run PostgreSQL as (initdb refuses root)")


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr.strip()}"
                           f"{result.stdout.strip()}")


@dataclass
class _Started:
    server: PostgresServer
    stop: list[str]
    root: Path


def start_postgres() -> _Started:
    """initdb a temporary cluster and start it on a free loopback port."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (no pg_ctl on PATH or in "
                           "/usr/lib/postgresql/*/bin): `make test` installs it, or run "
                           "`apt-get install postgresql`")
    prefix, account = _runner()
    root = Path(tempfile.mkdtemp(prefix="o2c-pg-"))
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    data, log = root / "data", root / "server.log"
    _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
          "-E", "UTF8", "--no-sync", "--locale=C"], "initdb")
    port = free_port()
    options = f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c full_page_writes=off"
    _run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
          "-w", "-t", "60", "start"], f"pg_ctl start (log: {log})")
    stop = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    return _Started(PostgresServer(port, root), stop, root)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session; fails (not skips) when it cannot start."""
    try:
        started = start_postgres()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"cannot start PostgreSQL for the workflow tests: {exc}", pytrace=False)
    try:
        yield started.server
    finally:
        subprocess.run(started.stop, capture_output=True, timeout=60)
        shutil.rmtree(started.root, ignore_errors=True)


_databases = itertools.count(1)


def fresh_database_url(backend: str, request: pytest.FixtureRequest, folder: Path) -> str:
    """The URL of a new, empty database on `backend`: a SQLite file in `folder`, or a new
    database on the session's PostgreSQL server."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'workflow.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"o2c_{os.getpid()}_{next(_databases)}")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty workflow database, once on SQLite and once on PostgreSQL."""
    return fresh_database_url(request.param, request, tmp_path)
