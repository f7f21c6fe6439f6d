"""The centre's case tables: one case per confirmed event, the departments it is dispatched to,
each handling (处置) with its note and photo, and the photos themselves.

States: filed (立案) -> dispatched (派遣) -> reinspecting (处置 done, 核查 asked) -> closed (结案);
a re-inspection that still sees the violation sends the case back to dispatched (回头看).

A case copies from its event, when filed, the violation's label, the department leading it and
the unit answering for the spot (门前三包: name, contact, licence), so statistics and the page
read them from the case and a later change on the box does not rewrite history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epatrol.centre.base import CentreBase
from epatrol.common.times import UTCDateTime

CASE_STATES = ("filed", "dispatched", "reinspecting", "closed")
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


class CentreCase(CentreBase):
    __tablename__ = "centre_cases"
    __table_args__ = (
        CheckConstraint(f"state IN {CASE_STATES!r}", name="ck_centre_cases_state"),
        Index("ix_centre_cases_state_due", "state", "due_at"),
        Index("ix_centre_cases_place", "camera_ref", "zone", "violation"),
        {"sqlite_autoincrement": True},  # case numbers are quoted on paper: never reused
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("centre_events.id"), unique=True)
    box_id: Mapped[str] = mapped_column(String(64))
    camera_ref: Mapped[int] = mapped_column(ForeignKey("centre_cameras.id"))
    camera_id: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(200))
    violation: Mapped[str] = mapped_column(String(64), index=True)
    street: Mapped[str | None] = mapped_column(String(200), index=True)  # copied at filing: assessment
    grid: Mapped[str | None] = mapped_column(String(200), index=True)  # counts where it was then
    state: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first dispatch
    dispatched_by: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # of the current round
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # of the current round
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # of the current round
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ever_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # latest handling
    inspection_id: Mapped[int | None] = mapped_column(Integer)  # current centre_inspections row
    inspection_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closing_inspection_id: Mapped[int | None] = mapped_column(Integer)  # the evidence it closed on
    recurrence_of: Mapped[int | None] = mapped_column(Integer)  # an earlier closed case, same place
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # c0003: from the event when filed (None on cases filed before).
    lead_department: Mapped[str | None] = mapped_column(String(64))  # who leads it (the rule's, or the event's)
    violation_label: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"zh", "en"}
    responsible_name: Mapped[str | None] = mapped_column(String(200), index=True)  # 门前三包
    responsible_contact: Mapped[str | None] = mapped_column(String(100))
    responsible_licence: Mapped[str | None] = mapped_column(String(64))
    responsible_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # latest notice to the unit
    responsible_handles: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # dispatched to it

    departments: Mapped[list[CaseDepartment]] = relationship(
        order_by="CaseDepartment.position", lazy="raise", cascade="all, delete-orphan"
    )
    handlings: Mapped[list[CaseHandling]] = relationship(order_by="CaseHandling.id", lazy="raise")


RESPONSIBLE_LIMITS = {"name": 200, "contact": 100, "licence": 64}  # the columns' sizes


def responsible_from(details: Any) -> dict[str, str | None] | None:
    """The event's ``details.responsible`` as the case keeps it, or None when absent or unusable
    (the box validated it; the centre still never lets one odd event stop the filing)."""
    r = details.get("responsible") if isinstance(details, dict) else None
    if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not r["name"].strip():
        return None
    return {k: (v[:n] if isinstance(v := r.get(k), str) and v.strip() else None) for k, n in RESPONSIBLE_LIMITS.items()}


def label_from(details: Any) -> dict[str, str] | None:
    label = details.get("violation_label") if isinstance(details, dict) else None
    if not isinstance(label, dict) or not all(isinstance(label.get(k), str) for k in ("zh", "en")):
        return None
    return {"zh": label["zh"][:64], "en": label["en"][:120]}


def responsible_of(c: CentreCase) -> dict[str, str | None] | None:
    """The case's responsible unit for the API: {name, contact, licence} or None."""
    if c.responsible_name is None:
        return None
    return {"name": c.responsible_name, "contact": c.responsible_contact, "licence": c.responsible_licence}


class CaseDepartment(CentreBase):
    __tablename__ = "centre_case_departments"

    case_id: Mapped[int] = mapped_column(ForeignKey("centre_cases.id"), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0 leads


class CentrePhoto(CentreBase):
    """Handling photos, kept in the database (small, backed up with the cases, same on every backend)."""

    __tablename__ = "centre_photos"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseHandling(CentreBase):
    __tablename__ = "centre_case_handlings"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("centre_cases.id"), index=True)
    department: Mapped[str] = mapped_column(String(64))
    handled_by: Mapped[str] = mapped_column(String(64))
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)
    photo_sha256: Mapped[str] = mapped_column(ForeignKey("centre_photos.sha256"))
