"""The JSON forms of an event: the CLI's (`epatrol events --json`) and the API's."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from epatrol.common.times import to_local
from epatrol.evidence.recording.paths import resolve
from epatrol.evidence.review.decisions import ReviewInfo, ReviewView
from epatrol.evidence.store.db import EventView


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _facts(ev: EventView) -> dict[str, Any]:
    """What every form of an event says: who, where, what, which model, which hashes."""
    return {
        "id": ev.id,
        "camera": ev.camera_id,
        "camera_name": ev.camera_name,
        "site": ev.site,
        "violation": ev.violation,
        "zone": ev.zone,
        "started_at": _iso(ev.started_at),
        "alerted_at": _iso(ev.alerted_at),
        "ended_at": _iso(ev.ended_at),
        "end_reason": ev.end_reason,
        "clip_sha256": ev.clip_sha256,
        "clip_state": ev.clip_state,
        "snapshot_sha256": ev.snapshot_sha256,
        "model": ev.model_name,
        "model_sha256": ev.model_sha256,
        "detections": ev.detections,
        "details": ev.details,
    }


def event_record(ev: EventView, storage_root: Path) -> dict[str, Any]:
    """The CLI's form: times in ISO 8601 UTC, evidence paths absolute."""

    def absolute(rel: str | None) -> str | None:
        return str(resolve(storage_root, rel)) if rel else None

    return {**_facts(ev), "clip": absolute(ev.clip), "snapshot": absolute(ev.snapshot)}


def review_json(r: ReviewView | None, zone: tzinfo | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "id": r.id,
        "decision": r.decision,
        "reason": r.reason,
        "note": r.note,
        "by": r.by,
        "at": _iso(r.at),
        "at_local": to_local(r.at, zone),
    }


def api_record(ev: EventView, info: ReviewInfo, zone: tzinfo | None) -> dict[str, Any]:
    """The API's form: storage-relative paths plus the URLs that serve them, local times
    beside the UTC ones, and the review state, newest decision and cases."""
    base = f"/api/events/{ev.id}"
    return {
        **_facts(ev),
        "started_at_local": to_local(ev.started_at, zone),
        "alerted_at_local": to_local(ev.alerted_at, zone),
        "ended_at_local": to_local(ev.ended_at, zone),
        "clip": ev.clip,
        "clip_url": f"{base}/clip" if ev.clip else None,
        "snapshot": ev.snapshot,
        "snapshot_url": f"{base}/snapshot" if ev.snapshot else None,
        "review_state": info.state,
        "review": review_json(info.latest, zone),
        "case_ids": list(info.case_ids),
    }
