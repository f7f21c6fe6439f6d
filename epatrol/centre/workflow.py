"""The closed loop: 发现 -> 立案 -> 派遣 -> 处置 -> 核查 -> 结案 (and 回头看 when it is not gone).

- 立案 (file): a box's confirmed event becomes a case for its camera's street and grid, with the
  unit answering for the spot (门前三包) when the event names one. A district-defined violation
  without a rule here is led by the department its event names, else the default one.
- 派遣 (dispatch): a dispatcher sends it to the departments configured for its violation
  (or others); the deadline starts. It may also hand it to the responsible unit to put right
  (the departments still report it handled after checking; responsibility.py notifies the unit).
- 处置 (handle): a handler of one of those departments reports it handled with a note and a
  photo; the centre at once asks the box to re-inspect the zone (核查).
- 结案 / 回头看: the box's answer closes the case when the zone is clean (with its verified
  snapshot as evidence), or sends it back to the departments with a new deadline.

Every function takes ``now`` and acts only on the session it is given, so the loop is pure
given a clock: tests drive it with a fake one. ``tick`` is what runs periodically: it files new
cases, reminds, escalates and applies re-inspection answers. Every step is audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from epatrol.centre import audit, records
from epatrol.centre.accounts import Person
from epatrol.centre.cases import (
    PHOTO_TYPES,
    CaseDepartment,
    CaseHandling,
    CentreCase,
    CentrePhoto,
    label_from,
    responsible_from,
    responsible_of,
)
from epatrol.centre.config import CentreWorkflow
from epatrol.centre.records import CentreEvent, CentreInspection
from epatrol.centre.responsibility import record_notice
from epatrol.common.errors import Conflict, Invalid, NotFound, with_article

_TICK_LOCK = 0x65706174 + 1  # a PostgreSQL advisory lock key of its own (migrations use the one before)


@dataclass
class TickReport:
    filed: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    reasked: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.filed, self.reminded, self.escalated, self.closed, self.reopened, self.reasked))


def _subject(case: CentreCase) -> str:
    return f"case:{case.id}"


# -- 立案 ------------------------------------------------------------------------------------


def file_new_cases(s: Session, wf: CentreWorkflow, now: datetime) -> list[int]:
    """A case for every confirmed event that has none yet (oldest first)."""
    stmt = (
        select(CentreEvent)
        .options(joinedload(CentreEvent.camera))
        .where(CentreEvent.review_state == "confirmed", ~exists().where(CentreCase.event_id == CentreEvent.id))
        .order_by(CentreEvent.onset, CentreEvent.id)
    )
    filed = []
    for ev in s.scalars(stmt):
        details = ev.details if isinstance(ev.details, dict) else {}
        lead = details.get("lead_department")  # a district-defined violation's, from the box's config
        rule = wf.rule_for(ev.violation, lead if isinstance(lead, str) else None)
        unit = responsible_from(details) or {}
        earlier = s.scalar(
            select(CentreCase.id)
            .where(CentreCase.camera_ref == ev.camera_ref, CentreCase.zone == ev.zone,
                   CentreCase.violation == ev.violation, CentreCase.state == "closed",
                   CentreCase.closed_at >= now - timedelta(days=wf.recurrence_days))
            .order_by(CentreCase.closed_at.desc())
            .limit(1)
        )
        case = CentreCase(
            event_id=ev.id, box_id=ev.box_id, camera_ref=ev.camera_ref, camera_id=ev.camera_id, zone=ev.zone,
            violation=ev.violation, street=ev.camera.street, grid=ev.camera.grid, state="filed", filed_at=now,
            escalation_level=0, ever_overdue=False, reopen_count=0, recurrence_of=earlier, updated_at=now,
            lead_department=rule.lead, violation_label=label_from(details), responsible_name=unit.get("name"),
            responsible_contact=unit.get("contact"), responsible_licence=unit.get("licence"), responsible_handles=False,
        )
        s.add(case)
        s.flush()
        audit.record(s, now, audit.SYSTEM, "case.file", _subject(case), event_id=ev.id, box=ev.box_id,
                     camera=ev.camera_id, zone=ev.zone, violation=ev.violation, street=case.street,
                     grid=case.grid, recurrence_of=earlier, lead=rule.lead, responsible=responsible_of(case))
        filed.append(case.id)
    return filed


# -- 派遣 ------------------------------------------------------------------------------------


def suggested_departments(wf: CentreWorkflow, violation: str, lead: str | None = None) -> list[str]:
    """The rule's lead and assistants (``lead``: the case's, for a violation without a rule here)."""
    return wf.rule_for(violation, lead).departments()


def dispatch(s: Session, wf: CentreWorkflow, case_id: int, who: Person, now: datetime,
             departments: list[str] | None = None, note: str | None = None,
             to_responsible: bool = False) -> CentreCase:
    """Send a filed case to ``departments`` (default: the violation's lead and assistants).
    ``to_responsible``: the unit answering for the spot (门前三包) is to put it right itself; the
    departments oversee it and report it handled, on the same deadline (and the unit is notified)."""
    if who.role != "dispatcher":
        raise Conflict(f"only a dispatcher dispatches; {who.username} is {with_article(who.role)}")
    case = _case(s, case_id, lock=True, with_departments=True)
    if case.state != "filed":
        raise Conflict(f"case {case_id} is {case.state}, not filed: it was dispatched already")
    if to_responsible and case.responsible_name is None:
        raise Conflict(f"case {case_id} names no responsible unit (its zone has no `responsible` on the box)")
    codes = list(dict.fromkeys(departments or suggested_departments(wf, case.violation, case.lead_department)))
    unknown = [c for c in codes if c not in wf.departments]
    if unknown:
        raise Invalid(f"departments: unknown {', '.join(map(repr, unknown))} (known: {', '.join(sorted(wf.departments))})")
    rule = wf.rule_for(case.violation, case.lead_department)
    case.departments = [CaseDepartment(department=c, position=i) for i, c in enumerate(codes)]
    case.state, case.dispatched_at, case.dispatched_by = "dispatched", now, who.username
    _start_round(case, now, rule.deadline_s)
    case.responsible_handles = to_responsible
    audit.record(s, now, who.username, "case.dispatch", _subject(case), departments=codes,
                 due_at=case.due_at.isoformat(), note=note,
                 **({"to_responsible": responsible_of(case)} if to_responsible else {}))
    if to_responsible:
        record_notice(s, case, who, now, note or "请在期限内整改 put it right by the deadline")
    return case


def _start_round(case: CentreCase, now: datetime, deadline_s: float) -> None:
    case.due_at = now + timedelta(seconds=deadline_s)
    case.reminded_at, case.escalation_level, case.escalated_at = None, 0, None
    case.updated_at = now


# -- 处置 and 核查 ---------------------------------------------------------------------------


def store_photo(s: Session, data: bytes, content_type: str, who: Person, now: datetime, max_bytes: int) -> str:
    """Keep a handling photo (by its SHA-256; the same photo twice is stored once)."""
    magic = PHOTO_TYPES.get(content_type)
    if magic is None:
        raise Invalid(f"photo: must be one of {', '.join(PHOTO_TYPES)}, got {content_type!r}")
    if not data.startswith(magic):
        raise Invalid(f"photo: the bytes are not {with_article(content_type)} image")
    if len(data) > max_bytes:
        raise Invalid(f"photo: {len(data)} bytes is over the limit of {max_bytes}")
    digest = hashlib.sha256(data).hexdigest()
    if s.get(CentrePhoto, digest) is None:
        s.add(CentrePhoto(sha256=digest, content_type=content_type, size_bytes=len(data), data=data,
                          uploaded_by=who.username, uploaded_at=now))
        s.flush()
    return digest


def handle(s: Session, case_id: int, who: Person, now: datetime, note: str, photo_sha256: str) -> CentreCase:
    """The department reports it handled; the box is asked to re-inspect (核查) at once."""
    if who.role != "handler":
        raise Conflict(f"only a department handler reports a case handled; {who.username} is {with_article(who.role)}")
    case = _case(s, case_id, lock=True, with_departments=True)
    if who.department not in {d.department for d in case.departments}:
        raise NotFound(f"no case {case_id}")  # not theirs: do not reveal that it exists
    if case.state != "dispatched":
        raise Conflict(f"case {case_id} is {case.state}: only a dispatched case can be reported handled")
    if not note.strip():
        raise Invalid("note: say what was done")
    if s.get(CentrePhoto, photo_sha256) is None:
        raise Invalid(f"photo: no uploaded photo with SHA-256 {photo_sha256}")
    s.add(CaseHandling(case_id=case.id, department=who.department, handled_by=who.username, handled_at=now,
                       note=note.strip(), photo_sha256=photo_sha256))
    case.handled_at, case.updated_at = now, now
    audit.record(s, now, who.username, "case.handle", _subject(case), department=who.department,
                 note=note.strip(), photo_sha256=photo_sha256)
    _ask_reinspection(s, case, now, actor=who.username)
    return case


def _ask_reinspection(s: Session, case: CentreCase, now: datetime, actor: str) -> None:
    insp = records.request_inspection(s, case.box_id, case.camera_id, case.zone, case.violation, case_id=case.id)
    case.state, case.inspection_id, case.inspection_asked_at, case.updated_at = "reinspecting", insp.id, now, now
    audit.record(s, now, actor, "case.reinspect", _subject(case), inspection=insp.request_id,
                 box=case.box_id, camera=case.camera_id, zone=case.zone)


# -- the periodic tick ----------------------------------------------------------------------


def tick(s: Session, wf: CentreWorkflow, now: datetime) -> TickReport:
    """One pass of everything time or the boxes move along. Idempotent for a given ``now``."""
    if s.get_bind().dialect.name == "postgresql":  # two centre processes: their ticks take turns
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TICK_LOCK})
    report = TickReport(filed=file_new_cases(s, wf, now))
    for case in s.scalars(select(CentreCase).where(CentreCase.state == "dispatched").order_by(CentreCase.id)):
        _remind_and_escalate(s, wf, case, now, report)
    waiting = s.scalars(select(CentreCase).where(CentreCase.state == "reinspecting").order_by(CentreCase.id))
    for case in waiting:
        _apply_inspection(s, wf, case, now, report)
    return report


def _remind_and_escalate(s: Session, wf: CentreWorkflow, case: CentreCase, now: datetime, report: TickReport) -> None:
    rule = wf.rule_for(case.violation, case.lead_department)
    assert case.due_at is not None
    if case.reminded_at is None and now >= case.due_at - timedelta(seconds=rule.remind_before_s) and now < case.due_at:
        case.reminded_at = case.updated_at = now
        audit.record(s, now, audit.SYSTEM, "case.remind", _subject(case), due_at=case.due_at.isoformat())
        report.reminded.append(case.id)
    if now >= case.due_at:
        level = 1 + int((now - case.due_at).total_seconds() // rule.escalate_every_s)
        if level > case.escalation_level:
            case.escalation_level, case.escalated_at, case.ever_overdue, case.updated_at = level, now, True, now
            audit.record(s, now, audit.SYSTEM, "case.escalate", _subject(case), level=level,
                         due_at=case.due_at.isoformat(), to=["dispatcher", "street_chief"])
            report.escalated.append(case.id)


def _apply_inspection(s: Session, wf: CentreWorkflow, case: CentreCase, now: datetime, report: TickReport) -> None:
    insp = s.get(CentreInspection, case.inspection_id) if case.inspection_id is not None else None
    if insp is None or insp.answered_at is None:
        return  # asked, not answered yet (the box re-inspects at its next patrol)
    subject = _subject(case)
    if insp.state == "violating":
        rule = wf.rule_for(case.violation, case.lead_department)
        case.state, case.reopen_count, case.inspection_id = "dispatched", case.reopen_count + 1, None
        _start_round(case, now, rule.deadline_s)
        audit.record(s, now, audit.SYSTEM, "case.reopen", subject, inspection=insp.request_id,
                     observed_at=_iso(insp.observed_at), snapshot_sha256=insp.snapshot_sha256,
                     due_at=case.due_at.isoformat(), round=case.reopen_count + 1)
        report.reopened.append(case.id)
    elif insp.state == "clean" and insp.snapshot_state == "verified":
        case.state, case.closed_at, case.closing_inspection_id, case.updated_at = "closed", now, insp.id, now
        audit.record(s, now, audit.SYSTEM, "case.close", subject, inspection=insp.request_id,
                     observed_at=_iso(insp.observed_at), snapshot_sha256=insp.snapshot_sha256)
        report.closed.append(case.id)
    elif insp.state == "clean" and insp.snapshot_state == "pending":
        return  # closes once the centre has checked the photo's SHA-256
    elif now >= case.inspection_asked_at + timedelta(seconds=wf.reinspect_retry_s):  # our clock, not the box's
        # 'unavailable' (camera offline, zone unseen) or a clean answer without usable evidence.
        why = insp.state if insp.state != "clean" else f"snapshot {insp.snapshot_state or 'missing'}"
        audit.record(s, now, audit.SYSTEM, "case.reinspect_again", subject, previous=insp.request_id, why=why)
        _ask_reinspection(s, case, now, actor=audit.SYSTEM)
        report.reasked.append(case.id)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _case(s: Session, case_id: int, *, lock: bool = False, with_departments: bool = False) -> CentreCase:
    stmt = select(CentreCase).where(CentreCase.id == case_id)
    if with_departments:
        stmt = stmt.options(selectinload(CentreCase.departments))
    if lock:
        stmt = stmt.with_for_update()
    case = s.scalar(stmt)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case
