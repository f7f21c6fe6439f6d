"""Who is asking the centre: its context, sign-in by bearer token or session cookie, roles.

The same scheme as the box's API (epatrol.api.auth): a bearer token, or an HttpOnly,
SameSite=Strict cookie for the page. 401 without a usable sign-in; 403 for a role that has no
part in the request; a case outside someone's part is 404 (views.scoped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from epatrol.centre import accounts
from epatrol.centre.accounts import Person
from epatrol.centre.config import CentreWorkflow
from epatrol.centre.store import CentreStore
from epatrol.common.errors import with_article

SESSION_COOKIE = "epatrol_centre_session"

_bearer = HTTPBearer(auto_error=False, scheme_name="token",
                     description="`Authorization: Bearer <token>` with the token from POST /api/auth/login.")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                       description="The HttpOnly, SameSite=Strict cookie set by POST /api/auth/login.")


@dataclass(frozen=True)
class CentreContext:
    store: CentreStore
    workflow: CentreWorkflow
    zone: tzinfo | None
    clock: Callable[[], datetime]  # aware UTC; tests pass a fake one
    session_ttl_s: float = 8 * 3600


def context(request: Request) -> CentreContext:
    return request.app.state.centre


@dataclass(frozen=True, slots=True)
class Who:
    person: Person
    token: str


def signed_in(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    cookie: Annotated[str | None, Security(_cookie)],
) -> Who:
    token = bearer.credentials if bearer is not None else cookie
    if not token:
        raise HTTPException(401, "sign in first: POST /api/auth/login", headers={"WWW-Authenticate": "Bearer"})
    ctx = context(request)
    person = accounts.person_for_token(ctx.store, token, ctx.clock())
    if person is None:
        raise HTTPException(401, "the sign-in has expired or was revoked; sign in again", headers={"WWW-Authenticate": "Bearer"})
    return Who(person, token)


def role_in(*roles: str):
    def dependency(who: Annotated[Who, Depends(signed_in)]) -> Person:
        if who.person.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}; {who.person.username} is {with_article(who.person.role)}")
        return who.person

    dependency.__name__ = "role_" + "_".join(roles)
    return dependency


Ctx = Annotated[CentreContext, Depends(context)]
SignedIn = Annotated[Who, Depends(signed_in)]
Anyone = Annotated[Person, Depends(role_in(*accounts.CENTRE_ROLES))]
Dispatcher = Annotated[Person, Depends(role_in("dispatcher"))]
Handler = Annotated[Person, Depends(role_in("handler"))]
Admin = Annotated[Person, Depends(role_in("admin"))]
Assessor = Annotated[Person, Depends(role_in("dispatcher", "admin", "street_chief", "handler"))]
