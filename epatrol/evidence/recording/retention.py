"""Retention: evidence older than the age limit, and the oldest evidence whenever free space is
below the floor, is deleted; evidence an officer confirmed or put in a case never is (legal hold).

Deleting keeps the file's row, marked purged, with a ledger entry: the record that the evidence
existed and why it is gone stays verifiable."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import exists, false, func, select

from epatrol.config import Retention
from epatrol.evidence.recording.paths import resolve
from epatrol.evidence.recording.snapshot import clean_frame_path
from epatrol.evidence.review.decisions import state_condition
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import CaseEvent, Event, EvidenceFile

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    purged_events: list[int] = field(default_factory=list)
    freed_bytes: int = 0
    free_bytes_after: int = 0
    held_skipped: int = 0  # events old enough to go, kept by legal hold


def free_bytes(root: Path) -> int:
    return shutil.disk_usage(root).free


def _held():
    in_case = exists(select(CaseEvent.event_id).where(CaseEvent.event_id == Event.id))
    # An unreviewed event's latest decision is NULL: coalesce, or NOT(held) would be NULL too.
    return in_case | func.coalesce(state_condition("confirmed"), false())


def _candidates(db: Database) -> tuple[list[tuple[int, datetime]], int]:
    """Unheld events that still have files, oldest first; and how many held ones were passed over."""
    has_files = exists(select(EvidenceFile.id).where(EvidenceFile.event_id == Event.id, EvidenceFile.purged_at.is_(None)))
    base = select(Event.id, Event.alerted_at).where(has_files, Event.clip_state != "recording")
    with db.read_session() as s:
        rows = s.execute(base.where(~_held()).order_by(Event.alerted_at, Event.id)).all()
        held = len(s.execute(base.where(_held())).all())
    return [(r[0], r[1]) for r in rows], held


def purge_event(db: Database, root: Path, event_id: int, reason: str) -> int:
    """Mark an event's files purged (ledgered), then delete them; returns bytes freed.
    Refuses held events. Marked first: a crash in between leaves a stray file, never a row
    that claims evidence which is gone without saying so."""
    now = datetime.now(timezone.utc)
    paths: list[Path] = []
    with db.write_transaction() as s:
        if s.scalar(select(Event.id).where(Event.id == event_id, _held())) is not None:
            raise ValueError(f"event {event_id} is under legal hold (confirmed or in a case)")
        for f in s.scalars(select(EvidenceFile).where(EvidenceFile.event_id == event_id, EvidenceFile.purged_at.is_(None))):
            f.purged_at, f.purge_reason = now, reason
            ledger.record(s, "file.purge", f)
            paths.append(resolve(root, f.path))
            if f.kind == "snapshot":  # its clean frame beside it (snapshot.py) goes with it
                paths.append(resolve(root, clean_frame_path(f.path)))
        event = s.get(Event, event_id)
        if event is not None and event.clip_state != "purged":
            event.clip_state = "purged"
            ledger.record(s, "event.clip_state", event)
    freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
            freed += size
        except FileNotFoundError:
            pass
        except OSError as e:
            log.error("retention: %s marked purged but not deleted: %s", path, e)
    return freed


def apply_retention(
    db: Database,
    root: Path,
    policy: Retention,
    now: datetime | None = None,
    free: Callable[[Path], int] = free_bytes,
) -> RetentionReport:
    now = now or datetime.now(timezone.utc)
    report = RetentionReport()
    candidates, report.held_skipped = _candidates(db)
    cutoff = now - timedelta(days=policy.max_age_days) if policy.max_age_days else None
    floor = int(policy.min_free_mb * 2**20)
    for event_id, alerted_at in candidates:
        too_old = cutoff is not None and alerted_at < cutoff
        too_full = free(root) < floor
        if not (too_old or too_full):
            break  # candidates are oldest first: nothing later qualifies by age either
        reason = f"retention: older than {policy.max_age_days:g} days" if too_old else f"retention: free space below {policy.min_free_mb:g} MB"
        report.freed_bytes += purge_event(db, root, event_id, reason)
        report.purged_events.append(event_id)
    report.free_bytes_after = free(root)
    if report.purged_events:
        log.warning("retention purged %d event(s), %.1f MB freed", len(report.purged_events), report.freed_bytes / 2**20)
    if report.free_bytes_after < floor:
        log.error("storage still below its free-space floor (%.0f MB free): only held evidence is left to delete", report.free_bytes_after / 2**20)
    return report
