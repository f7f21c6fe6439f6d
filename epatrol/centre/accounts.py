"""Centre users and sign-in tokens. Roles: dispatcher (立案/派遣, sees every case), handler
(bound to a department: sees and handles that department's dispatched cases), street_chief
(街长, bound to a street: sees that street's cases and statistics), admin (users, audit trail).

Passwords use the edge's scrypt hashing (epatrol.common.passwords) and the edge's username and
password rules; tokens are random and stored only as their SHA-256, as on the edge. The last
active admin cannot be demoted or disabled.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from epatrol.centre.base import CentreBase
from epatrol.common.errors import Conflict, Invalid, NotFound, with_article
from epatrol.common.passwords import (
    MAX_TOKEN_CHARS,
    USERNAME_PATTERN,
    check_password,
    check_password_policy,
    dummy_hash,
    hash_password,
)
from epatrol.common.times import UTCDateTime

CENTRE_ROLES = ("dispatcher", "handler", "street_chief", "admin")


class CentreUser(CentreBase):
    __tablename__ = "centre_users"
    __table_args__ = (CheckConstraint(f"role IN {CENTRE_ROLES!r}", name="ck_centre_users_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(64))  # handlers
    street: Mapped[str | None] = mapped_column(String(200))  # street chiefs
    password_hash: Mapped[str] = mapped_column(String(300))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CentreToken(CentreBase):
    __tablename__ = "centre_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("centre_users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True, slots=True)
class Person:
    """Who is acting, and what binds them (a department or a street)."""

    username: str
    role: str
    department: str | None = None
    street: str | None = None


def _person(u: CentreUser) -> Person:
    return Person(u.username, u.role, u.department, u.street)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_binding(role: str, department: str | None, street: str | None, departments: dict | None) -> None:
    """A handler is bound to a (known) department, a street chief to a street, nobody else to either."""
    if role not in CENTRE_ROLES:
        raise Invalid(f"role must be one of {', '.join(CENTRE_ROLES)}, got {role!r}")
    if role == "handler":
        if not department:
            raise Invalid("department: a handler is bound to a department")
        if departments is not None and department not in departments:
            raise Invalid(f"department: unknown department {department!r} (known: {', '.join(sorted(departments))})")
    elif department:
        raise Invalid(f"department: only handlers are bound to a department, not {with_article(role)}")
    if role == "street_chief":
        if not street:
            raise Invalid("street: a street chief is bound to a street")
    elif street:
        raise Invalid(f"street: only street chiefs are bound to a street, not {with_article(role)}")


def create_user(store, username: str, password: str, role: str, *, departments: dict | None = None,
                department: str | None = None, street: str | None = None, now: datetime) -> Person:
    """``departments``: the configured codes a handler may be bound to."""
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise Invalid("a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    _check_binding(role, department, street, departments)
    hashed = hash_password(check_password_policy(password, username))
    with store.write() as s:
        if s.scalar(select(CentreUser.id).where(CentreUser.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists")
        s.add(CentreUser(username=username, role=role, department=department, street=street,
                         password_hash=hashed, disabled=False, created_at=now))
    return Person(username, role, department, street)


def update_user(store, username: str, *, role: str | None = None, password: str | None = None,
                disabled: bool | None = None, department: str | None = None, street: str | None = None,
                departments: dict | None = None, now: datetime) -> Person:
    """Change a user's role (with its department or street), password or disabled flag. A new
    password or disabling signs the user out everywhere; the last active admin cannot be demoted
    or disabled. Without a new role, the department or street given replaces the current one; a
    new role keeps the binding only if given again."""
    hashed = hash_password(check_password_policy(password, username)) if password is not None else None
    with store.write() as s:
        user = s.scalar(select(CentreUser).where(CentreUser.username == username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        if role is not None or department is not None or street is not None:
            new_role = role or user.role
            same = new_role == user.role
            new_department = department if department is not None else (user.department if same else None)
            new_street = street if street is not None else (user.street if same else None)
            _check_binding(new_role, new_department, new_street, departments)
        else:
            new_role, new_department, new_street = user.role, user.department, user.street
        if user.role == "admin" and not user.disabled and (new_role != "admin" or disabled is True):
            admins = s.scalar(select(func.count()).select_from(CentreUser)
                              .where(CentreUser.role == "admin", CentreUser.disabled.is_(False)))
            if admins <= 1:
                raise Conflict(f"{username!r} is the last active admin and cannot be demoted or disabled; "
                               "make another admin first")
        user.role, user.department, user.street = new_role, new_department, new_street
        if disabled is not None:
            user.disabled = disabled
        if hashed is not None:
            user.password_hash = hashed
        if hashed is not None or disabled:
            s.execute(update(CentreToken).where(CentreToken.user_id == user.id, CentreToken.revoked_at.is_(None))
                      .values(revoked_at=now))
        return _person(user)


def list_users(store) -> list[Person]:
    with store.read() as s:
        return [_person(u) for u in s.scalars(select(CentreUser).order_by(CentreUser.username))]


def authenticate(store, username: str, password: str) -> Person | None:
    with store.read() as s:
        user = s.scalar(select(CentreUser).where(CentreUser.username == username))
    ok = check_password(password, user.password_hash if user is not None else dummy_hash())
    return _person(user) if user is not None and ok and not user.disabled else None


def issue_token(store, username: str, ttl_s: float, now: datetime) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=ttl_s)
    with store.write() as s:
        user_id = s.scalar(select(CentreUser.id).where(CentreUser.username == username))
        if user_id is None:
            raise NotFound(f"no user named {username!r}")
        s.execute(delete(CentreToken).where(CentreToken.expires_at < now))
        s.add(CentreToken(user_id=user_id, token_sha256=_token_hash(token), created_at=now, expires_at=expires))
    return token, expires


def person_for_token(store, token: str, now: datetime) -> Person | None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    stmt = select(CentreUser).join(CentreToken, CentreToken.user_id == CentreUser.id).where(
        CentreToken.token_sha256 == _token_hash(token), CentreToken.revoked_at.is_(None),
        CentreToken.expires_at > now, CentreUser.disabled.is_(False),
    )
    with store.read() as s:
        user = s.scalar(stmt)
        return None if user is None else _person(user)


def revoke_token(store, token: str, now: datetime) -> None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return
    with store.write() as s:
        s.execute(update(CentreToken).where(CentreToken.token_sha256 == _token_hash(token),
                                            CentreToken.revoked_at.is_(None)).values(revoked_at=now))
