"""Users, for admins: list, create, change role or password, disable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from epatrol.api.auth import Admin, Ctx, client_of
from epatrol.api.models import CONFLICT, ERRORS, NOT_FOUND, UserIn, UserOut, UserPatch
from epatrol.evidence.review import audit, users
from epatrol.evidence.review.users import UserView

router = APIRouter(prefix="/api/users", tags=["users"], responses=ERRORS)

Username = Annotated[str, Path(max_length=64, description="Username.")]


def _out(u: UserView) -> dict:
    return {"username": u.username, "role": u.role, "disabled": u.disabled, "created_at": u.created_at.isoformat()}


@router.get("", response_model=list[UserOut])
def list_users(ctx: Ctx, _: Admin) -> list[dict]:
    return [_out(u) for u in users.list_users(ctx.db)]


@router.post("", status_code=201, response_model=UserOut, responses=CONFLICT)
def create_user(body: UserIn, request: Request, ctx: Ctx, who: Admin) -> dict:
    """Passwords: 10 to 1024 characters, not the username, not a run, repeat or common password
    (422 naming the rule); stored as scrypt hashes."""
    u = users.create_user(ctx.db, body.username, body.password, body.role)
    audit.record(ctx.db, "user.create", who.username, target=f"user:{u.username}", detail={"role": u.role}, client=client_of(request))
    return _out(u)


@router.get("/{username}", response_model=UserOut, responses=NOT_FOUND)
def get_user(username: Username, ctx: Ctx, _: Admin) -> dict:
    return _out(users.get_user(ctx.db, username))


@router.patch("/{username}", response_model=UserOut, responses={**NOT_FOUND, **CONFLICT})
def update_user(username: Username, body: UserPatch, request: Request, ctx: Ctx, who: Admin) -> dict:
    """A new password or `disabled: true` signs the user out everywhere. The last active
    admin cannot be demoted or disabled (409)."""
    u = users.update_user(ctx.db, username, role=body.role, password=body.password, disabled=body.disabled)
    changed = sorted(k for k, v in body.model_dump(exclude_none=True).items())
    audit.record(ctx.db, "user.update", who.username, target=f"user:{username}", detail={"changed": changed}, client=client_of(request))
    return _out(u)
