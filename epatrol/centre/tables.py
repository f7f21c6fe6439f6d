"""Every centre table on CentreBase: importing this module registers them (for create_all and
the centre's Alembic metadata)."""

from __future__ import annotations

# H6a's tables (records.py): what the boxes report; the centre's first migration (c0001).
RECORD_TABLES = frozenset({"centre_boxes", "centre_cameras", "centre_events", "centre_evidence", "centre_inspections"})
# The columns c0003 added to centre_cases (lead, label, the responsible unit: cases.py).
C0003_CASE_COLUMNS = frozenset({"lead_department", "violation_label", "responsible_name", "responsible_contact",
                                "responsible_licence", "responsible_notified_at", "responsible_handles"})


def import_all() -> None:
    from epatrol.centre import accounts, audit, cases, records  # noqa: F401
