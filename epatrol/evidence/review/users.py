"""Users, roles and sign-in tokens.

Roles are ranked: viewer (read only) < officer (review, cases, export) < admin (users,
cameras, the audit log, and everything an officer may do). Tokens are random, handed out
once, and stored only as their SHA-256, so a copy of the database signs nobody in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from epatrol.common.errors import Conflict, Invalid, NotFound
from epatrol.common.passwords import (
    MAX_TOKEN_CHARS,
    USERNAME_PATTERN,
    check_password,
    check_password_policy,
    dummy_hash,
    hash_password,
)
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import ROLES, AuthToken, User, utcnow

_RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True, slots=True)
class UserView:
    username: str
    role: str
    disabled: bool
    created_at: datetime


def has_role(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (admins may do what officers may, ...)."""
    return _RANK.get(role, -1) >= _RANK[needed]


def _view(u: User) -> UserView:
    return UserView(u.username, u.role, u.disabled, u.created_at)


def _check_role(role: str) -> str:
    if role not in _RANK:
        raise Invalid(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_user(db: Database, username: str, password: str, role: str) -> UserView:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise Invalid("a username is 2-64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
    _check_role(role)
    hashed = hash_password(check_password_policy(password, username))  # outside the write lock: ~0.1 s
    try:
        with db.write_transaction() as s:
            if s.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict(f"user {username!r} already exists")
            user = User(username=username, role=role, password_hash=hashed, disabled=False, created_at=utcnow())
            s.add(user)
            s.flush()
            return _view(user)
    except IntegrityError:  # a concurrent create of the same name (PostgreSQL)
        raise Conflict(f"user {username!r} already exists") from None


def list_users(db: Database) -> list[UserView]:
    with db.read_session() as s:
        return [_view(u) for u in s.scalars(select(User).order_by(User.username))]


def get_user(db: Database, username: str) -> UserView:
    with db.read_session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return _view(user)


def update_user(
    db: Database, username: str, *, role: str | None = None, password: str | None = None, disabled: bool | None = None
) -> UserView:
    """Change a user's role, password or disabled flag. A new password or disabling signs the
    user out everywhere; the last active admin cannot be demoted or disabled."""
    if role is not None:
        _check_role(role)
    hashed = hash_password(check_password_policy(password, username)) if password is not None else None
    with db.write_transaction() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        loses_admin = user.role == "admin" and not user.disabled and (
            (role is not None and role != "admin") or disabled is True
        )
        if loses_admin:
            admins = s.scalar(select(func.count()).select_from(User).where(User.role == "admin", User.disabled.is_(False)))
            if admins <= 1:
                raise Conflict(f"{username!r} is the last active admin and cannot be demoted or disabled; make another admin first")
        if role is not None:
            user.role = role
        if disabled is not None:
            user.disabled = disabled
        if hashed is not None:
            user.password_hash = hashed
        if hashed is not None or disabled:
            s.execute(
                update(AuthToken)
                .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return _view(user)


def authenticate(db: Database, username: str, password: str) -> UserView | None:
    """The user if the password is right and the account enabled, else None (no reason
    given: saying which part was wrong helps whoever is guessing)."""
    with db.read_session() as s:
        user = s.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None else dummy_hash()
        ok = check_password(password, stored)
        if user is None or not ok or user.disabled:
            return None
        return _view(user)


def issue_token(db: Database, username: str, ttl_s: float) -> tuple[str, datetime]:
    """A new bearer token for ``username`` and when it expires."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    with db.write_transaction() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotFound(f"no user named {username!r}")
        s.execute(delete(AuthToken).where(AuthToken.expires_at < now))  # housekeeping
        s.add(AuthToken(user_id=user_id, token_sha256=_token_hash(token), created_at=now, expires_at=expires))
    return token, expires


def user_for_token(db: Database, token: str) -> UserView | None:
    """The signed-in user, or None for an unknown, expired or revoked token or a disabled user."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    stmt = (
        select(User)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(
            AuthToken.token_sha256 == _token_hash(token),
            AuthToken.revoked_at.is_(None),
            AuthToken.expires_at > utcnow(),
            User.disabled.is_(False),
        )
    )
    with db.read_session() as s:
        user = s.scalar(stmt)
        return None if user is None else _view(user)


def revoke_token(db: Database, token: str) -> None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return
    with db.write_transaction() as s:
        s.execute(
            update(AuthToken)
            .where(AuthToken.token_sha256 == _token_hash(token), AuthToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
