"""The officers' event search: filters, newest first, one page and the total count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from epatrol.evidence.review.decisions import state_condition
from epatrol.evidence.store.db import Database, EventView, event_view, events_query
from epatrol.evidence.store.schema import Camera, Event


@dataclass(frozen=True, slots=True)
class EventFilter:
    camera: str | None = None
    violation: str | None = None
    site: str | None = None
    zone: str | None = None
    review_state: str | None = None  # pending | confirmed | dismissed
    since: datetime | None = None  # violation onset >= since (aware)
    until: datetime | None = None  # violation onset < until (aware)

    def conditions(self) -> list:
        conds = []
        if self.camera is not None:
            conds.append(Event.camera_id == self.camera)
        if self.violation is not None:
            conds.append(Event.violation == self.violation)
        if self.site is not None:
            conds.append(Event.camera_id.in_(select(Camera.id).where(Camera.site == self.site)))
        if self.zone is not None:
            conds.append(Event.zone == self.zone)
        if self.review_state is not None:
            conds.append(state_condition(self.review_state))
        if self.since is not None:
            conds.append(Event.started_at >= self.since)
        if self.until is not None:
            conds.append(Event.started_at < self.until)
        return conds


def search_events(db: Database, f: EventFilter, limit: int, offset: int) -> tuple[list[EventView], int]:
    """One page of matching events (newest onset first) and how many match in all."""
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must be >= 0")
    conds = f.conditions()
    page = events_query().where(*conds).order_by(Event.started_at.desc(), Event.id.desc()).limit(limit).offset(offset)
    with db.read_session() as s:
        total = s.scalar(select(func.count()).select_from(Event).where(*conds)) or 0
        return [event_view(ev) for ev in s.scalars(page)], total


def camera_counts(db: Database) -> dict[str, tuple[int, int, datetime | None]]:
    """Per camera: events, events still pending review, newest event onset."""
    out: dict[str, tuple[int, int, datetime | None]] = {}
    with db.read_session() as s:
        for cam, n, newest in s.execute(
            select(Event.camera_id, func.count(), func.max(Event.started_at)).group_by(Event.camera_id)
        ):
            out[cam] = (n, 0, newest)
        for cam, n in s.execute(
            select(Event.camera_id, func.count()).where(state_condition("pending")).group_by(Event.camera_id)
        ):
            total, _, newest = out[cam]
            out[cam] = (total, n, newest)
    return out
