"""Open a store the way a starting process does: migrate its database, then connect."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from epatrol.centre.store import CentreStore
from epatrol.common.errors import SchemaMismatch
from epatrol.common.sql import make_engine
from epatrol.evidence.store.db import Database
from epatrol.migrations.runner import upgrade_centre, upgrade_edge

Store = TypeVar("Store", Database, CentreStore)


def open_database(url_or_engine: str | Engine) -> Database:
    """The box's evidence store, its database created or upgraded to this epatrol's schema first
    (``SchemaMismatch`` for a database made by a newer epatrol or of an unknown shape)."""
    return _migrated(url_or_engine, upgrade_edge, Database)


def open_centre_store(url_or_engine: str | Engine) -> CentreStore:
    """The centre's store, its database created or upgraded to this epatrol's schema first."""
    return _migrated(url_or_engine, upgrade_centre, CentreStore)


def _migrated(url_or_engine: str | Engine, upgrade: Callable[[Engine], str], store: Callable[[Engine], Store]) -> Store:
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        try:
            upgrade(engine)
            return store(engine)
        except DatabaseError as e:  # not a database, a damaged one, one locked for good: say which, touch nothing
            where = engine.url.render_as_string(hide_password=True)
            raise SchemaMismatch(f"database {where} cannot be opened: {e.orig or e}; it was left as it is "
                                 "(keep it for inspection and set another database_url, or restore a backup)") from e
    except BaseException:
        if engine is not url_or_engine:  # ours: do not leave its connections open
            engine.dispose()
        raise
