"""Centre sign-in: POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from epatrol.centre import accounts, audit
from epatrol.centre.auth import SESSION_COOKIE, Ctx, SignedIn
from epatrol.common.http import client_of

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def _me(p: accounts.Person) -> dict:
    return {"username": p.username, "role": p.role, "department": p.department, "street": p.street}


@router.post("/login")
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict:
    """Check the password; return a bearer token and set it as an HttpOnly session cookie."""
    person = accounts.authenticate(ctx.store, body.username, body.password)
    now = ctx.clock()
    with ctx.store.write() as s:
        audit.record(s, now, body.username if person else "-", "login" if person else "login.failed",
                     f"user:{body.username}", client=client_of(request))
    if person is None:
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    token, expires = accounts.issue_token(ctx.store, person.username, ctx.session_ttl_s, now)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(ctx.session_ttl_s), path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return {"token": token, "expires_at": expires.isoformat(), "user": _me(person)}


@router.post("/logout", status_code=204)
def logout(who: SignedIn, request: Request, ctx: Ctx) -> Response:
    now = ctx.clock()
    accounts.revoke_token(ctx.store, who.token, now)
    with ctx.store.write() as s:
        audit.record(s, now, who.person.username, "logout", f"user:{who.person.username}", client=client_of(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
def me(who: SignedIn) -> dict:
    return _me(who.person)
