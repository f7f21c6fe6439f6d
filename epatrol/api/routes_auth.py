"""Sign in and out: POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me.

Wrong passwords are counted per username and per client address (epatrol.common.throttle, with
the `review.login_*` settings): past the limit, sign-ins answer 429 with Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request, Response

from epatrol.api.auth import SESSION_COOKIE, Ctx, SignedIn, client_of
from epatrol.api.models import ERRORS, LoginIn, LoginOut, Me, Problem
from epatrol.common.throttle import LoginThrottle
from epatrol.config.review import Review
from epatrol.evidence.review import audit, users

router = APIRouter(prefix="/api/auth", tags=["auth"])


def new_throttle(review: Review, clock: Callable[[], float] = time.monotonic) -> LoginThrottle:
    """A login throttle on the `review:` settings; ``clock``: seconds (tests pass a fake one)."""
    return LoginThrottle.from_settings(review, clock)


def throttle_of(request: Request) -> LoginThrottle:
    """The app's throttle, ``app.state.login_throttle`` (create_app sets it; a test may set its own)."""
    return request.app.state.login_throttle


@router.post("/login", response_model=LoginOut, responses={
    401: {"model": Problem, "description": "Wrong username or password."},
    429: {"model": Problem, "description": "Too many failed sign-ins for this username or from this client; "
                                           "try again after the Retry-After header's seconds."},
})
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict:
    """Check the password; return a bearer token and also set it as an HttpOnly,
    SameSite=Strict session cookie (so the page's <video src> can stream clips). After
    `review.login_max_failures` wrong passwords for a username (or `login_client_max_failures`
    from one client) within `login_window_s`, sign-ins answer 429 for `login_lockout_s`."""
    client = client_of(request)
    throttle = throttle_of(request)
    lock = throttle.locked(body.username, client)
    if lock is not None:  # not even checked: a right password during the lock is refused too
        audit.record(ctx.db, "login.failed", None, target=body.username, client=client,
                     detail={"refused": f"{lock.scope} locked", "retry_after_s": lock.retry_after_s})
        raise HTTPException(429, lock.message, headers=lock.headers)
    user = users.authenticate(ctx.db, body.username, body.password)
    if user is None:
        started = throttle.failed(body.username, client)
        audit.record(ctx.db, "login.failed", None, target=body.username, client=client)
        for lock in started:
            audit.record(ctx.db, "login.locked", None, target=lock.key, client=client, detail={
                "scope": lock.scope, "failures": lock.failures, "lockout_s": lock.retry_after_s,
                "window_s": ctx.cfg.review.login_window_s,
            })
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(user.username)
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
