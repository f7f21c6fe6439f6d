"""The centre's record of what the edge boxes reported: boxes, cameras, events, evidence files
and re-inspections (回头看), plus the idempotent upserts the ingest consumer applies.

Every message from a box carries the *whole* current state of one edge event plus ``seq``,
the box's ledger sequence number of the change (monotonic per box). An upsert applies a
message only when its ``seq`` is newer than the one stored, so a redelivered, duplicated or
reordered message changes nothing. Keys: ``(box_id, edge_event_id)`` for events,
``(event_id, kind, sha256)`` for files, ``request_id`` for inspections.

The message format is defined in epatrol/common/messages.py; times there are ISO 8601 UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from epatrol.centre.base import CentreBase
from epatrol.common import messages as m
from epatrol.common.times import UTCDateTime, utcnow

EVIDENCE_STATES = ("pending", "verified", "corrupt", "missing")
INSPECTION_STATES = ("requested", "sent", "clean", "violating", "unavailable")


class CentreBox(CentreBase):
    __tablename__ = "centre_boxes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class CentreCamera(CentreBase):
    __tablename__ = "centre_cameras"
    __table_args__ = (UniqueConstraint("box_id", "camera_id", name="uq_centre_cameras_box_camera"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    box_id: Mapped[str] = mapped_column(ForeignKey("centre_boxes.id"))
    camera_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(200))
    street: Mapped[str | None] = mapped_column(String(200), index=True)  # 街道 (the street chief's)
    grid: Mapped[str | None] = mapped_column(String(200), index=True)  # 网格
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CentreEvent(CentreBase):
    __tablename__ = "centre_events"
    __table_args__ = (
        UniqueConstraint("box_id", "edge_event_id", name="uq_centre_events_box_edge"),
        Index("ix_centre_events_violation_onset", "violation", "onset"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    box_id: Mapped[str] = mapped_column(ForeignKey("centre_boxes.id"))
    edge_event_id: Mapped[int] = mapped_column(Integer)
    camera_ref: Mapped[int] = mapped_column(ForeignKey("centre_cameras.id"), index=True)
    camera_id: Mapped[str] = mapped_column(String(64))  # the box's camera id (denormalised for reading)
    zone: Mapped[str] = mapped_column(String(200))
    violation: Mapped[str] = mapped_column(String(64))
    onset: Mapped[datetime] = mapped_column(UTCDateTime)  # the violation began
    alert: Mapped[datetime] = mapped_column(UTCDateTime)  # the box's judge decided
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    review_state: Mapped[str] = mapped_column(String(16))  # pending | confirmed | dismissed (the box's officers)
    clip_state: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(200))
    model_sha256: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    edge_seq: Mapped[int] = mapped_column(BigInteger)  # the newest applied change (box ledger seq)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    camera: Mapped[CentreCamera] = relationship(lazy="raise")
    evidence: Mapped[list[CentreEvidence]] = relationship(back_populates="event", order_by="CentreEvidence.id", lazy="raise")


class CentreEvidence(CentreBase):
    __tablename__ = "centre_evidence"
    __table_args__ = (UniqueConstraint("event_id", "kind", "sha256", name="uq_centre_evidence_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("centre_events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # clip | snapshot
    sha256: Mapped[str] = mapped_column(String(64))  # what the box hashed when it wrote the file
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    object_key: Mapped[str] = mapped_column(Text)  # name in the JetStream object store
    state: Mapped[str] = mapped_column(String(16), default="pending")  # EVIDENCE_STATES
    problem: Mapped[str | None] = mapped_column(Text)  # why corrupt or missing
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[CentreEvent] = relationship(back_populates="evidence", lazy="raise")


class CentreInspection(CentreBase):
    """A re-inspection (回头看) the centre asked a box for, and the box's answer."""

    __tablename__ = "centre_inspections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)  # also the Nats-Msg-Id
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the centre case that asked (no FK: H6b's table)
    box_id: Mapped[str] = mapped_column(ForeignKey("centre_boxes.id"))
    camera_id: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(200))
    violation: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="requested")  # INSPECTION_STATES
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the sample the box judged
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    snapshot_object: Mapped[str | None] = mapped_column(Text)
    snapshot_state: Mapped[str | None] = mapped_column(String(16))  # EVIDENCE_STATES
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- upserts (each runs inside the caller's transaction; the caller commits, then acks) -----


def touch_box(s: Session, box_id: str) -> CentreBox:
    """The box's row, its ``last_seen`` set once per transaction (not once per message)."""
    cache = s.info.setdefault("centre_boxes", {})
    if box_id in cache:
        return cache[box_id]
    now = utcnow()
    box = s.get(CentreBox, box_id)
    if box is None:
        box = CentreBox(id=box_id, first_seen=now, last_seen=now)
        s.add(box)
        s.flush()
    else:
        box.last_seen = now
    cache[box_id] = box
    return box


def upsert_camera(s: Session, box_id: str, cam: m.CameraFacts) -> CentreCamera:
    cache = s.info.setdefault("centre_cameras", {})  # per session: a batch names few cameras
    row = cache.get((box_id, cam.id))
    if row is None:
        row = s.scalar(select(CentreCamera).where(CentreCamera.box_id == box_id, CentreCamera.camera_id == cam.id))
    facts = (cam.name, cam.site, cam.street, cam.grid)
    if row is None:
        row = CentreCamera(box_id=box_id, camera_id=cam.id, updated_at=utcnow())
        s.add(row)
    if (row.name, row.site, row.street, row.grid) != facts:
        row.name, row.site, row.street, row.grid = facts
        row.updated_at = utcnow()
    if row.id is None:
        s.flush()  # events refer to it by id
    cache[(box_id, cam.id)] = row
    return row


def preload_events(s: Session, keys: list[tuple[str, int]]) -> None:
    """Load the events a batch names in one query, so apply_event finds them without one each."""
    cache = s.info.setdefault("centre_events", {})
    wanted = [k for k in set(keys) if k not in cache]
    for box in {b for b, _ in wanted}:
        ids = [e for b, e in wanted if b == box]
        found = {r.edge_event_id: r for r in s.scalars(
            select(CentreEvent).where(CentreEvent.box_id == box, CentreEvent.edge_event_id.in_(ids)))}
        for e in ids:
            cache[(box, e)] = found.get(e)  # None: known to be new


def _find_event(s: Session, box_id: str, edge_event_id: int) -> CentreEvent | None:
    cache = s.info.setdefault("centre_events", {})
    if (box_id, edge_event_id) in cache:
        return cache[(box_id, edge_event_id)]
    return s.scalar(select(CentreEvent).where(CentreEvent.box_id == box_id, CentreEvent.edge_event_id == edge_event_id))


def ingest_event(s: Session, payload: dict[str, Any]) -> CentreEvent:
    """Apply one box message's event state; older or repeated states change nothing."""
    msg = m.parse(payload)
    if msg.event is None:
        raise ValueError(f"message {msg.key}: kind {msg.kind!r} carries no event")
    return apply_event(s, msg.box, msg.seq, msg.event)[0]


def apply_event(s: Session, box_id: str, seq: int, ev: m.EventFacts) -> tuple[CentreEvent, bool]:
    """Upsert one event state; the flag says whether it changed anything."""
    touch_box(s, box_id)
    row = _find_event(s, box_id, ev.id)
    if row is not None and row.edge_seq >= seq:
        return row, False  # a duplicate or an older state than the one we have
    cam = upsert_camera(s, box_id, ev.camera)
    now = utcnow()
    if row is None:
        row = CentreEvent(box_id=box_id, edge_event_id=ev.id, received_at=now)
        s.add(row)
    row.camera_ref, row.camera_id = cam.id, ev.camera.id
    row.zone, row.violation = ev.zone, ev.violation
    row.onset, row.alert, row.ended, row.end_reason = ev.started_at, ev.alerted_at, ev.ended_at, ev.end_reason
    row.review_state, row.clip_state = ev.review_state, ev.clip_state
    row.model_name, row.model_sha256 = ev.model_name, ev.model_sha256
    row.details = dict(ev.details)
    row.edge_seq, row.updated_at = seq, now
    s.info["centre_events"][(box_id, ev.id)] = row  # inserted at the next flush (batched)
    return row, True


def ingest_file(s: Session, payload: dict[str, Any]) -> CentreEvidence:
    """Record an evidence file the box uploaded (state 'pending' until its bytes are verified)."""
    msg = m.parse(payload)
    if msg.file is None or msg.event is None:
        raise ValueError(f"message {msg.key}: kind {msg.kind!r} carries no file")
    return apply_file(s, msg)[0]


def apply_file(s: Session, msg: m.Message) -> tuple[CentreEvidence, bool]:
    """Upsert the event and add the file (state 'pending'); the flag says whether the file is new."""
    event, _ = apply_event(s, msg.box, msg.seq, msg.event)
    if event.id is None:
        s.flush()
    f = msg.file
    row = s.scalar(select(CentreEvidence).where(
        CentreEvidence.event_id == event.id, CentreEvidence.kind == f.kind, CentreEvidence.sha256 == f.sha256))
    if row is None:
        row = CentreEvidence(event_id=event.id, kind=f.kind, sha256=f.sha256, size_bytes=f.size_bytes,
                             object_key=f.object_key, state="pending", received_at=utcnow())
        s.add(row)
        s.flush()
        return row, True
    return row, False


def find_evidence(s: Session, box_id: str, edge_event_id: int, kind: str, sha256: str) -> CentreEvidence | None:
    return s.scalar(
        select(CentreEvidence).join(CentreEvent)
        .where(CentreEvent.box_id == box_id, CentreEvent.edge_event_id == edge_event_id,
               CentreEvidence.kind == kind, CentreEvidence.sha256 == sha256)
    )


def mark_evidence(s: Session, row: CentreEvidence, state: str, problem: str | None = None) -> None:
    if state not in EVIDENCE_STATES:
        raise ValueError(f"evidence state must be one of {EVIDENCE_STATES}, got {state!r}")
    row.state, row.problem = state, problem
    row.verified_at = utcnow() if state == "verified" else None


def request_inspection(
    s: Session, box_id: str, camera_id: str, zone: str, violation: str, case_id: int | None = None
) -> CentreInspection:
    """Ask a box to re-check a zone. Only a row here: the ingest service publishes requests
    whose ``sent_at`` is empty (so a request made while NATS is down is sent once it is back)."""
    if s.get(CentreBox, box_id) is None:
        raise ValueError(f"box {box_id!r} has never reported to the centre")
    insp = CentreInspection(
        request_id=uuid.uuid4().hex, case_id=case_id, box_id=box_id, camera_id=camera_id, zone=zone,
        violation=violation, state="requested", requested_at=utcnow(), details={},
    )
    s.add(insp)
    s.flush()
    return insp


def unsent_inspections(s: Session) -> list[CentreInspection]:
    return list(s.scalars(select(CentreInspection).where(CentreInspection.sent_at.is_(None)).order_by(CentreInspection.id)))


def ingest_inspection(s: Session, payload: dict[str, Any]) -> CentreInspection | None:
    """Apply a box's answer to a re-inspection request (None: no such request here)."""
    return apply_inspection(s, m.parse(payload))


def apply_inspection(s: Session, msg: m.Message) -> CentreInspection | None:
    ans = msg.inspection
    if ans is None:
        raise ValueError(f"message {msg.key}: kind {msg.kind!r} carries no inspection answer")
    touch_box(s, msg.box)
    insp = s.scalar(select(CentreInspection).where(CentreInspection.request_id == ans.request_id))
    if insp is None or insp.answered_at is not None:
        return insp  # unknown, or a duplicate of an answer already applied
    insp.state = ans.state
    insp.answered_at, insp.observed_at = utcnow(), ans.observed_at
    insp.snapshot_sha256, insp.snapshot_object = ans.snapshot_sha256, ans.snapshot_object
    insp.snapshot_state = "pending" if ans.snapshot_sha256 else None
    insp.details = dict(ans.details)
    if insp.sent_at is None:
        insp.sent_at = insp.answered_at
    s.flush()
    return insp
