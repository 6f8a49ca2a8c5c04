"""The store's database: an engine from a URL, sessions, and the Alembic migrations.

SQLite files get WAL (readers never wait for the writer), foreign keys on and a busy timeout;
PostgreSQL is used as it is. `open_store` upgrades the schema to the latest revision first
(`alembic upgrade head`, run in process with the migrations shipped in this package).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_MS = 10_000
"""How long a SQLite writer waits for another one before failing."""


class StoreError(RuntimeError):
    """The store cannot be opened or migrated; the message says which database and why
    (never its password)."""


def default_url(workdir: Path) -> str:
    """The default store: `<workdir>/workflow.db`, SQLite."""
    return f"sqlite:///{(Path(workdir) / 'workflow.db').resolve()}"


def shown(url: str) -> str:
    """The URL as it may be printed: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created and each connection gets
    foreign keys, WAL and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("the workflow store's database URL is not a SQLAlchemy URL "
                         "(e.g. sqlite:///work/workflow.db or "
                         "postgresql+psycopg://user@host/db)") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use the store at {shown(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def alembic_config() -> Config:
    """Alembic's configuration for the migrations in this package (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store's schema to `revision` (default the latest), in one transaction."""
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate the store at {shown(str(engine.url))}: "
                         f"{type(exc).__name__}: {exc.orig if hasattr(exc, 'orig') else exc}"
                         ) from None


def current_revision(engine: Engine) -> str | None:
    """The schema revision the store is at (None before the first upgrade)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


class Store:
    """An upgraded store: its engine and a session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Session]:
        """A session in one transaction: committed at the end, rolled back on any error
        (nothing of a refused action is written)."""
        with self.sessions.begin() as session:
            yield session


def open_store(url: str) -> Store:
    """The store at `url`, its schema upgraded to the latest revision."""
    engine = make_engine(url)
    upgrade(engine)
    return Store(engine)


_lock = threading.Lock()


@functools.cache
def _cached(url: str) -> Store:
    return open_store(url)


def store_for(url: str) -> Store:
    """One upgraded `Store` per URL and process (the service's endpoints and its key check
    share it)."""
    with _lock:
        return _cached(url)
