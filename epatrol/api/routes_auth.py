"""Sign in and out: POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from epatrol.api.auth import SESSION_COOKIE, Ctx, SignedIn, client_of
from epatrol.api.models import ERRORS, LoginIn, LoginOut, Me, Problem
from epatrol.evidence.review import audit, users

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut, responses={401: {"model": Problem, "description": "Wrong username or password."}})
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict:
    """Check the password; return a bearer token and also set it as an HttpOnly,
    SameSite=Strict session cookie (so the page's <video src> can stream clips)."""
    client = client_of(request)
    user = users.authenticate(ctx.db, body.username, body.password)
    if user is None:
        audit.record(ctx.db, "login.failed", None, target=body.username, client=client)
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    ttl = ctx.cfg.review.session_ttl_s
    token, expires = users.issue_token(ctx.db, user.username, ttl)
    audit.record(ctx.db, "login", user.username, client=client)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(ttl), path="/", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )
    return {"token": token, "expires_at": expires.isoformat(), "user": {"username": user.username, "role": user.role}}


@router.post("/logout", status_code=204, responses=ERRORS)
def logout(who: SignedIn, request: Request, ctx: Ctx) -> Response:
    """Revoke the token this request was made with and clear the cookie."""
    users.revoke_token(ctx.db, who.token)
    audit.record(ctx.db, "logout", who.username, client=client_of(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=Me, responses=ERRORS)
def me(who: SignedIn) -> dict:
    return {"username": who.username, "role": who.role}
