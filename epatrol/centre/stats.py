"""Assessment (考核): per street, grid, department, violation and responsible unit (门前三包, by
the unit's name and business licence: two shops of one name are two units) — counts, time to
dispatch, time to close, overdue, reopened and recurring cases — over the cases filed in a period.

A case counts once under its street, grid and violation, and once under each department it was
dispatched to (the lead and those assisting answer for it together). Times are in seconds:
time to dispatch is filed -> first dispatch; time to close is filed -> closed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone, tzinfo
from statistics import mean
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from epatrol.centre.accounts import Person
from epatrol.centre.cases import CentreCase
from epatrol.centre.views import scoped
from epatrol.common.errors import Invalid

GROUPINGS = ("street", "grid", "department", "violation", "responsible")
UNASSIGNED = "(none)"  # a camera without a street/grid, a case not yet dispatched, a spot nobody answers for


@dataclass(frozen=True, slots=True)
class StatRow:
    key: str
    cases: int
    open: int
    closed: int
    overdue: int  # ever past its deadline
    reopened: int  # re-inspection found it again at least once (回头看)
    recurrences: int  # filed within N days after the same place's case closed
    mean_dispatch_s: float | None
    mean_close_s: float | None
    close_rate: float | None  # closed / cases


def _keys(c: CentreCase, by: str) -> list[str]:
    if by == "department":
        return [d.department for d in c.departments] or [UNASSIGNED]
    if by == "responsible":
        if c.responsible_name is None:
            return [UNASSIGNED]
        return [f"{c.responsible_name} ({c.responsible_licence})" if c.responsible_licence else c.responsible_name]
    value = getattr(c, by)
    return [value if value else UNASSIGNED]


def _row(key: str, cases: list[CentreCase]) -> StatRow:
    dispatch = [(c.dispatched_at - c.filed_at).total_seconds() for c in cases if c.dispatched_at]
    close = [(c.closed_at - c.filed_at).total_seconds() for c in cases if c.closed_at]
    closed = sum(c.state == "closed" for c in cases)
    return StatRow(
        key=key, cases=len(cases), open=len(cases) - closed, closed=closed,
        overdue=sum(c.ever_overdue for c in cases), reopened=sum(c.reopen_count > 0 for c in cases),
        recurrences=sum(c.recurrence_of is not None for c in cases),
        mean_dispatch_s=round(mean(dispatch), 1) if dispatch else None,
        mean_close_s=round(mean(close), 1) if close else None,
        close_rate=round(closed / len(cases), 4) if cases else None,
    )


def cases_in(s: Session, who: Person, since: datetime | None, until: datetime | None) -> list[CentreCase]:
    conds = []
    if since is not None:
        conds.append(CentreCase.filed_at >= since)
    if until is not None:
        conds.append(CentreCase.filed_at < until)
    stmt = scoped(select(CentreCase).where(*conds), who).options(selectinload(CentreCase.departments))
    return list(s.scalars(stmt.order_by(CentreCase.id)))


def group(cases: Iterable[CentreCase], by: str) -> list[StatRow]:
    if by not in GROUPINGS:
        raise Invalid(f"by: must be one of {', '.join(GROUPINGS)}, got {by!r}")
    buckets: dict[str, list[CentreCase]] = {}
    for c in cases:
        for k in _keys(c, by):
            buckets.setdefault(k, []).append(c)
    return sorted((_row(k, v) for k, v in buckets.items()), key=lambda r: (-r.cases, r.key))


def totals(cases: list[CentreCase]) -> StatRow:
    return _row("total", cases)


def month_bounds(month: str, zone: tzinfo | None) -> tuple[datetime, datetime]:
    """``2026-11`` -> [first instant of the month, first of the next) in ``zone``, as UTC."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start = datetime(year, mon, 1)
        end = datetime(year + (mon == 12), mon % 12 + 1, 1)
        local = zone or datetime.now().astimezone().tzinfo
        return start.replace(tzinfo=local).astimezone(timezone.utc), end.replace(tzinfo=local).astimezone(timezone.utc)
    except ValueError:
        raise Invalid(f"month: expected YYYY-MM, got {month!r}") from None
    except OverflowError:  # year 1 or 9999 shifted by the zone leaves the calendar
        raise Invalid(f"month: {month} is out of range") from None


def report(cases: list[CentreCase]) -> dict[str, Any]:
    return {"totals": asdict(totals(cases)), **{f"by_{by}": [asdict(r) for r in group(cases, by)] for by in GROUPINGS}}


COLUMNS = [f.name for f in fields(StatRow)]


def to_csv(rows: list[StatRow], by: str) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([by, *COLUMNS[1:]])
    for r in rows:
        w.writerow([("" if v is None else v) for v in asdict(r).values()])
    return out.getvalue()


def to_xlsx(rep: dict[str, Any], title: str) -> bytes:
    """One sheet per grouping plus the totals (openpyxl, imported only when asked for)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "totals"
    ws.append([title])
    ws.append(COLUMNS)
    ws.append([rep["totals"][c] for c in COLUMNS])
    for by in GROUPINGS:
        sheet = wb.create_sheet(by)
        sheet.append([by, *COLUMNS[1:]])
        for r in rep[f"by_{by}"]:
            sheet.append([r[c] for c in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
