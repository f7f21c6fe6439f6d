"""The audit log, for admins: sign-ins, clip views and downloads, decisions, exports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from epatrol.api.auth import Admin, Ctx, utc
from epatrol.api.models import ERRORS, AuditPage
from epatrol.common.times import to_local
from epatrol.evidence.review import audit

router = APIRouter(prefix="/api/audit", tags=["audit"], responses=ERRORS)


@router.get("", response_model=AuditPage)
def list_audit(
    ctx: Ctx,
    _: Admin,
    username: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description=f"One of: {', '.join(audit.ACTIONS)}.")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict:
    """Entries newest first."""
    rows, total = audit.entries(
        ctx.db, username=username, action=action, since=utc(since, "since"), until=utc(until, "until"),
        limit=limit, offset=offset,
    )
    items = [
        {
            "id": r.id, "at": r.at.isoformat(), "at_local": to_local(r.at, ctx.zone), "username": r.username,
            "action": r.action, "target": r.target, "detail": r.detail, "client": r.client,
        }
        for r in rows
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
