"""What each role may see of the cases, and the plain records the API returns.

Dispatchers and admins see every case; a handler sees the cases dispatched to their department;
a street chief sees their street's. A case outside someone's part does not exist for them (404).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from epatrol.centre.accounts import Person
from epatrol.centre.audit import CentreAuditEntry
from epatrol.centre.cases import CaseDepartment, CentreCase, responsible_of
from epatrol.centre.config import CentreWorkflow
from epatrol.centre.records import CentreEvent, CentreEvidence, CentreInspection
from epatrol.common.errors import NotFound
from epatrol.common.times import to_local


def scoped(stmt: Select, who: Person) -> Select:
    """``stmt`` (over CentreCase) limited to the cases ``who`` may see."""
    if who.role in ("dispatcher", "admin"):
        return stmt
    if who.role == "handler":
        mine = select(CaseDepartment.case_id).where(CaseDepartment.department == who.department)
        return stmt.where(CentreCase.id.in_(mine), CentreCase.state != "filed")
    if who.role == "street_chief":
        return stmt.where(CentreCase.street == who.street)
    return stmt.where(false())


def _t(t: datetime | None, zone: tzinfo | None) -> str | None:
    return to_local(t, zone)


def case_record(c: CentreCase, wf: CentreWorkflow, zone: tzinfo | None, now: datetime) -> dict[str, Any]:
    depts = [d.department for d in c.departments]
    return {
        "id": c.id, "state": c.state, "violation": c.violation, "box": c.box_id, "camera": c.camera_id,
        "zone": c.zone, "street": c.street, "grid": c.grid, "event_id": c.event_id,
        "departments": [{"code": d, "name": wf.departments[d].name if d in wf.departments else d,
                         "name_en": wf.departments[d].name_en if d in wf.departments else None, "lead": i == 0}
                        for i, d in enumerate(depts)],
        "suggested_departments": list(wf.rule_for(c.violation, c.lead_department).departments()),
        # 门前三包 and the violation's names, copied from the event when filed (cases.py)
        "violation_label": c.violation_label, "responsible": responsible_of(c),
        "responsible_handles": c.responsible_handles, "responsible_notified_at": _t(c.responsible_notified_at, zone),
        "filed_at": _t(c.filed_at, zone), "dispatched_at": _t(c.dispatched_at, zone), "dispatched_by": c.dispatched_by,
        "due_at": _t(c.due_at, zone), "overdue": c.state == "dispatched" and c.due_at is not None and now >= c.due_at,
        "reminded_at": _t(c.reminded_at, zone), "escalation_level": c.escalation_level,
        "escalated_at": _t(c.escalated_at, zone), "ever_overdue": c.ever_overdue, "handled_at": _t(c.handled_at, zone),
        "reopen_count": c.reopen_count, "closed_at": _t(c.closed_at, zone), "recurrence_of": c.recurrence_of,
    }


def list_cases(s: Session, who: Person, wf: CentreWorkflow, zone: tzinfo | None, now: datetime, *,
               state: str | None = None, violation: str | None = None, street: str | None = None,
               department: str | None = None, overdue: bool | None = None,
               limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    conds = []
    if state is not None:
        conds.append(CentreCase.state == state)
    if violation is not None:
        conds.append(CentreCase.violation == violation)
    if street is not None:
        conds.append(CentreCase.street == street)
    if department is not None:
        conds.append(CentreCase.id.in_(select(CaseDepartment.case_id).where(CaseDepartment.department == department)))
    if overdue is not None:
        late = (CentreCase.state == "dispatched") & (CentreCase.due_at <= now)
        conds.append(late if overdue else ~late)
    base = scoped(select(CentreCase).where(*conds), who)
    total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = s.scalars(base.options(selectinload(CentreCase.departments))
                     .order_by(CentreCase.id.desc()).limit(limit).offset(offset))
    return [case_record(c, wf, zone, now) for c in rows], total


def visible_case(s: Session, who: Person, case_id: int) -> CentreCase:
    stmt = scoped(select(CentreCase).where(CentreCase.id == case_id), who).options(
        selectinload(CentreCase.departments), selectinload(CentreCase.handlings))
    case = s.scalar(stmt)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def case_detail(s: Session, who: Person, case_id: int, wf: CentreWorkflow, zone: tzinfo | None,
                now: datetime) -> dict[str, Any]:
    """The case with its event, evidence, handlings, re-inspections and audit trail."""
    c = visible_case(s, who, case_id)
    ev = s.scalar(select(CentreEvent).options(joinedload(CentreEvent.camera), selectinload(CentreEvent.evidence))
                  .where(CentreEvent.id == c.event_id))
    inspections = s.scalars(select(CentreInspection).where(CentreInspection.case_id == c.id).order_by(CentreInspection.id))
    trail = s.scalars(select(CentreAuditEntry).where(CentreAuditEntry.subject == f"case:{c.id}").order_by(CentreAuditEntry.seq))
    out = case_record(c, wf, zone, now)
    out["event"] = None if ev is None else {
        "box": ev.box_id, "edge_event_id": ev.edge_event_id, "camera_name": ev.camera.name, "site": ev.camera.site,
        "onset": _t(ev.onset, zone), "alert": _t(ev.alert, zone), "ended": _t(ev.ended, zone),
        "model": ev.model_name, "review_state": ev.review_state,
        "evidence": [{"kind": f.kind, "sha256": f.sha256, "size_bytes": f.size_bytes, "state": f.state,
                      "url": f"/api/cases/{c.id}/evidence/{f.sha256}" if f.state == "verified" else None}
                     for f in ev.evidence],
    }
    out["handlings"] = [{"department": h.department, "by": h.handled_by, "at": _t(h.handled_at, zone),
                         "note": h.note, "photo_sha256": h.photo_sha256} for h in c.handlings]
    out["inspections"] = [{"request_id": i.request_id, "state": i.state, "requested_at": _t(i.requested_at, zone),
                           "answered_at": _t(i.answered_at, zone), "observed_at": _t(i.observed_at, zone),
                           "snapshot_sha256": i.snapshot_sha256, "snapshot_state": i.snapshot_state,
                           "closed_case": i.id == c.closing_inspection_id} for i in inspections]
    out["trail"] = [{"seq": e.seq, "at": _t(e.at, zone), "actor": e.actor, "action": e.action, "payload": e.payload, "hash": e.hash}
                    for e in trail]
    return out


MEDIA_TYPES = {"clip": "video/mp4", "snapshot": "image/jpeg"}  # what the boxes write (evidence/recording)


def evidence_file(s: Session, who: Person, case_id: int, sha256: str, directory: Path | None) -> tuple[Path, str]:
    """The verified clip or snapshot ``sha256`` of the case's event, from the centre's own copy
    (``evidence_dir``: the ingest writes every verified file there), and its media type."""
    c = visible_case(s, who, case_id)
    row = s.scalar(select(CentreEvidence).where(CentreEvidence.event_id == c.event_id, CentreEvidence.sha256 == sha256))
    if row is None:
        raise NotFound(f"case {case_id} has no evidence file {sha256}")
    if row.state != "verified":
        raise NotFound(f"evidence file {sha256} of case {case_id} is {row.state}, not verified")
    if directory is None:
        raise NotFound("this centre keeps no copy of evidence files (set evidence_dir in its configuration)")
    root = Path(directory).resolve()
    path = (root / row.object_key).resolve()
    if not path.is_relative_to(root) or not path.is_file():  # a key naming a place outside the copy is never served
        raise NotFound(f"evidence file {sha256} of case {case_id} is not in {root}")
    return path, MEDIA_TYPES.get(row.kind, "application/octet-stream")
