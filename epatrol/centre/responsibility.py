"""门前三包: the unit answering for a case's spot (a shop, a company) is told about the case.

The centre has no outbound channel of its own (its reminders and escalations are entries in the
audit trail that the page shows), so it sends nothing by itself: a dispatcher, or a handler of a
department on the case, tells the unit (by the contact the box's configuration gives) and records
it here. Each notice goes into the case's hash-chained audit trail with who, when, the unit and
the contact used; the case keeps the time of the latest. Dispatching a case to the unit
(workflow.dispatch, to_responsible) records a notice too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from epatrol.centre import audit
from epatrol.centre.accounts import Person
from epatrol.centre.cases import CentreCase, responsible_of
from epatrol.common.errors import Conflict, Invalid, NotFound, with_article

MAX_NOTE = 2000


def record_notice(s: Session, case: CentreCase, who: Person, now: datetime, note: str) -> None:
    """The notice itself, on a case already loaded and checked (in the caller's transaction)."""
    unit = responsible_of(case)
    if unit is None:
        raise Conflict(f"case {case.id} names no responsible unit (its zone has no `responsible` on the box)")
    case.responsible_notified_at = case.updated_at = now
    audit.record(s, now, who.username, "case.notify_responsible", f"case:{case.id}", unit=unit["name"],
                 contact=unit["contact"], licence=unit["licence"], note=note, role=who.role)


def notify(s: Session, case_id: int, who: Person, now: datetime, note: str) -> CentreCase:
    """Record that ``who`` told the case's responsible unit about it (``note``: what was said)."""
    note = (note or "").strip()
    if not note:
        raise Invalid("note: say what the unit was told (e.g. 请于今日18时前清理)")
    if len(note) > MAX_NOTE:
        raise Invalid(f"note: {len(note)} characters is over the limit of {MAX_NOTE}")
    case = s.scalar(select(CentreCase).where(CentreCase.id == case_id).options(selectinload(CentreCase.departments))
                    .with_for_update())
    if case is None:
        raise NotFound(f"no case {case_id}")
    if who.role == "handler":
        if case.state == "filed" or who.department not in {d.department for d in case.departments}:
            raise NotFound(f"no case {case_id}")  # not theirs: do not reveal that it exists
    elif who.role != "dispatcher":
        raise Conflict(f"only a dispatcher or the case's department notifies; {who.username} is {with_article(who.role)}")
    if case.state == "closed":
        raise Conflict(f"case {case_id} is closed: there is nothing left for the unit to do")
    record_notice(s, case, who, now, note)
    return case
