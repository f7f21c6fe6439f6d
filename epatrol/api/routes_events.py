"""Events: search, one event with its history, its clip and snapshot, and review decisions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import AwareDatetime

from epatrol.api.auth import Ctx, Officer, Principal, Viewer, client_of, utc
from epatrol.api.models import (
    CONFLICT,
    ERRORS,
    MAX_ID,
    NOT_FOUND,
    EventDetail,
    EventPage,
    GroupReviewIn,
    GroupReviewOut,
    Problem,
    ReviewIn,
    ReviewOut,
    ReviewSettings,
)
from epatrol.common.times import utcnow, zone_name
from epatrol.evidence.recording.paths import resolve
from epatrol.evidence.review import audit, decisions
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import EventView
from epatrol.evidence.store.records import api_record, review_json
from epatrol.evidence.store.search import EventFilter, search_events

router = APIRouter(prefix="/api/events", tags=["events"], responses=ERRORS)

EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="Event id.")]
Filter = Annotated[str | None, Query(max_length=200)]


def _event(ctx, event_id: int) -> EventView:
    ev = ctx.db.get_event(event_id)
    if ev is None:
        raise HTTPException(404, f"event {event_id} not found")
    return ev


@router.get("", response_model=EventPage)
def list_events(
    ctx: Ctx,
    _: Viewer,
    camera: Filter = None,
    violation: Filter = None,
    site: Filter = None,
    zone: Filter = None,
    review_state: Literal["pending", "confirmed", "dismissed"] | None = None,
    since: Annotated[AwareDatetime | None, Query(description="Onset at or after (ISO 8601 with offset).")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Onset before (ISO 8601 with offset).")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict:
    """Events newest first (by violation onset), one page at a time, with the total."""
    f = EventFilter(camera, violation, site, zone, review_state, utc(since, "since"), utc(until, "until"))
    views, total = search_events(ctx.db, f, limit, offset)
    infos = decisions.infos(ctx.db, [v.id for v in views])
    items = [api_record(v, infos.get(v.id, decisions.PENDING), ctx.zone) for v in views]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/review-settings", response_model=ReviewSettings)
def review_settings(ctx: Ctx, _: Viewer) -> dict:
    """What the review page needs besides events: the dismissal reasons (`review.dismiss_reasons`)
    and the zone its local times are in."""
    offset = utcnow().astimezone(ctx.zone).isoformat()[-6:]
    reasons = [{"zh": r.zh, "en": r.en, "text": r.text} for r in ctx.cfg.review.dismiss_reasons]
    return {"dismiss_reasons": reasons, "timezone": zone_name(ctx.zone), "utc_offset": offset}


@router.post("/review", status_code=201, response_model=list[GroupReviewOut], responses={**NOT_FOUND, **CONFLICT})
def decide_group(body: GroupReviewIn, request: Request, ctx: Ctx, who: Officer) -> list[dict]:
    """One decision on a group of events of one camera, zone and violation (reviewed together):
    all are stored or none; each is audited and chained like a single decision."""
    done = decisions.decide_group(ctx.db, body.event_ids, body.decision, who.username, reason=body.reason, note=body.note)
    for r in done:
        audit.record(
            ctx.db, "review.decide", who.username, target=f"event:{r.event_id}",
            detail={"decision": r.decision, "review_id": r.id, "group": len(done)}, client=client_of(request),
        )
    return [{**review_json(r, ctx.zone), "event_id": r.event_id} for r in done]


@router.get("/{event_id}", response_model=EventDetail, responses=NOT_FOUND)
def get_event(event_id: EventId, ctx: Ctx, _: Viewer) -> dict:
    """One event with every review decision and its hash-chain entries."""
    ev = _event(ctx, event_id)
    info = decisions.infos(ctx.db, [ev.id])[ev.id]
    with ctx.db.read_session() as s:
        entries = ledger.event_history(s, [ev.id]).get(ev.id, [])
    record = api_record(ev, info, ctx.zone)
    record["reviews"] = [review_json(r, ctx.zone) for r in decisions.history(ctx.db, ev.id)]
    record["ledger"] = entries
    return record


def _serve(ctx, who: Principal, request: Request, event_id: int, kind: str, download: bool) -> FileResponse:
    ev = _event(ctx, event_id)
    rel = ev.clip if kind == "clip" else ev.snapshot
    if not rel:
        raise HTTPException(404, f"event {event_id} has no {kind} (yet)")
    if kind == "frame":  # the clean frame beside the snapshot, named (and hashed) in the details
        rel = ((ev.details or {}).get("snapshot_clean") or {}).get("path")
        if not isinstance(rel, str) or not rel:
            raise HTTPException(404, f"event {event_id} has no clean frame (older events have the snapshot only)")
    try:
        path = resolve(ctx.storage_root, rel)
    except ValueError:
        raise HTTPException(409, f"the stored path of event {event_id}'s {kind} is unsafe; run `epatrol verify`") from None
    if not path.is_file():
        raise HTTPException(410, f"the {kind} of event {event_id} is missing from storage")
    # A <video> fetches a clip in many Range requests while it plays and seeks; one viewing
    # is logged at its first request (no Range, or a range from byte 0), not every chunk.
    first = request.headers.get("range", "bytes=0-").replace(" ", "").startswith("bytes=0-")
    if download or first:
        audited = "snapshot" if kind == "frame" else kind  # the clean frame is a view of the snapshot
        action = f"{audited}.download" if download else f"{audited}.view"
        audit.record(ctx.db, action, who.username, target=f"event:{event_id}", client=client_of(request))
    media = "video/mp4" if kind == "clip" else "image/jpeg"
    return FileResponse(  # serves HTTP Range requests (206) itself
        path, media_type=media, filename=f"event-{event_id}-{path.name}",
        content_disposition_type="attachment" if download else "inline",
    )


_FILE_RESPONSES = {
    **NOT_FOUND,
    206: {"description": "The requested byte range."},
    409: {"model": Problem, "description": "The stored path is unsafe (a tampered row)."},
    410: {"model": Problem, "description": "Registered but missing from storage."},
    416: {"description": "The Range cannot be satisfied."},
}


@router.get("/{event_id}/clip", response_class=FileResponse, responses={
    200: {"content": {"video/mp4": {}}, "description": "The clip (MP4, H.264)."}, **_FILE_RESPONSES,
})
def clip(event_id: EventId, request: Request, ctx: Ctx, who: Viewer, download: bool = False) -> FileResponse:
    """The evidence clip; supports HTTP Range so a browser can seek. `download=true` asks
    the browser to save it. Audited as clip.view or clip.download."""
    return _serve(ctx, who, request, event_id, "clip", download)


@router.get("/{event_id}/snapshot", response_class=FileResponse, responses={
    200: {"content": {"image/jpeg": {}}, "description": "The snapshot (JPEG)."}, **_FILE_RESPONSES,
})
def snapshot(event_id: EventId, request: Request, ctx: Ctx, who: Viewer, download: bool = False) -> FileResponse:
    """The snapshot of the deciding frame, boxes and zone drawn. Audited like clips."""
    return _serve(ctx, who, request, event_id, "snapshot", download)


@router.get("/{event_id}/frame", response_class=FileResponse, responses={
    200: {"content": {"image/jpeg": {}}, "description": "The clean frame (JPEG)."}, **_FILE_RESPONSES,
})
def frame(event_id: EventId, request: Request, ctx: Ctx, who: Viewer) -> FileResponse:
    """The snapshot's frame without drawings (the page draws `detections` and `details.overlay`
    over it). Its SHA-256 is `details.snapshot_clean.sha256`. Audited as a snapshot view."""
    return _serve(ctx, who, request, event_id, "frame", False)


@router.post("/{event_id}/review", status_code=201, response_model=ReviewOut, responses={**NOT_FOUND, **CONFLICT})
def decide(event_id: EventId, body: ReviewIn, request: Request, ctx: Ctx, who: Officer) -> dict:
    """Confirm or dismiss (a reason is required) an event, with an optional note. Stored
    with who and when; a later decision supersedes, the history stays."""
    r = decisions.decide(ctx.db, event_id, body.decision, who.username, reason=body.reason, note=body.note)
    audit.record(
        ctx.db, "review.decide", who.username, target=f"event:{event_id}",
        detail={"decision": r.decision, "review_id": r.id}, client=client_of(request),
    )
    return review_json(r, ctx.zone)
