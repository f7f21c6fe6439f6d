"""Cases: group confirmed events, add notes, close, and export the package."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from epatrol.api.auth import ApiContext, Ctx, Officer, Viewer, client_of
from epatrol.api.models import (
    CONFLICT,
    ERRORS,
    MAX_ID,
    NOT_FOUND,
    CaseEventIn,
    CaseIn,
    CaseOut,
    CasePage,
    CloseIn,
    NoteIn,
    NoteOut,
)
from epatrol.common.times import to_local, utcnow
from epatrol.evidence.export.case_export import build_case_export
from epatrol.evidence.review import audit, cases, decisions
from epatrol.evidence.review.cases import CaseView, NoteView
from epatrol.evidence.store.records import api_record

router = APIRouter(prefix="/api/cases", tags=["cases"], responses=ERRORS)

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="Case id.")]


def _note(n: NoteView, ctx: ApiContext) -> dict:
    return {"id": n.id, "text": n.text, "by": n.by, "at": n.at.isoformat(), "at_local": to_local(n.at, ctx.zone)}


def _summary(c: CaseView, ctx: ApiContext) -> dict:
    return {
        "id": c.id,
        "title": c.title,
        "status": c.status,
        "created_by": c.created_by,
        "created_at": c.created_at.isoformat(),
        "created_at_local": to_local(c.created_at, ctx.zone),
        "closed_by": c.closed_by,
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
        "closed_at_local": to_local(c.closed_at, ctx.zone),
        "event_ids": c.event_ids,
        "note_count": len(c.notes),
    }


def _full(c: CaseView, ctx: ApiContext) -> dict:
    views = [v for v in (ctx.db.get_event(eid) for eid in c.event_ids) if v is not None]
    infos = decisions.infos(ctx.db, [v.id for v in views])
    return {
        **_summary(c, ctx),
        "events": [api_record(v, infos.get(v.id, decisions.PENDING), ctx.zone) for v in views],
        "notes": [_note(n, ctx) for n in c.notes],
    }


@router.get("", response_model=CasePage)
def list_cases(
    ctx: Ctx,
    _: Viewer,
    status: Literal["open", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict:
    """Cases newest first."""
    rows, total = cases.list_cases(ctx.db, status, limit, offset)
    return {"items": [_summary(c, ctx) for c in rows], "total": total, "limit": limit, "offset": offset}


@router.post("", status_code=201, response_model=CaseOut)
def create_case(body: CaseIn, request: Request, ctx: Ctx, who: Officer) -> dict:
    """Open a case, optionally with a first note."""
    c = cases.create_case(ctx.db, body.title, who.username, note=body.note)
    audit.record(ctx.db, "case.create", who.username, target=f"case:{c.id}", client=client_of(request))
    return _full(c, ctx)


@router.get("/{case_id}", response_model=CaseOut, responses=NOT_FOUND)
def get_case(case_id: CaseId, ctx: Ctx, _: Viewer) -> dict:
    """The case with its events (full records) and notes."""
    return _full(cases.get_case(ctx.db, case_id), ctx)


@router.post("/{case_id}/events", response_model=CaseOut, responses={**NOT_FOUND, **CONFLICT})
def add_event(case_id: CaseId, body: CaseEventIn, request: Request, ctx: Ctx, who: Officer) -> dict:
    """Add a confirmed event. 409 for an event not confirmed, one already in the case, or a closed case."""
    c = cases.add_event(ctx.db, case_id, body.event_id, who.username)
    audit.record(
        ctx.db, "case.add_event", who.username, target=f"case:{case_id}",
        detail={"event_id": body.event_id}, client=client_of(request),
    )
    return _full(c, ctx)


@router.post("/{case_id}/notes", status_code=201, response_model=NoteOut, responses={**NOT_FOUND, **CONFLICT})
def add_note(case_id: CaseId, body: NoteIn, request: Request, ctx: Ctx, who: Officer) -> dict:
    n = cases.add_note(ctx.db, case_id, body.text, who.username)
    audit.record(ctx.db, "case.note", who.username, target=f"case:{case_id}", detail={"note_id": n.id}, client=client_of(request))
    return _note(n, ctx)


@router.post("/{case_id}/close", response_model=CaseOut, responses={**NOT_FOUND, **CONFLICT})
def close_case(case_id: CaseId, request: Request, ctx: Ctx, who: Officer, body: CloseIn | None = None) -> dict:
    """Close the case (optionally with a closing note); a closed case cannot change."""
    c = cases.close_case(ctx.db, case_id, who.username, note=body.note if body else None)
    audit.record(ctx.db, "case.close", who.username, target=f"case:{case_id}", client=client_of(request))
    return _full(c, ctx)


@router.get("/{case_id}/export", response_class=FileResponse, responses={
    200: {"content": {"application/zip": {}}, "description": "The case package (see epatrol verify-export)."},
    **NOT_FOUND, **CONFLICT,
})
def export_case(case_id: CaseId, request: Request, ctx: Ctx, who: Officer) -> FileResponse:
    """A zip with the clips, snapshots, one JSON record per event, case.json and a manifest
    of SHA-256 hashes, signed with Ed25519 when a signing key is configured. 409 when the
    case has no events, or a clip or snapshot no longer matches its recorded hash."""
    fd, name = tempfile.mkstemp(prefix=f"epatrol-case-{case_id}-", suffix=".zip")
    os.close(fd)
    out = FsPath(name)
    try:
        manifest = build_case_export(
            ctx.db, case_id, ctx.storage_root, out, exported_by=who.username, zone=ctx.zone, signing_key=ctx.signing_key,
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    audit.record(
        ctx.db, "case.export", who.username, target=f"case:{case_id}", client=client_of(request),
        detail={"files": len(manifest["files"]), "signed": manifest["signature"] is not None, "bytes": out.stat().st_size},
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(
        out, media_type="application/zip", filename=f"case-{case_id}-{stamp}.zip",
        background=BackgroundTask(out.unlink, missing_ok=True),
    )
