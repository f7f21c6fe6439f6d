"""Cases: list and read (each role its part), dispatch (派遣), report handled (处置) with a photo,
notify the unit answering for the spot (门前三包)."""

from __future__ import annotations

from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from epatrol.centre import responsibility, views, workflow
from epatrol.centre.accounts import Person
from epatrol.centre.auth import Anyone, Ctx, Dispatcher, Handler, role_in
from epatrol.centre.cases import CASE_STATES, CaseHandling, CentrePhoto
from epatrol.common.errors import NotFound
from epatrol.common.http import MAX_ID

router = APIRouter(prefix="/api", tags=["cases"])
Notifier = Annotated[Person, Depends(role_in("dispatcher", "handler"))]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="Case id.")]


@router.get("/departments")
def departments(ctx: Ctx, _who: Anyone) -> dict:
    """The configured departments and who answers for each violation; ``default``: a
    district-defined violation without a rule here (led by its event's department, else this)."""
    wf = ctx.workflow
    return {
        "departments": [{"code": k, "name": d.name, "name_en": d.name_en} for k, d in wf.departments.items()],
        "violations": {v: {"departments": wf.violations.of(v).departments(), "deadline_s": wf.violations.of(v).deadline_s}
                       for v in wf.violations.names()},
        "default": {"departments": wf.rule_for("").departments(), "deadline_s": wf.default_rule.deadline_s},
    }


@router.get("/cases")
def list_cases(
    ctx: Ctx, who: Anyone,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(CASE_STATES) + ")$")] = None,
    violation: Annotated[str | None, Query(max_length=64)] = None,
    street: Annotated[str | None, Query(max_length=200)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict:
    """Newest first; only the cases the caller's role may see."""
    with ctx.store.read() as s:
        items, total = views.list_cases(s, who, ctx.workflow, ctx.zone, ctx.clock(), state=state, violation=violation,
                                        street=street, department=department, overdue=overdue, limit=limit, offset=offset)
    return {"items": items, "total": total}


@router.get("/cases/{case_id}")
def get_case(case_id: CaseId, ctx: Ctx, who: Anyone) -> dict:
    with ctx.store.read() as s:
        return views.case_detail(s, who, case_id, ctx.workflow, ctx.zone, ctx.clock())


class DispatchIn(BaseModel):
    departments: list[str] | None = Field(None, max_length=10, description="Default: the violation's configured departments (lead first).")
    note: str | None = Field(None, max_length=2000)
    to_responsible: bool = Field(False, description="The unit answering for the spot (门前三包) puts it right; the departments oversee and report it handled. The unit is notified.")


@router.post("/cases/{case_id}/dispatch")
def dispatch(case_id: CaseId, body: DispatchIn, ctx: Ctx, who: Dispatcher) -> dict:
    now = ctx.clock()
    with ctx.store.write() as s:
        workflow.dispatch(s, ctx.workflow, case_id, who, now, body.departments, body.note, body.to_responsible)
    return get_case(case_id, ctx, who)


class NotifyIn(BaseModel):
    note: str = Field(min_length=1, max_length=responsibility.MAX_NOTE, description="What the unit was told, e.g. 请于今日18时前清理.")


@router.post("/cases/{case_id}/notify-responsible")
def notify_responsible(case_id: CaseId, body: NotifyIn, ctx: Ctx, who: Notifier) -> dict:
    """Record that the caller told the case's responsible unit (门前三包) about it (audited)."""
    now = ctx.clock()
    with ctx.store.write() as s:
        responsibility.notify(s, case_id, who, now, body.note)
    return get_case(case_id, ctx, who)


@router.post("/cases/{case_id}/handle")
async def handle(
    case_id: CaseId, ctx: Ctx, who: Handler,
    note: Annotated[str, Form(min_length=1, max_length=4000)],
    photo: Annotated[UploadFile, File(description="JPEG or PNG of the place after handling.")],
) -> dict:
    """Report the case handled; the box is asked at once to re-inspect the zone."""
    data = await photo.read(ctx.workflow.max_photo_bytes + 1)
    now = ctx.clock()
    with ctx.store.write() as s:
        views.visible_case(s, who, case_id)  # 404 before storing anything for a case not theirs
        sha = workflow.store_photo(s, data, photo.content_type or "", who, now, ctx.workflow.max_photo_bytes)
        workflow.handle(s, case_id, who, now, note, sha)
    with ctx.store.read() as s:
        return views.case_detail(s, who, case_id, ctx.workflow, ctx.zone, ctx.clock())


@router.get("/cases/{case_id}/photos/{sha256}", response_class=Response)
def photo(case_id: CaseId, sha256: str, ctx: Ctx, who: Anyone) -> Response:
    with ctx.store.read() as s:
        views.visible_case(s, who, case_id)
        used = s.scalar(select(CaseHandling.id).where(CaseHandling.case_id == case_id, CaseHandling.photo_sha256 == sha256))
        row = s.get(CentrePhoto, sha256) if used is not None else None
        if row is None:
            raise NotFound(f"case {case_id} has no photo {sha256}")
        return Response(row.data, media_type=row.content_type, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/cases/{case_id}/evidence/{sha256}", response_class=FileResponse)
def evidence(case_id: CaseId, sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], request: Request,
             ctx: Ctx, who: Anyone) -> FileResponse:
    """The event's verified clip or snapshot, from the centre's copy (`evidence_dir`); 404 where none is kept."""
    with ctx.store.read() as s:
        path, media_type = views.evidence_file(s, who, case_id, sha256, request.app.state.evidence_dir)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})
