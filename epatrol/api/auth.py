"""Who is asking: the app's context, sign-in by bearer token or session cookie, and roles.

Every /api route except login takes one of these dependencies. A request without a usable
token gets 401; a signed-in user whose role is too low gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from epatrol.common.errors import with_article
from epatrol.common.http import client_of, utc  # noqa: F401  (the routers take them from here)
from epatrol.config import Config
from epatrol.evidence.review import users
from epatrol.evidence.store.db import Database

SESSION_COOKIE = "epatrol_session"

_bearer = HTTPBearer(
    auto_error=False, scheme_name="token", description="`Authorization: Bearer <token>` with the token from POST /api/auth/login."
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="session",
    description="The HttpOnly, SameSite=Strict cookie set by POST /api/auth/login (lets <video src> stream clips).",
)


@dataclass(frozen=True)
class ApiContext:
    cfg: Config
    db: Database
    storage_root: Path
    zone: tzinfo | None  # None: the box's zone
    signing_key: Ed25519PrivateKey | None
    health: Any = None  # epatrol.health.HealthBoard when the API runs beside the cameras
    reload: Callable[[], None] | None = None  # asks the running patrol to re-read its config


def context(request: Request) -> ApiContext:
    return request.app.state.epatrol


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: str
    token: str


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def signed_in(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    cookie: Annotated[str | None, Security(_cookie)],
) -> Principal:
    token = bearer.credentials if bearer is not None else cookie
    if not token:
        raise _unauthorized("sign in first: send 'Authorization: Bearer <token>' or the session cookie from POST /api/auth/login")
    user = users.user_for_token(context(request).db, token)
    if user is None:
        raise _unauthorized("the sign-in has expired or was revoked; sign in again")
    return Principal(user.username, user.role, token)


def require(role: str):
    def dependency(who: Annotated[Principal, Depends(signed_in)]) -> Principal:
        if not users.has_role(who.role, role):
            raise HTTPException(403, f"this needs the {role} role; {who.username} is {with_article(who.role)}")
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


Ctx = Annotated[ApiContext, Depends(context)]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Officer = Annotated[Principal, Depends(require("officer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
SignedIn = Annotated[Principal, Depends(signed_in)]
