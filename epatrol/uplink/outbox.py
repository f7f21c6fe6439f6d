"""The box's durable outbox: what still has to reach the centre, in the evidence database.

The collector tails the hash-chained ledger (every evidence write leaves an entry there, from
any process: the recorder, `epatrol serve`'s review decisions, retention) and, in one write
transaction with a cursor, turns new entries into outbox rows: one ``event`` row per touched
event carrying its whole current state, one ``file`` row per registered clip or snapshot.
So nothing in the pipeline calls the uplink, nothing is missed when the uplink is down or the
box restarts, and a row is never written twice for one ledger entry.

``acked_at`` marks the rows JetStream acknowledged (PubAck); ``prune`` deletes them after a while
(they are not evidence: the ledger and the centre keep what they said).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from epatrol.common import messages as m
from epatrol.evidence.review.decisions import latest_decision
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import (
    Base,
    Camera,
    Event,
    EvidenceFile,
    LedgerEntry,
    LedgerHead,
    UTCDateTime,
    utcnow,
)

BATCH = 500  # ledger entries turned into rows per transaction (keeps the write lock short)
REVIEW_STATE = {None: "pending", "confirm": "confirmed", "dismiss": "dismissed"}


class UplinkOutbox(Base):
    __tablename__ = "uplink_outbox"
    __table_args__ = (Index("ix_uplink_outbox_unacked", "acked_at", "id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # the Nats-Msg-Id
    kind: Mapped[str] = mapped_column(String(16))  # event | file | inspection
    edge_event_id: Mapped[int | None] = mapped_column(Integer)
    file_path: Mapped[str | None] = mapped_column(Text)  # relative to the storage root: the object's bytes
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the message (messages.py), ready to send
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first attempt
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # JetStream stored it (PubAck)
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)  # the PubAck said it already had it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class UplinkCursor(Base):
    """One row (id 1): the last ledger seq already turned into outbox rows."""

    __tablename__ = "uplink_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ledger_seq: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    key: str
    kind: str
    file_path: str | None
    payload: dict[str, Any]


def ensure_tables(db: Database) -> None:
    """Databases made before the uplink existed get its two tables (create_all adds tables only)."""
    Base.metadata.create_all(db.engine, tables=[UplinkOutbox.__table__, UplinkCursor.__table__])


def _camera_facts(cam: Camera, locations: Mapping[str, Any]) -> m.CameraFacts:
    loc = locations.get(cam.id)
    return m.CameraFacts(cam.id, cam.name, cam.site, getattr(loc, "street", None), getattr(loc, "grid", None))


def event_facts(s: Session, event_id: int, locations: Mapping[str, Any]) -> m.EventFacts:
    ev = s.get(Event, event_id)
    if ev is None:
        raise KeyError(f"no event with id {event_id}")
    cam = s.get(Camera, ev.camera_id)
    return m.EventFacts(
        id=ev.id, camera=_camera_facts(cam, locations), zone=ev.zone, violation=ev.violation,
        started_at=ev.started_at, alerted_at=ev.alerted_at, ended_at=ev.ended_at, end_reason=ev.end_reason,
        review_state=REVIEW_STATE.get(latest_decision(s, ev.id), "pending"), clip_state=ev.clip_state,
        model_name=ev.model_name, model_sha256=ev.model_sha256, details=dict(ev.details),
    )


def collect(db: Database, box: str, locations: Mapping[str, Any]) -> int:
    """Turn new ledger entries into outbox rows; returns how many rows were added."""
    with db.write_transaction() as s:
        cursor = s.get(UplinkCursor, 1, with_for_update=True)  # one collector at a time on PostgreSQL too
        if cursor is None:
            cursor = UplinkCursor(id=1, ledger_seq=0)
            s.add(cursor)
        entries = s.execute(
            select(LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.subject, LedgerEntry.event_id, LedgerEntry.hash)
            .where(LedgerEntry.seq > cursor.ledger_seq).order_by(LedgerEntry.seq).limit(BATCH)
        ).all()
        if not entries:
            return 0
        newest: dict[int, tuple[int, str]] = {}  # event id -> (seq, hash) of its newest entry here
        for e in entries:
            if e.event_id is not None:
                newest[e.event_id] = (e.seq, e.hash)
        facts = {eid: event_facts(s, eid, locations) for eid in newest}
        now, added = utcnow(), 0
        for eid, (seq, digest) in sorted(newest.items(), key=lambda kv: kv[1][0]):
            msg = m.Message(box=box, seq=seq, key=f"{box}:{seq}:{digest[:16]}:event", kind="event", event=facts[eid])
            s.add(UplinkOutbox(key=msg.key, kind="event", edge_event_id=eid, payload=m.dump(msg), created_at=now))
            added += 1
        for e in entries:
            if e.kind != "file.add":
                continue
            f = s.get(EvidenceFile, int(e.subject.split(":", 1)[1]))
            seq = newest[f.event_id][0]
            msg = m.Message(
                box=box, seq=seq, key=f"{box}:{e.seq}:{e.hash[:16]}:file", kind="file", event=facts[f.event_id],
                file=m.FileFacts(f.kind, f.sha256, f.size_bytes, m.object_key(box, f.event_id, f.kind, f.sha256)),
            )
            s.add(UplinkOutbox(key=msg.key, kind="file", edge_event_id=f.event_id, file_path=f.path,
                               payload=m.dump(msg), created_at=now))
            added += 1
        cursor.ledger_seq = entries[-1].seq
        return added


def add_inspection(db: Database, box: str, answer: m.InspectionAnswer, file_path: str | None) -> bool:
    """Queue the answer to a re-inspection; False when it was queued before (a redelivered request)."""
    key = f"{box}:inspect:{answer.request_id}"
    with db.write_transaction() as s:
        if s.scalar(select(UplinkOutbox.id).where(UplinkOutbox.key == key)) is not None:
            return False
        seq = s.scalar(select(UplinkCursor.ledger_seq)) or 0
        msg = m.Message(box=box, seq=seq, key=key, kind="inspection", inspection=answer)
        s.add(UplinkOutbox(key=key, kind="inspection", file_path=file_path, payload=m.dump(msg), created_at=utcnow()))
        return True


def pending(db: Database, limit: int = 100) -> list[Pending]:
    """Unacknowledged rows, oldest first."""
    with db.read_session() as s:
        rows = s.scalars(select(UplinkOutbox).where(UplinkOutbox.acked_at.is_(None)).order_by(UplinkOutbox.id).limit(limit))
        return [Pending(r.id, r.key, r.kind, r.file_path, r.payload) for r in rows]


def mark_acked(db: Database, row_id: int, duplicate: bool) -> None:
    now = utcnow()
    with db.write_transaction() as s:
        s.execute(update(UplinkOutbox).where(UplinkOutbox.id == row_id).values(
            acked_at=now, duplicate=duplicate, attempts=UplinkOutbox.attempts + 1, last_error=None))
        s.execute(update(UplinkOutbox).where(UplinkOutbox.id == row_id, UplinkOutbox.sent_at.is_(None)).values(sent_at=now))


def mark_failed(db: Database, row_id: int, error: str) -> None:
    now = utcnow()
    with db.write_transaction() as s:
        s.execute(update(UplinkOutbox).where(UplinkOutbox.id == row_id).values(
            attempts=UplinkOutbox.attempts + 1, last_error=error[:1000]))
        s.execute(update(UplinkOutbox).where(UplinkOutbox.id == row_id, UplinkOutbox.sent_at.is_(None)).values(sent_at=now))


def backlog(db: Database) -> dict[str, int]:
    """Counts for health and tests: rows queued, acknowledged, acknowledged as duplicates."""
    with db.read_session() as s:
        rows = s.execute(select(UplinkOutbox.acked_at.is_not(None), UplinkOutbox.duplicate)).all()
    return {
        "queued": sum(1 for acked, _ in rows if not acked),
        "acked": sum(1 for acked, _ in rows if acked),
        "duplicates": sum(1 for acked, dup in rows if acked and dup),
    }


def caught_up(db: Database) -> bool:
    """Every ledger entry is collected and every row acknowledged."""
    with db.read_session() as s:
        head = s.scalar(select(LedgerHead.seq)) or 0
        cursor = s.scalar(select(UplinkCursor.ledger_seq)) or 0
        queued = s.scalar(select(UplinkOutbox.id).where(UplinkOutbox.acked_at.is_(None)).limit(1))
    return cursor >= head and queued is None


def prune(db: Database, older_than: timedelta) -> int:
    """Delete rows acknowledged more than ``older_than`` ago; returns how many."""
    with db.write_transaction() as s:
        done = s.execute(delete(UplinkOutbox).where(UplinkOutbox.acked_at < utcnow() - older_than))
        return done.rowcount or 0


def chain_id(db: Database) -> str | None:
    """The hash of the ledger's first entry: which database this is (None while the ledger is empty)."""
    with db.read_session() as s:
        return s.scalar(select(LedgerEntry.hash).order_by(LedgerEntry.seq).limit(1))
