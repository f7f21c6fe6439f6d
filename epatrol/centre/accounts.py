"""Centre users and sign-in tokens. Roles: dispatcher (立案/派遣, sees every case), handler
(bound to a department: sees and handles that department's dispatched cases), street_chief
(街长, bound to a street: sees that street's cases and statistics), admin (users, audit trail).

Passwords use the edge's scrypt hashing (epatrol.common.passwords) and the edge's username and
password rules; tokens are random and stored only as their SHA-256, as on the edge.
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
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from epatrol.centre.base import CentreBase
from epatrol.common.errors import Conflict, Invalid, NotFound
from epatrol.common.passwords import (
    MAX_TOKEN_CHARS,
    MIN_PASSWORD_CHARS,
    USERNAME_PATTERN,
    check_password,
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


def create_user(store, username: str, password: str, role: str, *, departments: dict | None = None,
                department: str | None = None, street: str | None = None, now: datetime) -> Person:
    """``departments``: the configured codes a handler may be bound to."""
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise Invalid("a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    if role not in CENTRE_ROLES:
        raise Invalid(f"role must be one of {', '.join(CENTRE_ROLES)}, got {role!r}")
    if role == "handler":
        if not department:
            raise Invalid("department: a handler is bound to a department")
        if departments is not None and department not in departments:
            raise Invalid(f"department: unknown department {department!r} (known: {', '.join(sorted(departments))})")
    elif department:
        raise Invalid(f"department: only handlers are bound to a department, not a {role}")
    if role == "street_chief":
        if not street:
            raise Invalid("street: a street chief is bound to a street")
    elif street:
        raise Invalid(f"street: only street chiefs are bound to a street, not a {role}")
    if not MIN_PASSWORD_CHARS <= len(password) <= 1024 or password.lower() == username.lower():
        raise Invalid(f"password: {MIN_PASSWORD_CHARS} to 1024 characters, not the username")
    hashed = hash_password(password)
    with store.write() as s:
        if s.scalar(select(CentreUser.id).where(CentreUser.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists")
        s.add(CentreUser(username=username, role=role, department=department, street=street,
                         password_hash=hashed, disabled=False, created_at=now))
    return Person(username, role, department, street)


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
