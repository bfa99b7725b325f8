"""Engines and migrations. SQLite (one file, WAL mode) is the embedded default;
PostgreSQL is the production database.

A SQLite file that cannot be written (a read-only file system, or a file or folder
without write permission) is opened read-only: with ``mode=ro``, or when its folder
cannot hold the write-ahead log's shared-memory file either, ``immutable=1`` (the file as
it is on disk; a write-ahead log left by a writer that did not close is then not read).
Reading works; every write fails with SQLite's "attempt to write a readonly database".
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL mode, foreign keys and a busy timeout,
    and a SQLite file is made readable by its owner only first (see :func:`private_sqlite_file`).
    A SQLite file that cannot be written is opened read-only (see the module docstring)."""
    path = sqlite_path(url)
    if path is not None and opens_read_only(url):
        engine = create_engine("sqlite://", creator=lambda: _connect_read_only(path))
        event.listen(engine, "connect", _sqlite_read_pragmas)
        return engine
    if url.startswith("sqlite"):
        if path is not None:
            private_sqlite_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # as many connections as the server's worker threads (40), so a request waits for a row
    # lock, never for a connection held by a thread that waits for one
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_timeout=60)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def opens_read_only(url: str) -> bool:
    """Whether :func:`make_engine` opens ``url`` read-only: a SQLite file that exists and
    cannot be written (or whose folder cannot)."""
    path = sqlite_path(url)
    return path is not None and path.is_file() and not sqlite_writable(path)


def sqlite_writable(path: Path) -> bool:
    """Whether the SQLite file ``path`` and its folder (for the write-ahead log) can be written."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return directory_writable(path.parent)


def directory_writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (a missing folder counts as writable: it
    is created when needed). Tries it, so a read-only file system is found even by root."""
    if not folder.exists():
        return True
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _connect_read_only(path: Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file (and its WAL)
        return connection
    except sqlite3.OperationalError:  # no shared-memory file, and none can be made: read the file as it is
        return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file ``path`` with mode 0600 (whatever the umask) if it is missing,
    and set 0600 on it, its write-ahead log and its shared-memory file if they exist.
    SQLite creates the ``-wal`` and ``-shm`` files with the database file's mode, so they
    stay private too. The file holds probe photos, templates and token hashes."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # no such folder, or one that cannot be written: SQLite will say so
    try:
        with suppress(PermissionError):  # another user's file: theirs to keep private
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.is_file() and not companion.is_symlink():
            with suppress(PermissionError):
                companion.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the database schema up to the newest migration."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def head_revision() -> str:
    """The newest migration's revision."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()  # type: ignore[arg-type]
    assert head is not None
    return str(head)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def has_table(engine: Engine, name: str) -> bool:
    """Whether the database has table ``name`` (a database not migrated to head may not)."""
    from sqlalchemy import inspect

    return bool(inspect(engine).has_table(name))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


TransactionContext = AbstractContextManager[Session]


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together, or rolls back together on any error."""
    with factory() as session, session.begin():
        yield session
