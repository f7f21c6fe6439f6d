"""Cameras and their status: configuration, event counts and, beside the cameras, live health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from epatrol.api.auth import ApiContext, Ctx, Viewer
from epatrol.api.models import ERRORS, NOT_FOUND, CameraOut
from epatrol.evidence.store.search import camera_counts

router = APIRouter(prefix="/api/cameras", tags=["cameras"], responses=ERRORS)


def _cameras(ctx: ApiContext) -> list[dict]:
    configured = {c.id: c for c in ctx.cfg.cameras}
    known = {c.id: c for c in ctx.db.list_cameras()}  # every camera that ever recorded
    counts = camera_counts(ctx.db)
    # In-process cameras report live; otherwise the state `epatrol run` last saved (with its age).
    live = {h.camera_id: h.as_json() for h in ctx.health.snapshot()} if ctx.health is not None else ctx.db.camera_status()
    out = []
    for cid in sorted(set(configured) | set(known)):
        cfg, row = configured.get(cid), known.get(cid)
        events, pending, newest = counts.get(cid, (0, 0, None))
        url = cfg.url if cfg else row.url
        out.append({
            "id": cid,
            "name": cfg.name if cfg else row.name,
            "site": cfg.site.value if cfg else row.site,
            "configured": cfg is not None,
            "enabled": bool(cfg and cfg.enabled),
            "source": "rtsp" if url.startswith("rtsp") else ("file" if "://" not in url else "unknown"),
            "zones": [{"name": z.name, "violations": [v.value for v in z.violations]} for z in cfg.zones] if cfg else [],
            "events": events,
            "pending": pending,
            "last_event_at": newest.isoformat() if newest else None,
            "health": live.get(cid),
        })
    return out


@router.get("", response_model=list[CameraOut])
def list_cameras(ctx: Ctx, _: Viewer) -> list[dict]:
    """Configured cameras and any that recorded events before, with counts and live health
    (live when the API runs inside `epatrol run --serve`, else as `epatrol run` last saved it)."""
    return _cameras(ctx)


@router.get("/{camera_id}", response_model=CameraOut, responses=NOT_FOUND)
def get_camera(camera_id: Annotated[str, Path(max_length=64)], ctx: Ctx, _: Viewer) -> dict:
    for cam in _cameras(ctx):
        if cam["id"] == camera_id:
            return cam
    raise HTTPException(404, f"camera {camera_id!r} not found")
