"""The audit log: who signed in, watched or downloaded which clip, decided, and exported what.

Admins read it through the API. It answers "who has seen this evidence", which the ledger
(evidence changes only) does not; it is append-only by convention, not hash-chained.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import AuditEntry, utcnow

# What the API records (action names are stable: reports filter on them).
ACTIONS = (
    "login", "login.failed", "login.locked", "logout",
    "clip.view", "clip.download", "snapshot.view", "snapshot.download",
    "review.decide", "case.create", "case.add_event", "case.note", "case.close", "case.export",
    "user.create", "user.update", "system.reload",
)


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    username: str | None
    action: str
    target: str | None
    detail: dict[str, Any]
    client: str | None


def record(
    db: Database,
    action: str,
    username: str | None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    client: str | None = None,
) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    with db.write_transaction() as s:
        s.add(AuditEntry(
            at=utcnow(), username=username, action=action, target=target,
            detail=dict(detail or {}), client=client,
        ))


def entries(
    db: Database,
    *,
    username: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditView], int]:
    """Newest first, and the number of entries matching the filters."""
    conds = []
    if username is not None:
        conds.append(AuditEntry.username == username)
    if action is not None:
        conds.append(AuditEntry.action == action)
    if since is not None:
        conds.append(AuditEntry.at >= since)
    if until is not None:
        conds.append(AuditEntry.at < until)
    stmt = select(AuditEntry).where(*conds).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    with db.read_session() as s:
        total = s.scalar(select(func.count()).select_from(AuditEntry).where(*conds)) or 0
        rows = s.scalars(stmt.limit(limit).offset(offset))
        return [AuditView(r.id, r.at, r.username, r.action, r.target, r.detail, r.client) for r in rows], total
