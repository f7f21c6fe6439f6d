"""Turns episode events into evidence: a database row, a snapshot, and a clip cut from the
packet ring (pre-roll) plus live packets until the post-roll, remuxed without re-encoding.

An episode ended by a camera outage and resumed after the reconnect (EpisodeResumed) re-opens
its event: one violation, one event, one alert; `details.resumed` lists each outage it survived.

One CameraRecorder per camera, used from that camera's thread only; the Database is shared.
Storage faults (a full disk, a database that refuses writes) never escape: what could not be
recorded is logged (naming the database and its error) and reported through `on_fault`, and
the next event tries again. A finished clip the database could not register (a server that
went away, its disk full) stays on disk and is registered once the database answers again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from sqlalchemy.exc import SQLAlchemyError

from epatrol.detectors.episodes import (
    EpisodeEvent,
    EpisodeKey,
    EpisodeResumed,
    EpisodeStarted,
    EpisodeUpdated,
)
from epatrol.detectors.zones import ZoneShape
from epatrol.evidence.recording.clip import ClipFile, ClipWriter
from epatrol.evidence.recording.context import EventContext
from epatrol.evidence.recording.paths import clip_rel_path, snapshot_rel_path
from epatrol.evidence.recording.snapshot import write_clean_frame, write_snapshot
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import Event
from epatrol.streams.packets import EncodedPacket, StreamInfo
from epatrol.streams.ring import PacketRing

log = logging.getLogger(__name__)

# How often a finished clip the database refused is offered to it again (from the camera's thread).
REGISTER_RETRY_S = 2.0


@dataclass
class _OpenClip:
    event_id: int
    writer: ClipWriter
    end_time_s: float


@dataclass
class _Unregistered:
    """A finished clip on disk that its event's row does not list yet."""

    event_id: int
    clip: ClipFile
    filed: bool = False  # its file row is in; only the clip state is left


class CameraRecorder:
    def __init__(
        self,
        db: Database,
        storage_root: Path,
        camera_id: str,
        camera_name: str,
        zones: list[ZoneShape],
        pre_s: float,
        post_s: float,
        on_fault: Callable[[str], None] = lambda what: None,
        context: EventContext | None = None,
    ) -> None:
        self.on_fault = on_fault  # "event_dropped" | "clip_failed" | "snapshot_failed"
        self.db = db
        self.root = storage_root
        self.camera_id = camera_id
        self.camera_name = camera_name
        self.zones = zones
        self.pre_s = pre_s
        self.post_s = post_s
        self._event_ids: dict[EpisodeKey, int] = {}
        self._runs_on: dict[EpisodeKey, str] = {}  # what ran the model that raised each open event
        self._event_context = context  # label, lead department, responsible unit (context.py)
        self._context: dict[EpisodeKey, dict[str, Any]] = {}  # fixed when each event was opened
        self._resumable: dict[EpisodeKey, int] = {}  # ended by a camera outage, may go on
        self._clips: list[_OpenClip] = []
        self._unregistered: list[_Unregistered] = []
        self._retry_at = 0.0  # monotonic time of the next registration attempt
        self._info: StreamInfo | None = None
        self.database = db.engine.url.render_as_string(hide_password=True)  # named in every database error

    def on_connected(self, info: StreamInfo) -> None:
        self._info = info

    def on_packet(self, packet: EncodedPacket) -> None:
        for clip in list(self._clips):
            try:
                clip.writer.add(packet)
            except (OSError, av.FFmpegError) as e:  # disk full, muxer refusing a packet
                log.error("event %d: clip abandoned: %s", clip.event_id, e)
                self._clips.remove(clip)
                clip.writer.abort()
                self._clip_failed(clip.event_id)
                continue
            if packet.time_s >= clip.end_time_s:
                self._finish(clip)
        if self._unregistered:
            self._register_pending()

    def on_episode(self, event: EpisodeEvent, ring: PacketRing, model: tuple[str, ...] = ("", "", "")) -> int | None:
        """Record the episode event; returns the database id of the event it belongs to.
        `model` (name, sha256, what ran it) is the detector whose output decided it (model
        provenance; the runtime and precision go in the event's details as `model_runs_on`)."""
        if isinstance(event, EpisodeStarted):
            return self._start(event, ring, model)
        if isinstance(event, EpisodeUpdated):
            event_id = self._event_ids.get(event.key)
            if event_id is not None:
                details = self._with_runtime(event.key, event.details)
                self._write("update", self.db.update_event, event_id, details=details, detections=event.detections.to_records())
            return event_id
        if isinstance(event, EpisodeResumed):
            return self._resume(event)
        event_id = self._event_ids.pop(event.key, None)
        if event_id is not None:
            self._write("close", self.db.close_event, event_id, event.ended, event.reason)
            log.info("event %d ended (%s): %s", event_id, event.reason, event.key)
            if event.resumable:
                self._resumable[event.key] = event_id
        return event_id

    def _with_runtime(self, key, details: dict) -> dict:
        """The judge's details plus the event's context and what ran its model: an update or a
        resumption rewrites details, so both go in every time."""
        runs_on = self._runs_on.get(key)
        details = {**details, **self._context.get(key, {})}
        return {**details, "model_runs_on": runs_on} if runs_on else details

    def _resume(self, event: EpisodeResumed) -> int | None:
        event_id = self._resumable.pop(event.key, None)
        if event_id is None:
            return None  # its start was never recorded (storage fault): nothing to go on with
        if self._write("reopen", self._reopen, event_id, event) is None:
            return None
        self._event_ids[event.key] = event_id
        log.info("event %d resumed after the camera came back: %s", event_id, event.key)
        return event_id

    def _reopen(self, event_id: int, event: EpisodeResumed) -> int:
        with self.db.write_transaction() as s:
            ev = s.get(Event, event_id)
            if ev is None:
                raise KeyError(f"no event with id {event_id}")
            gap = {"ended_at": ev.ended_at.isoformat() if ev.ended_at else None, "reason": ev.end_reason, "resumed_at": event.utc.isoformat()}
            ev.details = {**self._with_runtime(event.key, event.details), "resumed": [*(ev.details or {}).get("resumed", []), gap]}
            ev.detections = event.detections.to_records()
            ev.ended_at = ev.end_reason = None
            ledger.record(s, "event.reopen", ev)
        return event_id

    def _write(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A database write that may fail on a full disk: logged, reported, never raised."""
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as e:
            log.error("camera %s: database %s failed on %s: %s", self.camera_id, what, self.database, _reason(e))
            self.on_fault("db_write_failed")
            return None

    def _clip_failed(self, event_id: int) -> None:
        self.on_fault("clip_failed")
        self._write("clip state", self.db.set_clip_state, event_id, "failed")

    def on_disconnected(self) -> None:
        """The container is about to close: finish every clip with the packets it has."""
        for clip in list(self._clips):
            self._finish(clip)
        self._info = None
        if self._unregistered:
            self._retry_at = 0.0
            self._register_pending()
        for pending in self._unregistered:  # still refused (after a final stop, they stay so): say where they are
            log.error("event %d: clip %s is on disk but not registered: the database %s does not answer", pending.event_id, pending.clip.path, self.database)

    def _start(self, event: EpisodeStarted, ring: PacketRing, model: tuple[str, ...]) -> int | None:
        if len(model) > 2 and model[2]:
            self._runs_on[event.key] = model[2]
        if self._event_context is not None:
            self._context[event.key] = self._event_context(event.key.zone, event.key.violation)
        event_id = self._write(
            "open event",
            self.db.open_event,
            camera_id=self.camera_id,
            zone=event.key.zone,
            violation=event.key.violation,
            started_at=event.onset,
            alerted_at=event.alert,
            model_name=model[0],
            model_sha256=model[1],
            detections=event.detections.to_records(),
            details=self._with_runtime(event.key, event.details),
        )
        if event_id is None:
            log.error("camera %s: %s in zone %s NOT recorded", self.camera_id, event.key.violation, event.key.zone)
            self.on_fault("event_dropped")
            return None
        self._event_ids[event.key] = event_id
        log.info("event %d: %s in zone %s of %s", event_id, event.key.violation, event.key.zone, self.camera_id)
        self._write_snapshot(event_id, event)
        self._start_clip(event_id, event, ring)
        return event_id

    def _write_snapshot(self, event_id: int, event: EpisodeStarted) -> None:
        rel = snapshot_rel_path(self.camera_id, event_id, event.key.violation, event.alert)
        dets = event.detections
        boxes = [(box, label, float(c)) for box, label, c in zip(dets.xyxy, dets.labels, dets.confidence)]
        zones = [(z.name, z.polygon) for z in self.zones if z.name == event.key.zone]
        caption = f"{self.camera_id} {event.alert.strftime('%Y-%m-%d %H:%M:%S')} UTC {event.key.violation}"
        try:
            sha, size = write_snapshot(self.root / rel, event.sample.frame, boxes, zones, caption)
        except OSError as e:
            log.error("event %d: snapshot not written to %s: %s", event_id, self.root / rel, e)
            self.on_fault("snapshot_failed")
            return
        self._write("snapshot", self.db.add_file, event_id, "snapshot", rel, sha, size, event.alert)
        try:  # the clean frame the review page draws over; its hash goes in the details (ledgered)
            clean = write_clean_frame(self.root, rel, event.sample.frame, zones)
        except OSError as e:
            log.error("event %d: clean frame not written beside %s: %s", event_id, self.root / rel, e)
            return
        self._context[event.key] = {**self._context.get(event.key, {}), **clean}  # kept through updates, resumptions
        self._write("snapshot details", self.db.update_event, event_id, details=self._with_runtime(event.key, event.details))

    def _start_clip(self, event_id: int, event: EpisodeStarted, ring: PacketRing) -> None:
        if self._info is None:
            self._clip_failed(event_id)
            return
        alert_s = event.sample.time_s
        preroll = ring.snapshot(since_s=alert_s - self.pre_s)
        rel = clip_rel_path(self.camera_id, event_id, event.key.violation, event.alert)
        try:
            writer = ClipWriter(self.root / rel, self._info, preroll)
        except (OSError, ValueError, av.FFmpegError) as e:
            log.error("event %d: clip not started at %s: %s", event_id, self.root / rel, e)
            self._clip_failed(event_id)
            return
        self._clips.append(_OpenClip(event_id, writer, alert_s + self.post_s))

    def _finish(self, clip: _OpenClip) -> None:
        self._clips.remove(clip)
        try:
            done = clip.writer.close()
        except (OSError, av.FFmpegError) as e:
            log.error("event %d: clip could not be completed: %s", clip.event_id, e)
            clip.writer.abort()
            self._clip_failed(clip.event_id)
            return
        pending = _Unregistered(clip.event_id, done)
        if self._write("clip registration", self._register, pending) is None:
            self._unregistered.append(pending)
            self._retry_at = time.monotonic() + REGISTER_RETRY_S
            log.warning("event %d: clip %s kept on disk, registered when the database answers again", clip.event_id, done.path)
            return
        log.info("event %d: clip %s (%.1f s)", clip.event_id, done.path, done.end_time_s - done.start_time_s)

    def _register(self, pending: _Unregistered) -> bool:
        """The clip's file row, then its clip state: each its own transaction (and ledger entry)."""
        done = pending.clip
        if not pending.filed:
            rel = done.path.relative_to(self.root).as_posix()
            self.db.add_file(pending.event_id, "clip", rel, done.sha256, done.size_bytes, done.start_utc, done.end_utc)
            pending.filed = True
        self.db.set_clip_state(pending.event_id, "complete")
        return True

    def _register_pending(self) -> None:
        """Offer the clips the database refused to it again, every REGISTER_RETRY_S; a refusal
        here was already logged and counted when the clip finished, so it is not counted again."""
        now = time.monotonic()
        if now < self._retry_at:
            return
        self._retry_at = now + REGISTER_RETRY_S
        while self._unregistered:
            pending = self._unregistered[0]
            try:
                self._register(pending)
            except SQLAlchemyError:
                return
            self._unregistered.pop(0)
            log.info("event %d: clip %s registered now that the database %s answers again", pending.event_id, pending.clip.path, self.database)


def _reason(e: SQLAlchemyError) -> str:
    """The driver's own words (``database or disk is full``, ``connection refused``), one line."""
    text = str(getattr(e, "orig", None) or e).strip()
    return f"{e.__class__.__name__}: {text.splitlines()[0] if text else '?'}"
