"""Cases: confirmed events grouped for one administrative penalty procedure, with notes.

A case is open until closed; a closed case is frozen (no events, no notes), so what was
exported and decided on cannot grow afterwards. Every change is chained into the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from epatrol.common.errors import Conflict, Invalid, NotFound
from epatrol.evidence.review.decisions import MAX_NOTE_CHARS, latest_decision
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import (
    CASE_STATUSES,
    Case,
    CaseEvent,
    CaseNote,
    Event,
    utcnow,
)

MAX_TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class NoteView:
    id: int
    case_id: int
    text: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    title: str
    status: str  # open | closed
    created_by: str
    created_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    event_ids: list[int] = field(default_factory=list)  # in the order they were added
    notes: list[NoteView] = field(default_factory=list)  # oldest first


def _text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise Invalid(f"the {what} must not be empty")
    if len(value) > limit:
        raise Invalid(f"the {what} is limited to {limit} characters")
    return value


def _note(s: Session, case: Case, text: str, by: str) -> CaseNote:
    note = CaseNote(case_id=case.id, text=_text(text, "note", MAX_NOTE_CHARS), written_by=by, written_at=utcnow())
    s.add(note)
    ledger.record(s, "case.note", note)
    return note


def _open_case(s: Session, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    if case.status != "open":
        raise Conflict(f"case {case_id} is closed; a closed case cannot change")
    return case


def _views(s: Session, cases: list[Case]) -> list[CaseView]:
    ids = [c.id for c in cases]
    events: dict[int, list[int]] = {}
    notes: dict[int, list[NoteView]] = {}
    if ids:
        for case_id, event_id in s.execute(
            select(CaseEvent.case_id, CaseEvent.event_id)
            .where(CaseEvent.case_id.in_(ids))
            .order_by(CaseEvent.added_at, CaseEvent.event_id)
        ):
            events.setdefault(case_id, []).append(event_id)
        for n in s.scalars(select(CaseNote).where(CaseNote.case_id.in_(ids)).order_by(CaseNote.id)):
            notes.setdefault(n.case_id, []).append(NoteView(n.id, n.case_id, n.text, n.written_by, n.written_at))
    return [
        CaseView(
            c.id, c.title, c.status, c.created_by, c.created_at, c.closed_by, c.closed_at,
            events.get(c.id, []), notes.get(c.id, []),
        )
        for c in cases
    ]


def create_case(db: Database, title: str, by: str, note: str | None = None) -> CaseView:
    title = _text(title, "title", MAX_TITLE_CHARS)
    with db.write_transaction() as s:
        case = Case(title=title, status="open", created_by=by, created_at=utcnow())
        s.add(case)
        ledger.record(s, "case.create", case)
        if note is not None and note.strip():
            _note(s, case, note, by)
        return _views(s, [case])[0]


def get_case(db: Database, case_id: int) -> CaseView:
    with db.read_session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case with id {case_id}")
        return _views(s, [case])[0]


def list_cases(db: Database, status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[CaseView], int]:
    """Newest first, and the number of cases matching."""
    if status is not None and status not in CASE_STATUSES:
        raise Invalid(f"status must be one of {', '.join(CASE_STATUSES)}, got {status!r}")
    conds = [Case.status == status] if status else []
    with db.read_session() as s:
        total = s.scalar(select(func.count()).select_from(Case).where(*conds)) or 0
        rows = list(s.scalars(select(Case).where(*conds).order_by(Case.id.desc()).limit(limit).offset(offset)))
        return _views(s, rows), total


def add_event(db: Database, case_id: int, event_id: int, by: str) -> CaseView:
    """Add a confirmed event; refuses unconfirmed ones, duplicates and closed cases."""
    with db.write_transaction() as s:
        case = _open_case(s, case_id)
        if s.get(Event, event_id) is None:
            raise NotFound(f"no event with id {event_id}")
        decision = latest_decision(s, event_id)
        if decision != "confirm":
            state = "pending review" if decision is None else "dismissed"
            raise Conflict(f"event {event_id} is {state}; only confirmed events can be added to a case")
        if s.get(CaseEvent, (case_id, event_id)) is not None:
            raise Conflict(f"event {event_id} is already in case {case_id}")
        link = CaseEvent(case_id=case_id, event_id=event_id, added_by=by, added_at=utcnow())
        s.add(link)
        ledger.record(s, "case.add_event", link)
        return _views(s, [case])[0]


def add_note(db: Database, case_id: int, text: str, by: str) -> NoteView:
    with db.write_transaction() as s:
        n = _note(s, _open_case(s, case_id), text, by)
        return NoteView(n.id, n.case_id, n.text, n.written_by, n.written_at)


def close_case(db: Database, case_id: int, by: str, note: str | None = None) -> CaseView:
    with db.write_transaction() as s:
        case = _open_case(s, case_id)
        if note is not None and note.strip():
            _note(s, case, note, by)
        case.status, case.closed_by, case.closed_at = "closed", by, utcnow()
        ledger.record(s, "case.close", case)
        return _views(s, [case])[0]
