"""Bring a database to the schema of this epatrol with Alembic, from code (no alembic.ini).

One transaction does it all, holding the database's write lock (BEGIN IMMEDIATE on SQLite, an
advisory lock on PostgreSQL), so two processes starting at once migrate once. On SQLite,
foreign keys are off while batch mode rebuilds tables, then checked before the commit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

from epatrol.common.errors import SchemaMismatch
from epatrol.migrations.trees import CENTRE, EDGE, Tree

log = logging.getLogger(__name__)
_PG_LOCK_KEY = 0x65706174  # "epat": any constant shared by every epatrol process


def upgrade_edge(engine: Engine) -> str:
    return upgrade(engine, EDGE)


def upgrade_centre(engine: Engine) -> str:
    return upgrade(engine, CENTRE)


@functools.cache
def _scripts(tree: Tree) -> ScriptDirectory:
    return ScriptDirectory(str(tree.scripts))


def head_of(tree: Tree) -> str:
    head = _scripts(tree).get_current_head()
    assert head is not None, f"no migrations in {tree.scripts}"
    return head


def upgrade(engine: Engine, tree: Tree) -> str:
    """What was done: 'current', 'created', or 'upgraded <from> -> <head>'."""
    where = engine.url.render_as_string(hide_password=True)
    head, metadata = head_of(tree), tree.metadata()
    with engine.connect() as conn:  # the usual case, without the write lock (readers never take it)
        if _current(conn, tree) == head:
            return "current"
    with _locked_connection(engine) as conn:
        context = MigrationContext.configure(conn, opts={"version_table": tree.version_table})
        current = context.get_current_revision()  # again: another process may have migrated meanwhile
        if current == head:
            return "current"
        if current is None:
            insp = inspect(conn)
            if not set(metadata.tables) & set(insp.get_table_names()):
                # create_all of the metadata is what the migrations build (tests compare the two).
                metadata.create_all(conn)
                context.stamp(_scripts(tree), head)
                log.info("%s database %s created at revision %s", tree.name, where, head)
                return "created"
            current = tree.recognise(insp, where)
            context.stamp(_scripts(tree), current)
            log.info("%s database %s had no version; recognised as revision %s", tree.name, where, current)
            if current == head:
                return "current"
        try:
            _scripts(tree).get_revision(current)
        except CommandError:
            raise SchemaMismatch(
                f"database {where} is at {tree.name} schema revision {current}, which this epatrol does not know "
                f"(its newest is {head}): it was made by a newer epatrol; upgrade epatrol or use another database_url"
            ) from None
        command.upgrade(alembic_config(tree, conn), "head")
        log.warning("%s database %s upgraded from revision %s to %s", tree.name, where, current, head)
        return f"upgraded {current} -> {head}"


def _current(conn: Connection, tree: Tree) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": tree.version_table}).get_current_revision()


def alembic_config(tree: Tree, conn: Connection) -> Config:
    """An Alembic config running ``tree``'s scripts on ``conn`` (for alembic.command calls)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(tree.scripts))
    cfg.attributes["connection"] = conn
    cfg.attributes["version_table"] = tree.version_table
    return cfg


@contextmanager
def _locked_connection(engine: Engine) -> Iterator[Connection]:
    sqlite = engine.dialect.name == "sqlite"
    # epatrol_write: evidence.db's SQLite engine then begins with BEGIN IMMEDIATE.
    with engine.execution_options(epatrol_write=True).connect() as conn:
        raw = conn.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = OFF")  # only takes effect outside a transaction
        try:
            with conn.begin():
                if engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn
                if raw is not None:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise SchemaMismatch(f"migration left rows whose foreign keys dangle: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = ON")


def run_migrations(context: Any, metadata: MetaData, version_table: str) -> None:
    """The body of each tree's env.py: on the connection the runner passed in, or, for a
    developer's `alembic -x url=... revision --autogenerate`, on that URL."""
    conn = context.config.attributes.get("connection")
    if conn is not None:
        _configure_and_run(context, conn, metadata, version_table)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database as `alembic -x url=sqlite:///path.db ...`")
    with create_engine(url).begin() as own:
        _configure_and_run(context, own, metadata, version_table)


def _configure_and_run(context: Any, conn: Connection, metadata: MetaData, version_table: str) -> None:
    context.configure(connection=conn, target_metadata=metadata, version_table=version_table,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
