"""Every centre table on CentreBase: importing this module registers them (for create_all and
the centre's Alembic metadata)."""

from __future__ import annotations

# H6a's tables (records.py): what the boxes report; the centre's first migration (c0001).
RECORD_TABLES = frozenset({"centre_boxes", "centre_cameras", "centre_events", "centre_evidence", "centre_inspections"})


def import_all() -> None:
    from epatrol.centre import accounts, audit, cases, records  # noqa: F401
