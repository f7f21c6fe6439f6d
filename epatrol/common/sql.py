"""SQL engines for the box's evidence store and the centre's store.

SQLite (a box; a box acting as its own centre; tests) gets WAL, foreign keys, a busy timeout and
writers that take the write lock up front; PostgreSQL needs nothing extra here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import StaticPool

from epatrol.common.errors import SchemaMismatch

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> Engine:
    """An engine for ``url``; an SQLite file's folder is created, an in-memory SQLite database is
    one shared connection (pooled connections would each see their own empty database)."""
    u = make_url(url)
    kwargs: dict[str, Any] = {}
    is_sqlite = u.get_backend_name() == "sqlite"
    if is_sqlite:
        db = u.database or ""
        if db in ("", ":memory:") or "memory" in str(u.query.get("mode", "")):
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u, **kwargs)
    if is_sqlite:
        configure_sqlite(engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module (it would BEGIN lazily, only
        # before DML); _on_begin issues BEGIN itself.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        # WAL: readers (the API) never block the writer (the recorder) and vice versa.
        cur.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable under WAL except for the last commits on power loss.
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front so they wait on busy_timeout instead of
        # failing with SQLITE_BUSY when upgrading a read transaction to a write. This also
        # serialises ledger appends (ledger.py) across threads and processes. A write
        # transaction is one begun on ``engine.execution_options(epatrol_write=True)``.
        write = conn.get_execution_options().get("epatrol_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def require_revision(engine: Engine, version_table: str, expected: str, what: str) -> None:
    """Refuse a database whose schema is not at ``expected`` (the revision this code's tables are).

    Stores only connect: the commands that start a process migrate first (epatrol.migrations),
    so a store opened on a database that was never migrated, or by another epatrol, says so here
    instead of failing later on a missing table or column."""
    try:
        with engine.connect() as conn:
            found = conn.execute(text(f"SELECT version_num FROM {version_table}")).scalar()
    except (OperationalError, ProgrammingError):  # no version table (SQLite, PostgreSQL)
        found = None
    if found != expected:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no epatrol schema" if found is None else f"is at {what} schema revision {found}"
        raise SchemaMismatch(
            f"database {where} {state}; this epatrol's is {expected}: open it with an epatrol command "
            "(they migrate it first), or migrate it with epatrol.migrations.upgrade_" + what
        )
