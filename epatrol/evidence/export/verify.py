"""Integrity checks: does every registered evidence file still hash to what was recorded, and
do the evidence rows still agree with the hash-chained ledger?"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from epatrol.common.hashing import sha256_file
from epatrol.evidence.recording.paths import resolve
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.ledger import ChainProblem
from epatrol.evidence.store.schema import Event
from epatrol.evidence.store.states import TRACKED, state_of, subject_of

# 'bad-path': the stored path would leave the storage root (a tampered row); the file is
# not read at all.
Reason = Literal["missing", "changed", "bad-path"]


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path  # absolute (for 'bad-path': root joined with the stored text, unresolved)
    event_id: int
    kind: str
    reason: Reason
    expected: str  # sha256 recorded at write time
    actual: str | None  # sha256 now; None when the file could not be read


def verify_files(db: Database, storage_root: Path) -> list[Problem]:
    """One Problem per bad file, in registration order; an empty list means all is well.

    Every file is re-hashed in full (a size check alone misses a flipped byte)."""
    problems: list[Problem] = []
    for f in db.all_files():
        try:
            path = resolve(storage_root, f.path)
        except ValueError:
            problems.append(
                Problem(Path(storage_root) / f.path, f.event_id, f.kind, "bad-path", f.sha256, None)
            )
            continue
        try:
            actual = sha256_file(path) if path.is_file() else None
        except FileNotFoundError:  # deleted between the check and the read
            actual = None
        if actual is None:
            problems.append(Problem(path, f.event_id, f.kind, "missing", f.sha256, None))
        elif actual != f.sha256:
            problems.append(Problem(path, f.event_id, f.kind, "changed", f.sha256, actual))
    return problems


@dataclass(frozen=True, slots=True)
class LedgerReport:
    problems: list[ChainProblem]
    entries: int
    head_seq: int
    head_hash: str  # worth writing down elsewhere: a later, shorter chain cannot match it


def verify_ledger(db: Database) -> LedgerReport:
    """Walk the hash chain, then hold every evidence row against its newest ledger entry.

    Catches an edited, deleted, inserted or reordered ledger entry (ledger.walk), and an
    edited, deleted or smuggled-in row whose ledger was left alone (the comparison here)."""
    with db.read_session() as s:
        walk = ledger.walk(s)
        problems = list(walk.problems)
        seen: set[str] = set()
        for table in TRACKED:
            for row in s.scalars(select(table).execution_options(yield_per=1000)):
                subject = subject_of(row)
                seen.add(subject)
                problem = _compare(subject, state_of(row), walk.latest.get(subject))
                if problem:
                    problems.append(problem)
    for subject, (seq, _payload) in sorted(walk.latest.items(), key=lambda kv: kv[1][0]):
        if subject not in seen:
            problems.append(ChainProblem(seq, subject, "is in the ledger but its row is gone (deleted)"))
    return LedgerReport(problems, walk.entries, walk.head_seq, walk.head_hash)


def _compare(subject: str, state: dict, entry: tuple[int, str] | None) -> ChainProblem | None:
    if entry is None:
        return ChainProblem(None, subject, "has no ledger entry: the row was written outside epatrol (or before the ledger existed)")
    seq, payload = entry
    current = ledger.canonical(state)
    if current == payload:
        return None
    try:
        recorded = json.loads(payload)
    except ValueError:
        return None  # an unreadable payload fails its hash, already reported by the walk
    now = json.loads(current)
    fields = sorted(k for k in set(now) | set(recorded) if now.get(k) != recorded.get(k))
    return ChainProblem(seq, subject, f"the row differs from its newest ledger entry in: {', '.join(fields)}")


def partial_clips(db: Database) -> list[int]:
    """Events whose clip was cut off by a crash or power cut and registered at the next start
    (clip state `partial`): their files are hashed like any other; listed so nobody mistakes
    the short clip for a fault."""
    with db.read_session() as s:
        return list(s.scalars(select(Event.id).where(Event.clip_state == "partial").order_by(Event.id)))
