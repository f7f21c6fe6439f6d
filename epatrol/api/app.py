"""The HTTP API over the evidence database (read side; review decisions come with the review page)."""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import FileResponse

from epatrol.config import Config
from epatrol.evidence.db import Database
from epatrol.evidence.paths import resolve
from epatrol.evidence.records import event_record


def create_app(cfg: Config, db: Database | None = None) -> FastAPI:
    db = db or Database(cfg.database_url)
    root = cfg.storage.root
    app = FastAPI(title="epatrol", version="0.1.0")

    def _event_or_404(event_id: int):
        ev = db.get_event(event_id)
        if ev is None:
            raise HTTPException(404, f"event {event_id} not found")
        return ev

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "cameras": [c.id for c in cfg.cameras]}

    @app.get("/api/events")
    def events(
        camera: str | None = None,
        violation: str | None = None,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> list[dict]:
        rows = db.list_events(camera_id=camera, violation=violation, limit=limit, offset=offset)
        return [event_record(ev, root) for ev in rows]

    @app.get("/api/events/{event_id}")
    def event(event_id: int) -> dict:
        return event_record(_event_or_404(event_id), root)

    @app.get("/api/events/{event_id}/{kind}")
    def evidence_file(event_id: int, kind: Literal["clip", "snapshot"]) -> FileResponse:
        ev = _event_or_404(event_id)
        rel = ev.clip if kind == "clip" else ev.snapshot
        if not rel:
            raise HTTPException(404, f"event {event_id} has no {kind} (yet)")
        path = resolve(root, rel)
        if not path.is_file():
            raise HTTPException(410, f"the {kind} of event {event_id} is missing from storage")
        media = "video/mp4" if kind == "clip" else "image/jpeg"
        return FileResponse(path, media_type=media, filename=path.name)  # serves HTTP Range requests

    return app
