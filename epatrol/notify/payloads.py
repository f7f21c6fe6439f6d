"""Payloads for the five kinds, from what the pipeline already has.

    notifier.publish("event.started", event_payload(db.get_event(event_id)))
    notifier.publish("camera.offline", camera_payload(camera.id, camera.name, reason="read timeout"))

Times are ISO 8601 UTC; file paths are relative to the storage root, as in the database."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

_EVENT_FIELDS = (
    "camera_name", "site", "zone", "violation", "started_at", "alerted_at", "ended_at", "end_reason",
    "clip_state", "clip", "clip_sha256", "snapshot", "snapshot_sha256", "model_name", "details",
)


def _iso(v: Any) -> Any:
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).isoformat()
    return v


def event_payload(event: Any, **extra: Any) -> dict[str, Any]:
    """From an EventView (epatrol.evidence.store.db) or anything with its attributes:
    {"event_id", "camera", "camera_name", "site", "zone", "violation", "started_at", "alerted_at",
    "ended_at", "end_reason", "clip_state", "clip", ..., "detections": count, **extra}."""
    out: dict[str, Any] = {"event_id": event.id, "camera": event.camera_id}
    for name in _EVENT_FIELDS:
        if hasattr(event, name):
            out[name] = _iso(getattr(event, name))
    dets = getattr(event, "detections", None)
    if dets is not None:
        out["detections"] = len(dets)
    out.update(extra)
    return out


def camera_payload(camera_id: str, camera_name: str | None = None, *, reason: str | None = None,
                   utc: datetime | None = None, **extra: Any) -> dict[str, Any]:
    """For camera.online / camera.offline: {"camera", "camera_name", "reason", "utc", **extra}."""
    out: dict[str, Any] = {"camera": camera_id, "camera_name": camera_name, "reason": reason,
                           "utc": _iso(utc or datetime.now(timezone.utc))}
    out.update(extra)
    return out
