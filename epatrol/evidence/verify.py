"""Integrity check: does every registered evidence file still hash to what was recorded?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from epatrol.evidence.db import Database
from epatrol.evidence.hashing import sha256_file
from epatrol.evidence.paths import resolve

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
