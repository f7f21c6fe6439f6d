"""Officers' decisions on flagged events: confirm (a real violation) or dismiss (with a reason).

Decisions are never edited: a new one supersedes the last, the history stays, and each is
chained into the ledger with who and when. An event that is evidence in a case cannot be
dismissed (the case would rest on a clip its own officers rejected).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from epatrol.common.errors import Conflict, Invalid, NotFound
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import DECISIONS, CaseEvent, Event, Review, utcnow

REVIEW_STATES = ("pending", "confirmed", "dismissed")
_STATE_OF = {"confirm": "confirmed", "dismiss": "dismissed"}
MAX_REASON_CHARS = 500
MAX_NOTE_CHARS = 4000


@dataclass(frozen=True, slots=True)
class ReviewView:
    id: int
    event_id: int
    decision: str  # confirm | dismiss
    reason: str | None
    note: str | None
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReviewInfo:
    state: str  # pending | confirmed | dismissed
    latest: ReviewView | None
    case_ids: tuple[int, ...]


PENDING = ReviewInfo("pending", None, ())


def _view(r: Review) -> ReviewView:
    return ReviewView(r.id, r.event_id, r.decision, r.reason, r.note, r.decided_by, r.decided_at)


def _latest_decision():
    """The newest decision of the event in the enclosing query (NULL when none yet)."""
    return (
        select(Review.decision)
        .where(Review.event_id == Event.id)
        .order_by(Review.id.desc())
        .limit(1)
        .correlate(Event)
        .scalar_subquery()
    )


def state_condition(state: str) -> ColumnElement[bool]:
    """A WHERE clause on Event for one review state (for the event search)."""
    if state == "pending":
        return _latest_decision().is_(None)
    for decision, name in _STATE_OF.items():
        if name == state:
            return _latest_decision() == decision
    raise Invalid(f"review state must be one of {', '.join(REVIEW_STATES)}, got {state!r}")


def latest_decision(s: Session, event_id: int) -> str | None:
    return s.scalar(select(Review.decision).where(Review.event_id == event_id).order_by(Review.id.desc()).limit(1))


def _clean(text: str | None, what: str, limit: int) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > limit:
        raise Invalid(f"the {what} is limited to {limit} characters")
    return text or None


def _checked(decision: str, reason: str | None, note: str | None) -> tuple[str | None, str | None]:
    if decision not in DECISIONS:
        raise Invalid(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    reason = _clean(reason, "reason", MAX_REASON_CHARS)
    note = _clean(note, "note", MAX_NOTE_CHARS)
    if decision == "dismiss" and not reason:
        raise Invalid("a dismissal needs a reason (e.g. 'bicycle belongs to the shop, inside its permit area')")
    return reason, note


def _decide_in(s: Session, event_id: int, decision: str, by: str, reason: str | None, note: str | None) -> Review:
    if s.get(Event, event_id) is None:
        raise NotFound(f"no event with id {event_id}")
    if decision == "dismiss":
        cases = s.scalars(select(CaseEvent.case_id).where(CaseEvent.event_id == event_id)).all()
        if cases:
            listed = ", ".join(str(c) for c in sorted(cases))
            raise Conflict(f"event {event_id} is evidence in case {listed} and cannot be dismissed")
    review = Review(event_id=event_id, decision=decision, reason=reason, note=note, decided_by=by, decided_at=utcnow())
    s.add(review)
    ledger.record(s, "review.decide", review)
    return review


def decide(
    db: Database, event_id: int, decision: str, by: str, reason: str | None = None, note: str | None = None
) -> ReviewView:
    reason, note = _checked(decision, reason, note)
    with db.write_transaction() as s:
        return _view(_decide_in(s, event_id, decision, by, reason, note))


MAX_GROUP = 200


def decide_group(
    db: Database, event_ids: Iterable[int], decision: str, by: str, reason: str | None = None, note: str | None = None
) -> list[ReviewView]:
    """One decision on a group of events (same camera, zone and violation: reviewed together),
    all or none: one refused event (unknown, in a case) refuses the whole group."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        raise Invalid("a group decision needs at least one event id")
    if len(ids) > MAX_GROUP:
        raise Invalid(f"a group decision is limited to {MAX_GROUP} events, got {len(ids)}")
    reason, note = _checked(decision, reason, note)
    with db.write_transaction() as s:
        keys = {k for k in s.execute(select(Event.camera_id, Event.zone, Event.violation).where(Event.id.in_(ids)))}
        if len(keys) > 1:
            listed = "; ".join(sorted(" / ".join(k) for k in keys))
            raise Invalid(f"a group is one camera, zone and violation; these events span {listed}")
        return [_view(_decide_in(s, eid, decision, by, reason, note)) for eid in ids]


def history(db: Database, event_id: int) -> list[ReviewView]:
    """Every decision on the event, oldest first."""
    with db.read_session() as s:
        return [_view(r) for r in s.scalars(select(Review).where(Review.event_id == event_id).order_by(Review.id))]


def infos(db: Database, event_ids: Iterable[int]) -> dict[int, ReviewInfo]:
    """Review state, newest decision and case ids for a page of events, in two queries."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    latest: dict[int, Review] = {}
    cases: dict[int, list[int]] = {}
    with db.read_session() as s:
        for r in s.scalars(select(Review).where(Review.event_id.in_(ids)).order_by(Review.id)):
            latest[r.event_id] = r  # ascending ids: the last one seen is the newest
        for case_id, event_id in s.execute(
            select(CaseEvent.case_id, CaseEvent.event_id).where(CaseEvent.event_id.in_(ids)).order_by(CaseEvent.case_id)
        ):
            cases.setdefault(event_id, []).append(case_id)
    out: dict[int, ReviewInfo] = {}
    for eid in ids:
        r = latest.get(eid)
        state = _STATE_OF[r.decision] if r else "pending"
        out[eid] = ReviewInfo(state, _view(r) if r else None, tuple(cases.get(eid, ())))
    return out


# -- what the detectors learn from (see detectors/suppression.py) -----------------------------


@dataclass(frozen=True, slots=True)
class DismissedEvent:
    event_id: int
    zone: str
    violation: str
    detections: list  # the event's boxes: [{"label", "confidence", "xyxy"}]


def latest_review_id(db: Database) -> int:
    """The newest decision's id (0 when none): a one-row check of whether anything changed."""
    with db.read_session() as s:
        return s.scalar(select(func.max(Review.id))) or 0


def dismissed_events(db: Database, camera_id: str) -> list[DismissedEvent]:
    """The camera's events whose newest decision is a dismissal (a later confirm undoes it)."""
    newest = select(Review.event_id, func.max(Review.id).label("review_id")).group_by(Review.event_id).subquery()
    stmt = (
        select(Event.id, Event.zone, Event.violation, Event.detections)
        .join(newest, newest.c.event_id == Event.id)
        .join(Review, Review.id == newest.c.review_id)
        .where(Event.camera_id == camera_id, Review.decision == "dismiss")
        .order_by(Event.id)
    )
    with db.read_session() as s:
        return [DismissedEvent(i, z, v, list(d or [])) for i, z, v, d in s.execute(stmt)]
