"""Operating the running patrol from the API (admins): re-read the configuration."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from epatrol.api.auth import Admin, Ctx, client_of
from epatrol.api.models import ERRORS
from epatrol.evidence.review import audit

router = APIRouter(prefix="/api/system", tags=["system"], responses=ERRORS)


@router.post("/reload", status_code=202, responses={409: {"description": "No patrol runs in this process."}})
def reload_config(ctx: Ctx, who: Admin, request: Request) -> dict:
    """Re-read the configuration file, as SIGHUP does: added cameras start, removed ones stop,
    the rest carry on. Only when the API runs inside `epatrol run --serve`."""
    if ctx.reload is None:
        raise HTTPException(409, "no cameras run in this process (start the API with `epatrol run --serve`)")
    ctx.reload()
    audit.record(ctx.db, "system.reload", who.username, client=client_of(request))
    return {"status": "reload requested"}
