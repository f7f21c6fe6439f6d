"""Start-up repair after a crash, `kill -9` or a power cut: what was recorded up to the cut is
kept and registered; nothing unreadable stays on disk; every event says how it ended.

A clip being recorded when the process died exists as `*.part`: a fragmented mp4 (clip.py)
whose fragments up to the cut play. If it decodes, it is renamed to its final name, hashed and
registered in clip state `partial` (`complete` if the muxer had already finished it), with
`details.partial_clip` saying how many frames and seconds it holds. If nothing decodes it is
discarded and the event marked `failed`. Episodes left open are closed saying why. Every step
goes through the Database and its ledger, so the hash chain records the repair too."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import or_, select

from epatrol.common.hashing import sha256_file
from epatrol.evidence.recording.clip import ClipProbe, probe_clip
from epatrol.evidence.recording.paths import clip_rel_path, publish
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import Event, EvidenceFile, utcnow

log = logging.getLogger(__name__)

INTERRUPTED = "epatrol interrupted (crash or kill); closed at restart"


@dataclass
class RecoveryReport:
    discarded_parts: list[Path] = field(default_factory=list)
    failed_clips: list[int] = field(default_factory=list)
    partial_clips: list[int] = field(default_factory=list)  # cut off, registered with what plays
    completed_clips: list[int] = field(default_factory=list)  # finished but not yet marked complete
    closed_events: list[int] = field(default_factory=list)


def recover(db: Database, storage_root: Path) -> RecoveryReport:
    report = RecoveryReport()
    with db.read_session() as s:
        rows = s.execute(
            select(Event.id, Event.camera_id, Event.violation, Event.alerted_at, Event.clip_state, Event.ended_at).where(
                or_(Event.clip_state == "recording", Event.ended_at.is_(None))
            )
        ).all()
        recording = [r.id for r in rows if r.clip_state == "recording"]
        registered = set(s.scalars(
            select(EvidenceFile.event_id).where(EvidenceFile.kind == "clip", EvidenceFile.event_id.in_(recording))
        )) if recording else set()
    keep: set[Path] = set()
    for r in rows:
        if r.clip_state != "recording":
            continue
        if r.id in registered:  # the stop came between registering the clip and marking it complete
            db.set_clip_state(r.id, "complete")
            report.completed_clips.append(r.id)
            log.warning("event %d: its clip was registered before epatrol stopped: marked complete", r.id)
            continue
        try:
            rel = clip_rel_path(r.camera_id, r.id, r.violation, r.alerted_at)
            state = _salvage(db, storage_root, r.id, rel, r.alerted_at)
        except ValueError:  # a row no clip path can be made from: the recorder never wrote one
            state = None
        except OSError as e:  # storage trouble: leave the clip and the event as they are, try at the next start
            log.error("event %d: its clip could not be recovered now (kept for the next start): %s", r.id, e)
            keep.add(storage_root / f"{rel}.part")
            continue
        if state == "partial":
            report.partial_clips.append(r.id)
        elif state == "complete":
            report.completed_clips.append(r.id)
        else:
            db.set_clip_state(r.id, "failed")
            report.failed_clips.append(r.id)
            log.warning("event %d: its clip was being recorded when epatrol stopped and nothing of it plays: marked failed", r.id)
    _discard_unfinished(storage_root, report, keep)
    now = datetime.now(timezone.utc)
    for r in rows:
        if r.ended_at is None:
            db.close_event(r.id, now, INTERRUPTED)
            report.closed_events.append(r.id)
            log.warning("event %d: open episode closed (%s)", r.id, INTERRUPTED)
    return report


def _discard_unfinished(storage_root: Path, report: RecoveryReport, keep: set[Path]) -> None:
    # Clips are written as *.part, snapshots as .<name>.<random>.tmp: both renamed only when complete.
    unfinished = sorted({*storage_root.glob("clips/**/*.part"), *storage_root.glob("snapshots/**/.*.tmp")} - keep)
    for part in unfinished:
        try:
            part.unlink()
        except OSError as e:
            log.error("cannot remove unfinished file %s: %s", part, e)
            continue
        report.discarded_parts.append(part)
        log.warning("discarded unfinished file %s", part)


def _salvage(db: Database, storage_root: Path, event_id: int, rel: str, alerted_at: datetime) -> str | None:
    """Register what the event's clip file holds; its clip state, or None if nothing plays."""
    final = storage_root / rel
    part = final.with_name(final.name + ".part")
    # A clip under its final name but unregistered: the stop came between the rename and the database.
    found = final if final.is_file() else part if part.is_file() else None
    if found is None:
        return None
    probe = probe_clip(found)
    if probe is None or probe.frames == 0:
        log.warning("event %d: the clip %s left by the stop does not decode", event_id, found)
        return None
    if found == part:
        publish(part, final)  # fsync'd and renamed: the .part name is for files still being written
    state = "complete" if probe.finished else "partial"
    _register(db, event_id, rel, final, probe, state, alerted_at)
    log.warning(
        "event %d: recovered %s clip %s: %d frames, %.1f s%s", event_id, state, final, probe.frames, probe.seconds,
        f" ({probe.damaged_packets} damaged packet(s) at the cut)" if probe.damaged_packets else "",
    )
    return state


def _register(db: Database, event_id: int, rel: str, path: Path, probe: ClipProbe, state: str, alerted_at: datetime) -> None:
    """The file, the clip state and (for a partial clip) what it holds: one transaction, in the ledger."""
    start = probe.start_utc or alerted_at  # a clip always records its start; the alert is the fallback
    f = EvidenceFile(
        event_id=event_id, kind="clip", path=rel, sha256=sha256_file(path), size_bytes=path.stat().st_size,
        media_start_utc=start, media_end_utc=start + timedelta(seconds=probe.seconds), created_at=utcnow(),
    )
    with db.write_transaction() as s:
        ev = s.get(Event, event_id)
        s.add(f)
        ledger.record(s, "file.add", f)  # the uplink sends files named by file.add entries
        ev.clip_state = state
        if state == "partial":
            ev.details = {**(ev.details or {}), "partial_clip": {
                "frames": probe.frames, "seconds": round(probe.seconds, 3), "damaged_packets": probe.damaged_packets,
                "reason": INTERRUPTED,
            }}
        ledger.record(s, "event.clip_state", ev)
