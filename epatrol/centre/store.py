"""The centre's database: one engine, read sessions and write transactions.

SQLite (one box acting as its own centre, and tests) gets the edge's connection settings (WAL,
foreign keys, BEGIN IMMEDIATE for writers); PostgreSQL is the production store.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from epatrol.centre.base import CENTRE_SCHEMA_REVISION, CENTRE_VERSION_TABLE
from epatrol.common.sql import make_engine, require_revision


class CentreStore:
    """``CentreStore(url)`` or ``CentreStore(engine)``. Connects only: the schema must be at this
    epatrol's revision (``SchemaMismatch`` if not); ``epatrol.migrations.open_centre_store``
    migrates first, as `epatrol centre` does."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        require_revision(self.engine, CENTRE_VERSION_TABLE, CENTRE_SCHEMA_REVISION, "centre")
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
