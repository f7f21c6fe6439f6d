"""Start-up repair after a crash or `kill -9`: nothing half-written stays registered or on disk.

A clip being recorded when the process died exists only as `*.part` (clips are renamed when
complete, and registered only after that), so it is discarded and its event marked `failed`;
episodes left open are closed saying why. Every step goes through the Database, so the
hash chain records the repair too."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import or_, select

from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import Event

log = logging.getLogger(__name__)

INTERRUPTED = "epatrol interrupted (crash or kill); closed at restart"


@dataclass
class RecoveryReport:
    discarded_parts: list[Path] = field(default_factory=list)
    failed_clips: list[int] = field(default_factory=list)
    closed_events: list[int] = field(default_factory=list)


def recover(db: Database, storage_root: Path) -> RecoveryReport:
    report = RecoveryReport()
    # Clips are written as *.part, snapshots as .<name>.<random>.tmp: both renamed only when complete.
    unfinished = sorted({*storage_root.glob("clips/**/*.part"), *storage_root.glob("snapshots/**/.*.tmp")})
    for part in unfinished:
        try:
            part.unlink()
        except OSError as e:
            log.error("cannot remove unfinished file %s: %s", part, e)
            continue
        report.discarded_parts.append(part)
        log.warning("discarded unfinished file %s", part)
    with db.read_session() as s:
        rows = s.execute(
            select(Event.id, Event.clip_state, Event.ended_at).where(
                or_(Event.clip_state == "recording", Event.ended_at.is_(None))
            )
        ).all()
    now = datetime.now(timezone.utc)
    for event_id, clip_state, ended_at in rows:
        if clip_state == "recording":
            db.set_clip_state(event_id, "failed")
            report.failed_clips.append(event_id)
            log.warning("event %d: its clip was being recorded when epatrol stopped: marked failed", event_id)
        if ended_at is None:
            db.close_event(event_id, now, INTERRUPTED)
            report.closed_events.append(event_id)
            log.warning("event %d: open episode closed (%s)", event_id, INTERRUPTED)
    return report
