"""Assessment (考核): statistics per street, grid, department, violation; CSV, Excel, monthly report.

Each role gets the statistics of the cases it may see (a street chief: their street)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from epatrol.centre import audit, stats
from epatrol.centre.auth import Assessor, Ctx
from epatrol.common.http import utc

router = APIRouter(prefix="/api", tags=["statistics"])
By = Annotated[str, Query(pattern="^(" + "|".join(stats.GROUPINGS) + ")$")]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM in the centre's time zone.")]


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    return utc(since, "since"), utc(until, "until")


@router.get("/stats")
def get_stats(ctx: Ctx, who: Assessor, by: By = "street", since: datetime | None = None, until: datetime | None = None) -> dict:
    """Rows per ``by`` over the cases filed in [since, until) (aware times; both optional)."""
    with ctx.store.read() as s:
        cases = stats.cases_in(s, who, *_period(since, until))
        return {"by": by, "rows": [asdict(r) for r in stats.group(cases, by)], "totals": asdict(stats.totals(cases))}


@router.get("/stats.csv", response_class=Response)
def stats_csv(ctx: Ctx, who: Assessor, by: By = "street", since: datetime | None = None, until: datetime | None = None,
              month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Instead of since/until.")] = None) -> Response:
    period = stats.month_bounds(month, ctx.zone) if month else _period(since, until)
    with ctx.store.read() as s:
        rows = stats.group(stats.cases_in(s, who, *period), by)
    _audit_export(ctx, who.username, f"stats.csv by {by}" + (f" {month}" if month else ""))
    name = f"epatrol-{by}-{month}.csv" if month else f"epatrol-stats-{by}.csv"
    return Response(stats.to_csv(rows, by), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _monthly(ctx, who, month: str) -> dict:
    since, until = stats.month_bounds(month, ctx.zone)
    with ctx.store.read() as s:
        cases = stats.cases_in(s, who, since, until)
        return {"month": month, "since": since.isoformat(), "until": until.isoformat(), **stats.report(cases)}


@router.get("/reports/monthly")
def monthly(ctx: Ctx, who: Assessor, month: Month) -> dict:
    """The month's report: totals and every grouping, over the cases filed that month."""
    return _monthly(ctx, who, month)


@router.get("/reports/monthly.xlsx", response_class=Response)
def monthly_xlsx(ctx: Ctx, who: Assessor, month: Month) -> Response:
    data = stats.to_xlsx(_monthly(ctx, who, month), f"epatrol {month}")
    _audit_export(ctx, who.username, f"monthly.xlsx {month}")
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="epatrol-{month}.xlsx"'})


def _audit_export(ctx, username: str, what: str) -> None:
    with ctx.store.write() as s:
        audit.record(s, ctx.clock(), username, "stats.export", f"user:{username}", what=what)
