"""The hash-chained ledger: every evidence-changing write leaves an entry that covers the one
before it, so an edited, deleted, inserted or reordered entry breaks the chain.

Entry ``n`` is hashed as::

    sha256( prev_hash + "\\n" + header + "\\n" + payload )

where ``prev_hash`` is entry ``n-1``'s hash (64 zeros for the first), ``header`` is the
canonical JSON of ``{"seq", "at", "kind", "subject", "event_id"}`` and ``payload`` the
canonical JSON of the row's state (states.py). Canonical JSON: keys sorted, no spaces, ASCII
only. That is all an auditor needs to recompute the chain with any SHA-256 tool.

Appends happen inside the caller's write transaction and lock the one ``ledger_head`` row
(SELECT ... FOR UPDATE on PostgreSQL; SQLite writers already hold the database write lock
from BEGIN IMMEDIATE), so two writers can never both extend the same head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from epatrol.common.chain import GENESIS, canonical, entry_hash
from epatrol.evidence.store.schema import LedgerEntry, LedgerHead, utcnow
from epatrol.evidence.store.states import event_id_of, state_of, subject_of

HEAD_ID = 1


def ensure_head(read: sessionmaker[Session], write: sessionmaker[Session]) -> None:
    """Create the head row of an empty ledger (idempotent, safe when two processes race).
    Looks first without the write lock, so read-only users of a database never take it."""
    with read() as s:
        if s.get(LedgerHead, HEAD_ID) is not None:
            return
    try:
        with write.begin() as s:
            if s.get(LedgerHead, HEAD_ID) is None:
                s.add(LedgerHead(id=HEAD_ID, seq=0, hash=GENESIS))
    except IntegrityError:
        pass  # another process created it first


def record(s: Session, kind: str, row: Any) -> LedgerEntry:
    """Append ``row``'s current state under ``kind`` (e.g. "event.close"). The row must be
    flushed (it needs its id); the entry commits or rolls back with the caller's write."""
    s.flush()
    head = s.execute(select(LedgerHead).where(LedgerHead.id == HEAD_ID).with_for_update()).scalar_one()
    seq, at = head.seq + 1, utcnow()
    subject, event_id, payload = subject_of(row), event_id_of(row), canonical(state_of(row))
    digest = entry_hash(head.hash, seq, at, kind, subject, event_id, payload)
    entry = LedgerEntry(
        seq=seq, at=at, kind=kind, subject=subject, event_id=event_id,
        payload=payload, prev_hash=head.hash, hash=digest,
    )
    s.add(entry)
    head.seq, head.hash = seq, digest
    return entry


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int | None  # the ledger entry concerned, when there is one
    subject: str | None  # e.g. "event:12"
    message: str

    def __str__(self) -> str:
        where = " ".join(x for x in (f"seq {self.seq}" if self.seq else "", self.subject or "") if x)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class ChainWalk:
    problems: list[ChainProblem]
    entries: int
    head_seq: int
    head_hash: str
    latest: dict[str, tuple[int, str]]  # subject -> (seq, payload) of its newest entry


def walk(s: Session) -> ChainWalk:
    """Check every link and hash from the first entry to the head, in one pass.

    After a broken link the walk goes on from the stored hash, so one edited entry is
    reported once instead of breaking everything after it."""
    problems: list[ChainProblem] = []
    latest: dict[str, tuple[int, str]] = {}
    expected_seq, prev, count = 1, GENESIS, 0
    for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)):
        count += 1
        gap = e.seq != expected_seq
        if gap:
            problems.append(ChainProblem(
                e.seq, e.subject,
                f"entries {expected_seq}..{e.seq - 1} are missing (deleted)"
                if e.seq > expected_seq else f"out of order (expected seq {expected_seq})",
            ))
        if e.prev_hash != prev and not gap:
            problems.append(ChainProblem(
                e.seq, e.subject, "does not link to the entry before it: entries were reordered, inserted or replaced"
            ))
        if entry_hash(e.prev_hash, e.seq, e.at, e.kind, e.subject, e.event_id, e.payload) != e.hash:
            problems.append(ChainProblem(e.seq, e.subject, "contents do not match the entry's hash: the entry was edited"))
        latest[e.subject] = (e.seq, e.payload)
        expected_seq, prev = e.seq + 1, e.hash
    last_seq = expected_seq - 1
    head = s.get(LedgerHead, HEAD_ID)
    if head is None:
        problems.append(ChainProblem(None, None, "the ledger head row is missing"))
        return ChainWalk(problems, count, last_seq, prev, latest)
    if head.seq != last_seq or head.hash != prev:
        problems.append(ChainProblem(
            head.seq, None,
            f"the ledger ends at seq {last_seq} but its head records seq {head.seq}: "
            "the newest entries were deleted, or the head was edited",
        ))
    return ChainWalk(problems, count, head.seq, head.hash, latest)


def event_history(s: Session, event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per event, its ledger entries (seq, kind, at, hash), oldest first: the event's chain
    of custody, shown to officers and put into exports."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not event_ids:
        return out
    rows = s.execute(
        select(LedgerEntry.event_id, LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.at, LedgerEntry.hash)
        .where(LedgerEntry.event_id.in_(event_ids))
        .order_by(LedgerEntry.seq)
    )
    for event_id, seq, kind, at, digest in rows:
        out.setdefault(event_id, []).append({"seq": seq, "kind": kind, "at": at.isoformat(), "hash": digest})
    return out
