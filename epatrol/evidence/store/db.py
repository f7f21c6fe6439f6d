"""The evidence database: cameras, violation events and the files that prove them.

Every public method is one short transaction on its own Session, so a Database can be
shared by the camera threads, the recorder and the API at once. Every write that changes
evidence also appends to the hash-chained ledger (ledger.py) in the same transaction.
The tables live in schema.py; the review, user and audit rules use ``read_session`` and
``write_transaction`` from their own modules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Select, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from epatrol.common.errors import SchemaMismatch  # noqa: F401  (callers catch it from here)
from epatrol.common.sql import make_engine, require_revision
from epatrol.evidence.recording.paths import check_rel_path
from epatrol.evidence.store import ledger

# Re-exported: callers and tests import the tables from here since before schema.py existed.
from epatrol.evidence.store.schema import (  # noqa: F401
    CLIP_STATES,
    EDGE_SCHEMA_REVISION,
    EDGE_VERSION_TABLE,
    FILE_KINDS,
    Base,
    Camera,
    CameraStatus,
    Event,
    EvidenceFile,
    UTCDateTime,
    aware,
    utcnow,
)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_aware = aware  # the old private name


@dataclass(frozen=True, slots=True)
class EventView:
    id: int
    camera_id: str
    camera_name: str
    site: str
    zone: str
    violation: str
    started_at: datetime
    alerted_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    model_name: str
    model_sha256: str
    detections: list[Any]
    details: dict[str, Any]
    clip_state: str
    clip: str | None  # relative to the storage root
    clip_sha256: str | None
    snapshot: str | None
    snapshot_sha256: str | None


@dataclass(frozen=True, slots=True)
class FileView:
    event_id: int
    kind: str
    path: str  # relative to the storage root
    sha256: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class CameraView:
    id: str
    name: str
    site: str
    url: str  # without credentials


def _strip_credentials(url: str) -> str:
    """RTSP URLs often carry user:password; the database is read by the API, so drop them."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=host))


class Database:
    """The evidence store on an SQLAlchemy URL (e.g. ``sqlite:////var/lib/epatrol/epatrol.db``) or engine."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        """Connects only: the schema must be at this epatrol's revision (``SchemaMismatch`` if not);
        ``epatrol.migrations.open_database`` migrates first, as the commands do."""
        self.engine: Engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        require_revision(self.engine, EDGE_VERSION_TABLE, EDGE_SCHEMA_REVISION, "edge")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(epatrol_write=True), expire_on_commit=False
        )
        ledger.ensure_head(self._read, self._write)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_session(self) -> Session:
        """A session for reads (``with db.read_session() as s: ...``)."""
        return self._read()

    def write_transaction(self) -> AbstractContextManager[Session]:
        """One write transaction holding the write lock; commits on success."""
        return self._write.begin()

    # -- writes ---------------------------------------------------------------------------

    def upsert_camera(self, id: str, name: str, site: str, url: str) -> None:
        url = _strip_credentials(url)
        with self._write.begin() as s:
            cam = s.get(Camera, id)
            if cam is None:
                cam = Camera(id=id, name=name, site=site, url=url, created_at=utcnow())
                s.add(cam)
            elif (cam.name, cam.site, cam.url) == (name, site, url):
                return  # restarts re-register every camera; only real changes reach the ledger
            else:
                cam.name, cam.site, cam.url = name, site, url
            ledger.record(s, "camera.upsert", cam)

    def open_event(
        self,
        camera_id: str,
        zone: str,
        violation: str,
        started_at: datetime,
        alerted_at: datetime,
        model_name: str,
        model_sha256: str,
        detections: Sequence[Mapping[str, Any]],
        details: Mapping[str, Any],
    ) -> int:
        ev = Event(
            camera_id=camera_id,
            zone=zone,
            violation=violation,
            started_at=aware(started_at, "started_at"),
            alerted_at=aware(alerted_at, "alerted_at"),
            model_name=model_name,
            model_sha256=model_sha256,
            detections=[dict(r) for r in detections],
            details=dict(details),
            clip_state="recording",
        )
        with self._write.begin() as s:
            s.add(ev)
            ledger.record(s, "event.open", ev)
            return ev.id

    def update_event(
        self,
        event_id: int,
        *,
        details: Mapping[str, Any] | None = None,
        detections: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        with self._write.begin() as s:
            ev = self._event(s, event_id)
            if details is not None:
                ev.details = dict(details)
            if detections is not None:
                ev.detections = [dict(r) for r in detections]
            ledger.record(s, "event.update", ev)

    def close_event(self, event_id: int, ended_at: datetime, end_reason: str) -> None:
        aware(ended_at, "ended_at")
        with self._write.begin() as s:
            ev = self._event(s, event_id)
            ev.ended_at, ev.end_reason = ended_at, end_reason
            ledger.record(s, "event.close", ev)

    def set_clip_state(self, event_id: int, state: str) -> None:
        if state not in CLIP_STATES:
            raise ValueError(f"clip_state must be one of {CLIP_STATES}, got {state!r}")
        with self._write.begin() as s:
            ev = self._event(s, event_id)
            ev.clip_state = state
            ledger.record(s, "event.clip_state", ev)

    def add_file(
        self,
        event_id: int,
        kind: str,
        rel_path: str,
        sha256: str,
        size_bytes: int,
        media_start_utc: datetime,
        media_end_utc: datetime | None = None,
    ) -> int:
        if kind not in FILE_KINDS:
            raise ValueError(f"kind must be one of {FILE_KINDS}, got {kind!r}")
        check_rel_path(rel_path)
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise ValueError(f"sha256 must be 64 lower-case hex digits, got {sha256!r}")
        if size_bytes < 0:
            raise ValueError(f"size_bytes must be >= 0, got {size_bytes}")
        aware(media_start_utc, "media_start_utc")
        if media_end_utc is not None:
            aware(media_end_utc, "media_end_utc")
        f = EvidenceFile(
            event_id=event_id,
            kind=kind,
            path=rel_path,
            sha256=sha256,
            size_bytes=int(size_bytes),
            media_start_utc=media_start_utc,
            media_end_utc=media_end_utc,
            created_at=utcnow(),
        )
        with self._write.begin() as s:
            self._event(s, event_id)  # a clear KeyError rather than a foreign-key error
            s.add(f)
            ledger.record(s, "file.add", f)
            return f.id

    # -- reads ----------------------------------------------------------------------------

    def list_events(
        self,
        camera_id: str | None = None,
        violation: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[EventView]:
        """Newest first (by violation onset). The API's filtered search is in search.py."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be >= 0")
        stmt = events_query().order_by(Event.started_at.desc(), Event.id.desc())
        if camera_id is not None:
            stmt = stmt.where(Event.camera_id == camera_id)
        if violation is not None:
            stmt = stmt.where(Event.violation == violation)
        with self._read() as s:
            return [event_view(ev) for ev in s.scalars(stmt.limit(limit).offset(offset))]

    def get_event(self, event_id: int) -> EventView | None:
        with self._read() as s:
            ev = s.scalars(events_query().where(Event.id == event_id)).one_or_none()
            return None if ev is None else event_view(ev)

    def save_camera_status(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Upsert the live state of cameras (HealthBoard.as_json records); plain rows, no ledger."""
        now = utcnow()
        with self._write.begin() as s:
            for r in records:
                last = r.get("last_sample_utc")
                s.merge(CameraStatus(
                    camera_id=r["camera_id"], state=r["state"], reconnects=r.get("reconnects", 0),
                    last_sample_utc=datetime.fromisoformat(last) if last else None,
                    sample_rate_hz=float(r.get("sample_rate_hz", 0.0)), last_error=r.get("last_error"),
                    detail=dict(r), updated_at=now,
                ))

    def camera_status(self) -> dict[str, dict[str, Any]]:
        """camera id -> the last saved health record, plus its `updated_at`."""
        with self._read() as s:
            return {
                c.camera_id: {**c.detail, "updated_at": c.updated_at.isoformat()}
                for c in s.scalars(select(CameraStatus))
            }

    def list_cameras(self) -> list[CameraView]:
        with self._read() as s:
            return [CameraView(c.id, c.name, c.site, c.url) for c in s.scalars(select(Camera).order_by(Camera.id))]

    def all_files(self) -> list[FileView]:
        """Every file that should be on disk (purged ones are not)."""
        stmt = select(
            EvidenceFile.event_id,
            EvidenceFile.kind,
            EvidenceFile.path,
            EvidenceFile.sha256,
            EvidenceFile.size_bytes,
        ).where(EvidenceFile.purged_at.is_(None)).order_by(EvidenceFile.id)
        with self._read() as s:
            return [FileView(*row) for row in s.execute(stmt)]

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _event(s: Session, event_id: int) -> Event:
        ev = s.get(Event, event_id)
        if ev is None:
            raise KeyError(f"no event with id {event_id}")
        return ev


def events_query() -> Select[tuple[Event]]:
    # Camera joined in the same query; files in one extra IN query for the whole page.
    return select(Event).options(joinedload(Event.camera, innerjoin=True), selectinload(Event.files))


def event_view(ev: Event) -> EventView:
    """The flat view of an event loaded with ``events_query``."""
    # Files are ordered by id, so the newest clip/snapshot wins if one was re-registered.
    latest = {f.kind: f for f in ev.files if f.purged_at is None}
    clip, snap = latest.get("clip"), latest.get("snapshot")
    return EventView(
        id=ev.id,
        camera_id=ev.camera_id,
        camera_name=ev.camera.name,
        site=ev.camera.site,
        zone=ev.zone,
        violation=ev.violation,
        started_at=ev.started_at,
        alerted_at=ev.alerted_at,
        ended_at=ev.ended_at,
        end_reason=ev.end_reason,
        model_name=ev.model_name,
        model_sha256=ev.model_sha256,
        detections=ev.detections,
        details=ev.details,
        clip_state=ev.clip_state,
        clip=clip.path if clip else None,
        clip_sha256=clip.sha256 if clip else None,
        snapshot=snap.path if snap else None,
        snapshot_sha256=snap.sha256 if snap else None,
    )
