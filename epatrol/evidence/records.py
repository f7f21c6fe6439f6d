"""The JSON form of an event, shared by the CLI (`epatrol events --json`) and the API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from epatrol.evidence.db import EventView
from epatrol.evidence.paths import resolve


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def event_record(ev: EventView, storage_root: Path) -> dict[str, Any]:
    """Times in ISO 8601 UTC; evidence paths absolute."""

    def absolute(rel: str | None) -> str | None:
        return str(resolve(storage_root, rel)) if rel else None

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
        "clip": absolute(ev.clip),
        "clip_sha256": ev.clip_sha256,
        "clip_state": ev.clip_state,
        "snapshot": absolute(ev.snapshot),
        "snapshot_sha256": ev.snapshot_sha256,
        "model": ev.model_name,
        "model_sha256": ev.model_sha256,
        "detections": ev.detections,
        "details": ev.details,
    }
