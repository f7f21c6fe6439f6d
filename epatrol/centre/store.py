"""The centre's database: one engine, read sessions and write transactions, migrated on open.

SQLite (one box acting as its own centre, and tests) gets the edge's connection settings (WAL,
foreign keys, BEGIN IMMEDIATE for writers); PostgreSQL is the production store.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from epatrol.evidence.db import _configure_sqlite
from epatrol.migrations import upgrade_centre


def centre_engine(url: str) -> Engine:
    u = make_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = u.get_backend_name() == "sqlite"
    if sqlite:
        db = u.database or ""
        if db in ("", ":memory:"):
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u, **kwargs)
    if sqlite:
        _configure_sqlite(engine)
    return engine


class CentreStore:
    """``CentreStore(url)`` or ``CentreStore(engine)``; the schema is brought to head either way."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = centre_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        upgrade_centre(self.engine)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(epatrol_write=True), expire_on_commit=False)

    def read(self) -> Session:
        """``with store.read() as s: ...``"""
        return self._read()

    def write(self) -> AbstractContextManager[Session]:
        """One write transaction (the SQLite write lock taken up front); commits on success."""
        return self._write.begin()

    def close(self) -> None:
        self.engine.dispose()
