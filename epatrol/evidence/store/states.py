"""What the ledger records about each evidence row: its subject name and its full state.

The same functions serve the writers (who append the state in the write's transaction) and
the verifier (who recomputes the state from today's row and compares it with the newest
ledger entry for that subject), so the two can never disagree about what "a row's state" is.
Users, tokens and the audit log are not evidence and are not recorded here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from epatrol.evidence.store.schema import (
    Camera,
    Case,
    CaseEvent,
    CaseNote,
    Event,
    EvidenceFile,
    Review,
)

# The tables whose rows the ledger vouches for, in the order verify walks them.
TRACKED = (Camera, Event, EvidenceFile, Review, Case, CaseEvent, CaseNote)


def _t(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(timezone.utc).isoformat()


def subject_of(row: Any) -> str:
    if isinstance(row, Camera):
        return f"camera:{row.id}"
    if isinstance(row, Event):
        return f"event:{row.id}"
    if isinstance(row, EvidenceFile):
        return f"file:{row.id}"
    if isinstance(row, Review):
        return f"review:{row.id}"
    if isinstance(row, Case):
        return f"case:{row.id}"
    if isinstance(row, CaseEvent):
        return f"case:{row.case_id}/event:{row.event_id}"
    if isinstance(row, CaseNote):
        return f"note:{row.id}"
    raise TypeError(f"the ledger does not track {type(row).__name__} rows")


def event_id_of(row: Any) -> int | None:
    """The event a row belongs to, so an event's whole history can be pulled from the ledger."""
    if isinstance(row, Event):
        return row.id
    if isinstance(row, (EvidenceFile, Review, CaseEvent)):
        return row.event_id
    return None


def state_of(row: Any) -> dict[str, Any]:
    if isinstance(row, Camera):
        return {"id": row.id, "name": row.name, "site": row.site, "url": row.url}
    if isinstance(row, Event):
        return {
            "id": row.id,
            "camera_id": row.camera_id,
            "zone": row.zone,
            "violation": row.violation,
            "started_at": _t(row.started_at),
            "alerted_at": _t(row.alerted_at),
            "ended_at": _t(row.ended_at),
            "end_reason": row.end_reason,
            "model_name": row.model_name,
            "model_sha256": row.model_sha256,
            "detections": row.detections,
            "details": row.details,
            "clip_state": row.clip_state,
        }
    if isinstance(row, EvidenceFile):
        return {
            "id": row.id,
            "event_id": row.event_id,
            "kind": row.kind,
            "path": row.path,
            "sha256": row.sha256,
            "size_bytes": row.size_bytes,
            "media_start_utc": _t(row.media_start_utc),
            "media_end_utc": _t(row.media_end_utc),
            "created_at": _t(row.created_at),
            "purged_at": _t(row.purged_at),
            "purge_reason": row.purge_reason,
        }
    if isinstance(row, Review):
        return {
            "id": row.id,
            "event_id": row.event_id,
            "decision": row.decision,
            "reason": row.reason,
            "note": row.note,
            "decided_by": row.decided_by,
            "decided_at": _t(row.decided_at),
        }
    if isinstance(row, Case):
        return {
            "id": row.id,
            "title": row.title,
            "status": row.status,
            "created_by": row.created_by,
            "created_at": _t(row.created_at),
            "closed_by": row.closed_by,
            "closed_at": _t(row.closed_at),
        }
    if isinstance(row, CaseEvent):
        return {
            "case_id": row.case_id,
            "event_id": row.event_id,
            "added_by": row.added_by,
            "added_at": _t(row.added_at),
        }
    if isinstance(row, CaseNote):
        return {
            "id": row.id,
            "case_id": row.case_id,
            "text": row.text,
            "written_by": row.written_by,
            "written_at": _t(row.written_at),
        }
    raise TypeError(f"the ledger does not track {type(row).__name__} rows")
