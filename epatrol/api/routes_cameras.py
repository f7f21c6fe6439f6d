"""Cameras and their status: configuration, event counts and, beside the cameras, live health
and the newest frame (the review page's live view)."""

from __future__ import annotations

from typing import Annotated

import cv2
from fastapi import APIRouter, HTTPException, Path, Request, Response

from epatrol.api.auth import ApiContext, Ctx, Viewer
from epatrol.api.models import ERRORS, NOT_FOUND, CameraOut, Problem
from epatrol.common.times import to_local, utcnow
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
            "zones": [{"name": z.name, "violations": list(z.violations)} for z in cfg.zones] if cfg else [],
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


LIVE_JPEG_QUALITY = 85
LIVE_STALE_S = 120.0  # a newest frame older than this is not "live": the camera is not patrolling


def _newest_sample(worker):
    """The worker's newest judged sample, read as re-inspection reads it (``zone_view``, under
    the worker's lock), or why there is none."""
    why = f"camera {worker.camera.id} has no zone to judge"
    for zone in worker.camera.zones:
        for violation in zone.violations:
            view = worker.zone_view(violation, zone.name)
            if not isinstance(view, str):
                return view.sample
            why = view
    return why


@router.get("/{camera_id}/live", response_class=Response, responses={
    200: {"content": {"image/jpeg": {}}, "description": "The newest frame the patrol judged (no drawings); "
          "X-Taken-At / X-Taken-At-Local say when it was taken."},
    **NOT_FOUND,
    409: {"model": Problem, "description": "The camera is not patrolling in this process now, or has no recent frame."},
})
def live(camera_id: Annotated[str, Path(max_length=64)], request: Request, ctx: Ctx, _: Viewer) -> Response:
    """The camera's live view on request: its newest judged frame as JPEG. Needs the cameras in
    this process (`epatrol run --serve`); `epatrol serve` alone answers 409 (its state forbids it)."""
    if camera_id not in {c.id for c in ctx.cfg.cameras}:
        raise HTTPException(404, f"camera {camera_id!r} is not configured")
    workers = getattr(request.app.state, "workers", None)
    if workers is None:
        raise HTTPException(409, "the live view needs the cameras running in this process (epatrol run --serve)")
    worker = workers.worker(camera_id)
    if worker is None:
        raise HTTPException(409, f"camera {camera_id} is not running now (disabled, stopped or reconnecting)")
    sample = _newest_sample(worker)
    if isinstance(sample, str):
        raise HTTPException(409, sample)
    age = (utcnow() - sample.utc).total_seconds()
    if age > LIVE_STALE_S:
        raise HTTPException(409, f"camera {camera_id}'s newest frame is {age:.0f} s old: it is not patrolling")
    ok, jpeg = cv2.imencode(".jpg", sample.frame, [cv2.IMWRITE_JPEG_QUALITY, LIVE_JPEG_QUALITY])
    if not ok:
        raise HTTPException(500, f"camera {camera_id}'s frame could not be encoded as JPEG")
    return Response(jpeg.tobytes(), media_type="image/jpeg", headers={
        "Cache-Control": "no-store", "X-Taken-At": sample.utc.isoformat(), "X-Taken-At-Local": to_local(sample.utc, ctx.zone) or "",
    })
