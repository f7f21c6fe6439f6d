"""The evidence database's tables (SQLAlchemy ORM), one ``Base`` for all of them.

Evidence: cameras, events, evidence_files. Review: reviews, cases, case_events, case_notes.
Integrity: ledger + ledger_head (the hash chain, see ledger.py and common/chain.py). Access: users, auth_tokens,
audit_log. Timestamps are aware UTC in Python and naive UTC in the columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from epatrol.common.times import UTCDateTime, aware, utcnow  # noqa: F401  (the tables use them; callers import them from here)

# partial: the recording was cut off (crash, kill -9, power cut); what was written up to the cut
# plays and is registered at the next start (evidence/recording/recovery.py).
CLIP_STATES = ("recording", "complete", "failed", "purged", "partial")
FILE_KINDS = ("clip", "snapshot")
DECISIONS = ("confirm", "dismiss")
CASE_STATUSES = ("open", "closed")
ROLES = ("viewer", "officer", "admin")
# The Alembic revision these tables are (migrations/edge/versions; tests/test_migrations.py checks
# it is the newest script). The store refuses a database at any other revision.
EDGE_SCHEMA_REVISION = "e0005"
EDGE_VERSION_TABLE = "alembic_version"


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN {values!r}", name=name)


class Base(DeclarativeBase):
    pass


# -- evidence ----------------------------------------------------------------------------


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraStatus(Base):
    """A camera's live state as `epatrol run` last saw it (not evidence, so not ledgered):
    what another process (`epatrol serve`, the centre) reads, with `updated_at` to judge age."""

    __tablename__ = "camera_status"

    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    last_sample_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sample_rate_hz: Mapped[float] = mapped_column(default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the whole health record
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        _one_of("clip_state", CLIP_STATES, "ck_events_clip_state"),
        Index("ix_events_started", "started_at"),
        Index("ix_events_camera_started", "camera_id", "started_at"),
        Index("ix_events_violation_started", "violation", "started_at"),
        # Never reuse a deleted event's id: ids are part of evidence file names.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    zone: Mapped[str] = mapped_column(String(200))
    violation: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # onset of the violation
    alerted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the judge decided
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(String(200))
    model_sha256: Mapped[str] = mapped_column(String(64))
    detections: Mapped[list[Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    clip_state: Mapped[str] = mapped_column(String(16), default="recording")

    # lazy="raise": touching a relationship that was not loaded up front is a bug (N+1).
    camera: Mapped[Camera] = relationship(lazy="raise")
    files: Mapped[list[EvidenceFile]] = relationship(
        back_populates="event", order_by="EvidenceFile.id", lazy="raise"
    )


class EvidenceFile(Base):
    __tablename__ = "evidence_files"
    __table_args__ = (_one_of("kind", FILE_KINDS, "ck_evidence_files_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)  # relative to the storage root, POSIX style
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_start_utc: Mapped[datetime] = mapped_column(UTCDateTime)
    media_end_utc: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Retention deleted the file; the row (and its hash) stays as the record that it existed.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purge_reason: Mapped[str | None] = mapped_column(String(200))

    event: Mapped[Event] = relationship(back_populates="files", lazy="raise")


# -- officer review ----------------------------------------------------------------------


class Review(Base):
    """One decision on an event; never updated. The newest one is the event's review state."""

    __tablename__ = "reviews"
    # Ids are never reused (sqlite_autoincrement): they are named in the ledger and exports.
    __table_args__ = (_one_of("decision", DECISIONS, "ck_reviews_decision"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (_one_of("status", CASE_STATUSES, "ck_cases_status"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseEvent(Base):
    __tablename__ = "case_events"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True, index=True)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseNote(Base):
    __tablename__ = "case_notes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    written_by: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- integrity: the hash-chained ledger (see ledger.py and common/chain.py) -----------------------------------


class LedgerEntry(Base):
    """Append-only. No foreign keys: an entry must outlive a deleted row to prove it existed."""

    __tablename__ = "ledger"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(100), index=True)  # e.g. "event:12", "file:7"
    event_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON: exactly the text that was hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """One row (id 1): the newest seq and hash. Appends lock it, so they are serialised on
    every backend, and it exposes a deleted tail of the ledger."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


# -- access: users, tokens, audit ---------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (_one_of("role", ROLES, "ck_users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(300))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthToken(Base):
    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # never the token itself
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    client: Mapped[str | None] = mapped_column(String(100))  # remote address
