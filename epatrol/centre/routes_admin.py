"""Admins: centre users (roles bound to a department or street) and the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from epatrol.centre import accounts, audit
from epatrol.centre.auth import Admin, Ctx
from epatrol.common.http import MAX_ID

router = APIRouter(prefix="/api", tags=["admin"])


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=1024)  # the policy (common.passwords) says what is refused
    role: str = Field(pattern="^(" + "|".join(accounts.CENTRE_ROLES) + ")$")
    department: str | None = Field(None, max_length=64)
    street: str | None = Field(None, max_length=200)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str | None = Field(None, pattern="^(" + "|".join(accounts.CENTRE_ROLES) + ")$")
    password: str | None = Field(None, min_length=1, max_length=1024)
    disabled: bool | None = None
    department: str | None = Field(None, max_length=64)
    street: str | None = Field(None, max_length=200)


def _out(p: accounts.Person) -> dict:
    return {"username": p.username, "role": p.role, "department": p.department, "street": p.street}


@router.get("/users")
def users(ctx: Ctx, _who: Admin) -> list[dict]:
    return [_out(p) for p in accounts.list_users(ctx.store)]


@router.post("/users", status_code=201)
def create_user(body: UserIn, ctx: Ctx, who: Admin) -> dict:
    now = ctx.clock()
    p = accounts.create_user(ctx.store, body.username, body.password, body.role, departments=ctx.workflow.departments,
                             department=body.department, street=body.street, now=now)
    with ctx.store.write() as s:
        audit.record(s, now, who.username, "user.create", f"user:{p.username}", role=p.role,
                     department=p.department, street=p.street)
    return _out(p)


@router.patch("/users/{username}")
def update_user(username: Annotated[str, Path(max_length=64)], body: UserPatch, ctx: Ctx, who: Admin) -> dict:
    """Change a role (a handler's department, a street chief's street), a password, or disable.
    A new password or `disabled: true` signs the user out everywhere. The last active admin
    cannot be demoted or disabled (409)."""
    now = ctx.clock()
    p = accounts.update_user(ctx.store, username, role=body.role, password=body.password, disabled=body.disabled,
                             department=body.department, street=body.street, departments=ctx.workflow.departments,
                             now=now)
    with ctx.store.write() as s:
        audit.record(s, now, who.username, "user.update", f"user:{p.username}",
                     changed=sorted(body.model_dump(exclude_none=True)), role=p.role)
    return _out(p)


@router.get("/audit")
def audit_trail(ctx: Ctx, _who: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> dict:
    """Newest first; ``payload`` is exactly the JSON that was hashed."""
    with ctx.store.read() as s:
        total = s.scalar(select(func.count()).select_from(audit.CentreAuditEntry)) or 0
        rows = s.scalars(select(audit.CentreAuditEntry).order_by(audit.CentreAuditEntry.seq.desc()).limit(limit).offset(offset))
        items = [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "subject": e.subject,
                  "payload": e.payload, "hash": e.hash} for e in rows]
    return {"items": items, "total": total}


@router.get("/audit/verify")
def audit_verify(ctx: Ctx, _who: Admin) -> dict:
    """Walk the hash chain; ``problems`` names each broken link (empty: intact)."""
    with ctx.store.read() as s:
        check = audit.verify(s)
    return {"entries": check.entries, "head_seq": check.head_seq, "head_hash": check.head_hash, "problems": check.problems}
