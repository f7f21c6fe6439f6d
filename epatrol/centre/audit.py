"""The centre's audit trail: every step of every case (who, when, what), hash-chained.

Entries are hashed with the edge ledger's rule (epatrol.common.chain.entry_hash), the actor
and detail forming the payload, so one tool checks both. Appends lock the head row, as on the
edge, so concurrent writers cannot fork the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from epatrol.centre.base import CentreBase
from epatrol.common.chain import GENESIS, canonical, entry_hash
from epatrol.common.times import UTCDateTime

SYSTEM = "system"  # the actor of the periodic tick (filing, reminders, escalation, auto-close)
HEAD_ID = 1


class CentreAuditEntry(CentreBase):
    __tablename__ = "centre_audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(100), index=True)  # "case:12", "user:li"
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON {"actor", "detail"}: what was hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class CentreAuditHead(CentreBase):
    __tablename__ = "centre_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def record(s: Session, at: datetime, actor: str, action: str, subject: str, **detail: Any) -> CentreAuditEntry:
    """Append one step inside the caller's write transaction (it commits with the change)."""
    head = s.execute(select(CentreAuditHead).where(CentreAuditHead.id == HEAD_ID).with_for_update()).scalar_one_or_none()
    if head is None:
        head = CentreAuditHead(id=HEAD_ID, seq=0, hash=GENESIS)
        s.add(head)
        s.flush()
    payload = canonical({"actor": actor, "detail": detail})
    seq = head.seq + 1
    digest = entry_hash(head.hash, seq, at, action, subject, None, payload)
    entry = CentreAuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject,
                             payload=payload, prev_hash=head.hash, hash=digest)
    s.add(entry)
    head.seq, head.hash = seq, digest
    return entry


@dataclass(frozen=True, slots=True)
class AuditCheck:
    entries: int
    head_seq: int
    head_hash: str
    problems: list[str]


def verify(s: Session) -> AuditCheck:
    """Walk the chain from the first entry to the head; name every broken link."""
    problems: list[str] = []
    prev, expected = GENESIS, 1
    for e in s.scalars(select(CentreAuditEntry).order_by(CentreAuditEntry.seq)):
        if e.seq != expected:
            problems.append(f"seq {e.seq}: expected seq {expected} (entries deleted or reordered)")
        elif e.prev_hash != prev:
            problems.append(f"seq {e.seq}: does not link to the entry before it")
        if entry_hash(e.prev_hash, e.seq, e.at, e.action, e.subject, None, e.payload) != e.hash:
            problems.append(f"seq {e.seq}: contents do not match its hash (edited)")
        prev, expected = e.hash, e.seq + 1
    head = s.get(CentreAuditHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (expected - 1, prev):
        problems.append(f"the trail ends at seq {expected - 1} but its head records seq {head_seq} (tail deleted?)")
    return AuditCheck(expected - 1, head_seq, head_hash, problems)
