"""The two migration trees: where their scripts live, which metadata they build, and how an
un-versioned database (made before Alembic) is recognised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import MetaData
from sqlalchemy.engine import Inspector

from epatrol.centre.base import CENTRE_SCHEMA_REVISION, CENTRE_VERSION_TABLE
from epatrol.common.errors import SchemaMismatch
from epatrol.evidence.store.schema import EDGE_SCHEMA_REVISION, EDGE_VERSION_TABLE

HERE = Path(__file__).parent


def edge_metadata() -> MetaData:
    import epatrol.uplink.outbox  # noqa: F401  (registers uplink_outbox and uplink_cursor on Base)
    from epatrol.evidence.store.schema import Base

    return Base.metadata


def centre_metadata() -> MetaData:
    from epatrol.centre.base import CentreBase
    from epatrol.centre.tables import import_all

    import_all()
    return CentreBase.metadata


def _columns(insp: Inspector, table: str) -> set[str]:
    return {c["name"] for c in insp.get_columns(table)}


# The edge tables of revision e0001 (the officer-review schema) and their columns.
_E0001 = {
    "cameras": {"id", "name", "site", "url", "created_at"},
    "events": {"id", "camera_id", "zone", "violation", "started_at", "alerted_at", "ended_at", "end_reason",
               "model_name", "model_sha256", "detections", "details", "clip_state"},
    "evidence_files": {"id", "event_id", "kind", "path", "sha256", "size_bytes", "media_start_utc", "media_end_utc", "created_at"},
    "reviews": {"id", "event_id", "decision", "reason", "note", "decided_by", "decided_at"},
    "cases": {"id", "title", "status", "created_by", "created_at", "closed_by", "closed_at"},
    "case_events": {"case_id", "event_id", "added_by", "added_at"},
    "case_notes": {"id", "case_id", "text", "written_by", "written_at"},
    "ledger": {"seq", "at", "kind", "subject", "event_id", "payload", "prev_hash", "hash"},
    "ledger_head": {"id", "seq", "hash"},
    "users": {"id", "username", "role", "password_hash", "disabled", "created_at"},
    "auth_tokens": {"id", "user_id", "token_sha256", "created_at", "expires_at", "revoked_at"},
    "audit_log": {"id", "at", "username", "action", "target", "detail", "client"},
}
_PURGE = {"purged_at", "purge_reason"}


def recognise_edge(insp: Inspector, where: str) -> str:
    """The revision an un-versioned edge database is at, judged by its tables and columns."""
    tables = set(insp.get_table_names())
    for table, cols in _E0001.items():
        if table not in tables:
            raise SchemaMismatch(f"database {where}: table {table} is missing: it was made by an epatrol older "
                                 "than the officer review, which cannot be migrated; use a new database_url")
        missing = sorted(cols - _columns(insp, table))
        if missing:
            raise SchemaMismatch(f"database {where}: table {table} lacks column(s) {', '.join(missing)}: "
                                 "its shape matches no epatrol version; use a new database_url (keep the old one)")
    purge = _PURGE & _columns(insp, "evidence_files")
    if not purge:
        return "e0001"
    if purge != _PURGE:
        raise SchemaMismatch(f"database {where}: table evidence_files lacks column(s) {', '.join(sorted(_PURGE - purge))}: "
                             "its shape matches no epatrol version; use a new database_url (keep the old one)")
    if "camera_status" not in tables:
        return "e0002"
    # Boxes that ran the uplink before Alembic made its tables with create_all.
    return "e0004" if {"uplink_outbox", "uplink_cursor"} <= tables else "e0003"


def recognise_centre(insp: Inspector, where: str) -> str:
    """An un-versioned centre database was made by create_all: of the record tables alone
    (c0001: the ingest ran before the workflow existed) or of all of them (c0002, before the
    case columns c0003 added)."""
    from epatrol.centre.tables import C0003_CASE_COLUMNS, RECORD_TABLES

    metadata = centre_metadata()
    tables = set(insp.get_table_names())
    for name in sorted(set(metadata.tables) & tables):
        have = _columns(insp, name)
        older = name == "centre_cases" and C0003_CASE_COLUMNS.isdisjoint(have)  # a c0002 case table
        missing = sorted({c.name for c in metadata.tables[name].columns} - have - (C0003_CASE_COLUMNS if older else set()))
        if missing:
            raise SchemaMismatch(f"database {where}: table {name} lacks column(s) {', '.join(missing)}: "
                                 "its shape matches no epatrol centre version; use a new database_url")
    absent = set(metadata.tables) - tables
    if not absent:
        return "c0002" if C0003_CASE_COLUMNS.isdisjoint(_columns(insp, "centre_cases")) else "c0003"
    if absent.isdisjoint(RECORD_TABLES) and absent == set(metadata.tables) - RECORD_TABLES:
        return "c0001"
    raise SchemaMismatch(f"database {where}: centre table(s) {', '.join(sorted(absent))} are missing: "
                         "its shape matches no epatrol centre version; use a new database_url")


@dataclass(frozen=True)
class Tree:
    name: str
    scripts: Path
    metadata: Callable[[], MetaData]
    recognise: Callable[[Inspector, str], str]
    # Separate version tables: one SQLite file may hold a box's tables and its own centre's.
    version_table: str
    # The revision the code's tables are, which the stores require (a test checks it is the head).
    code_revision: str


EDGE = Tree("edge", HERE / "edge", edge_metadata, recognise_edge, EDGE_VERSION_TABLE, EDGE_SCHEMA_REVISION)
CENTRE = Tree("centre", HERE / "centre", centre_metadata, recognise_centre, CENTRE_VERSION_TABLE, CENTRE_SCHEMA_REVISION)
