"""Centre sign-in: POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me.

Wrong passwords are counted per username and per client address (epatrol.common.throttle, with
the `auth:` settings of centre.yaml): past the limit, sign-ins answer 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from epatrol.centre import accounts, audit
from epatrol.centre.auth import SESSION_COOKIE, Ctx, SignedIn
from epatrol.centre.config import CentreAuth
from epatrol.common.http import client_of
from epatrol.common.throttle import LoginThrottle

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def _me(p: accounts.Person) -> dict:
    return {"username": p.username, "role": p.role, "department": p.department, "street": p.street}


def new_throttle(auth: CentreAuth, clock: Callable[[], datetime]) -> LoginThrottle:
    """A login throttle on the `auth:` settings, timed by the centre's clock (aware UTC)."""
    return LoginThrottle.from_settings(auth, lambda: clock().timestamp())


def throttle_of(request: Request) -> LoginThrottle:
    """The app's throttle, ``app.state.login_throttle`` (create_centre_app sets it from ``cfg.auth``)."""
    return request.app.state.login_throttle


def _audit(ctx, now: datetime, actor: str, action: str, subject: str, client: str | None, **detail) -> None:
    with ctx.store.write() as s:
        audit.record(s, now, actor, action, subject, client=client, **detail)


@router.post("/login", responses={
    401: {"description": "Wrong username or password."},
    429: {"description": "Too many failed sign-ins for this username or from this client; "
                         "try again after the Retry-After header's seconds."},
})
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict:
    """Check the password; return a bearer token and set it as an HttpOnly session cookie.
    After `auth.login_max_failures` wrong passwords for a username (or
    `auth.login_client_max_failures` from one client) within `auth.login_window_s`, sign-ins
    answer 429 for `auth.login_lockout_s`, even with the right password."""
    client = client_of(request)
    throttle = throttle_of(request)
    subject = f"user:{body.username}"
    lock = throttle.locked(body.username, client)
    if lock is not None:
        _audit(ctx, ctx.clock(), "-", "login.failed", subject, client, refused=f"{lock.scope} locked",
               retry_after_s=lock.retry_after_s)
        raise HTTPException(429, lock.message, headers=lock.headers)
    person = accounts.authenticate(ctx.store, body.username, body.password)
    now = ctx.clock()
    if person is None:
        started = throttle.failed(body.username, client)
        with ctx.store.write() as s:
            audit.record(s, now, "-", "login.failed", subject, client=client)
            for lock in started:
                audit.record(s, now, "-", "login.locked", f"{'user' if lock.scope == 'account' else 'client'}:{lock.key}",
                             client=client, scope=lock.scope, failures=lock.failures, lockout_s=lock.retry_after_s,
                             window_s=throttle.window_s)
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(person.username)
    _audit(ctx, now, person.username, "login", subject, client)
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
