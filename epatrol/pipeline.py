"""One camera's patrol, in the order data flows: stream -> sample -> detect -> judge -> record.

A CameraWorker runs in its own thread (see supervisor.py); it reports its state to the
HealthBoard and hands every recorded event to a sink (notifications), never blocking on either."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from epatrol.config import Camera, Config, Violation
from epatrol.detectors.episodes import EpisodeEnded, EpisodeEvent, EpisodeStarted
from epatrol.detectors.parked_bikes import ParkedBikesJudge
from epatrol.detectors.zones import ZoneShape
from epatrol.evidence.db import Database
from epatrol.evidence.recorder import CameraRecorder
from epatrol.health import HealthBoard
from epatrol.models.detector import ObjectDetector
from epatrol.models.service import Inference, InferenceService
from epatrol.streams.feed import Backoff, CameraFeed, ConnectFailed, Connected, Disconnected, PacketIn
from epatrol.streams.packets import Sample
from epatrol.streams.source import SourceOptions
from epatrol.timing import StageTimes

log = logging.getLogger(__name__)

IMPLEMENTED = {Violation.parked_bikes}

# (kind, info): "event.started" | "event.updated" | "event.ended" with {"event_id"},
# "camera.online" | "camera.offline" with {"camera", "reason"}. Must not block (see notify/).
EventSink = Callable[[str, dict], None]

# Samples of one live camera allowed to wait for inference; beyond this the newest is dropped
# (counted), because falling behind a live stream only grows the lag. Files wait instead.
MAX_PENDING = 2
# Extra pre-roll kept so a clip can still reach back `pre_s` before a sample that waited.
PENDING_MARGIN_S = 5.0


def build_judges(camera: Camera, cfg: Config) -> list[ParkedBikesJudge]:
    for zone in camera.zones:
        for v in zone.violations:
            if v not in IMPLEMENTED:
                log.warning("camera %s zone %s: violation %s is not implemented yet; ignored", camera.id, zone.name, v.value)
    zones = [ZoneShape(z.name, tuple(z.polygon)) for z in camera.zones if Violation.parked_bikes in z.violations]
    return [ParkedBikesJudge(camera.id, zones, cfg.violations.parked_bikes)] if zones else []


@dataclass
class CameraStats:
    samples: int = 0
    packets: int = 0
    events: int = 0
    times: StageTimes = field(default_factory=StageTimes)


class CameraWorker:
    def __init__(
        self,
        camera: Camera,
        cfg: Config,
        detector: ObjectDetector | InferenceService,
        db: Database,
        stop: threading.Event,
        health: HealthBoard | None = None,
        sink: EventSink | None = None,
    ):
        self.camera = camera
        self.inference = detector if isinstance(detector, InferenceService) else InferenceService(detector)
        self._pending: deque[tuple[Sample, float, Future[Inference]]] = deque()
        self.health = health or HealthBoard()
        self.sink = sink
        db.upsert_camera(camera.id, camera.name, camera.site.value, camera.url)
        self.judges = build_judges(camera, cfg)
        self.stats = CameraStats()
        self._decode_mark = 0.0
        self.conf = min((j.params.confidence for j in self.judges), default=0.25)
        interval = min((j.params.sample_every_s for j in self.judges), default=1.0)
        self.health.register(camera.id, interval)
        self.feed = CameraFeed(
            camera.id,
            camera.url,
            sample_every_s=interval,
            preroll_s=cfg.evidence.pre_s + PENDING_MARGIN_S,
            loop=camera.loop,
            source_options=SourceOptions(
                open_timeout_s=cfg.streams.open_timeout_s,
                read_timeout_s=cfg.streams.read_timeout_s,
                realtime=camera.realtime,
            ),
            backoff=Backoff(cfg.streams.reconnect_initial_s, cfg.streams.reconnect_max_s),
            stop=stop,
        )
        self.recorder = CameraRecorder(
            db,
            cfg.storage.root,
            camera.id,
            camera.name,
            [ZoneShape(z.name, tuple(z.polygon)) for z in camera.zones],
            self.inference.name,
            self.inference.sha256,
            cfg.evidence.pre_s,
            cfg.evidence.post_s,
            on_fault=lambda what: self.health.count(camera.id, what),
        )

    def run(self) -> None:
        times = self.stats.times
        cid = self.camera.id
        for item in self.feed:
            if isinstance(item, PacketIn):
                self.stats.packets += 1
                self.health.packet(cid, item.packet.utc)
                with times.measure("record"):
                    self.recorder.on_packet(item.packet)
                if item.sample is not None:
                    self._submit(item.sample)
                self._collect(block=False)
            elif isinstance(item, Connected):
                info = item.info
                log.info("camera %s connected: %s %dx%d", cid, info.codec, info.width, info.height)
                self.health.set_state(cid, "online")
                self._notify("camera.online", {"camera": cid, "reason": f"{info.codec} {info.width}x{info.height}"})
                self.recorder.on_connected(info)
            elif isinstance(item, Disconnected):
                self._disconnected(item)
            elif isinstance(item, ConnectFailed):
                self.health.set_state(cid, "reconnecting" if item.attempt > 1 else "offline", item.reason)
        for stage, n in self.feed.times.calls.items():
            times.add(stage, self.feed.times.wall_s[stage], self.feed.times.cpu_s[stage], n)

    def _disconnected(self, item: Disconnected) -> None:
        self._collect(block=True)  # judge what was sampled before the stream went away
        if item.reason == "stopped":
            reason = "shutdown"
        elif item.reason == "end of file":
            reason = "end of stream"
        else:
            reason = f"camera disconnected: {item.reason}"
        # Open episodes end with the clip they have, saying why; the container closes after this.
        for judge in self.judges:
            for event in judge.close(item.utc, reason):
                self._record(event)
        self.recorder.on_disconnected()
        if item.final:
            self.health.set_state(self.camera.id, "stopped" if item.reason in ("stopped", "end of file") else "failed", item.reason)
        else:
            self.health.set_state(self.camera.id, "reconnecting", item.reason)
        self._notify("camera.offline", {"camera": self.camera.id, "reason": item.reason})

    def _submit(self, sample: Sample) -> None:
        if self.feed.live and len(self._pending) >= MAX_PENDING:
            self.health.count(self.camera.id, "dropped_sample")
            return
        if not self.feed.live:
            while len(self._pending) >= MAX_PENDING:  # a file can wait: back-pressure, no drops
                self._judge(*self._pending.popleft())
        # Decoding since the previous sample is this sample's decode cost (a GOP's worth at most).
        decode_total = self.feed.times.wall_s["decode"]
        decode_ms, self._decode_mark = 1000 * (decode_total - self._decode_mark), decode_total
        self._pending.append((sample, decode_ms, self.inference.submit(sample.frame, self.conf)))
        self.stats.samples += 1
        self.health.set_queue_depth(self.camera.id, len(self._pending))

    def _collect(self, block: bool) -> None:
        while self._pending and (block or self._pending[0][2].done()):
            self._judge(*self._pending.popleft())
        self.health.set_queue_depth(self.camera.id, len(self._pending))

    def _judge(self, sample: Sample, decode_ms: float, future: Future[Inference]) -> None:
        times = self.stats.times
        inference = future.result()
        times.add("inference", inference.wall_s, inference.cpu_s)
        detections = inference.detections
        events: list[EpisodeEvent] = []
        with times.measure("judge"):
            for judge in self.judges:
                events.extend(judge.process(sample, detections))
        with times.measure("record"):
            for event in events:
                self._record(event)
        h, w = sample.frame.shape[:2]
        self.health.sample(self.camera.id, decode_ms=decode_ms, inference_ms=1000 * inference.wall_s, frame_size=f"{w}x{h}")

    def _record(self, event: EpisodeEvent) -> None:
        event_id = self.recorder.on_episode(event, self.feed.ring)
        if isinstance(event, EpisodeStarted):
            self.stats.events += 1
            self.health.count(self.camera.id, "event", event.key.violation)
        if event_id is None:
            return
        kind = "event.started" if isinstance(event, EpisodeStarted) else "event.ended" if isinstance(event, EpisodeEnded) else "event.updated"
        self._notify(kind, {"event_id": event_id})

    def _notify(self, kind: str, info: dict) -> None:
        if self.sink is None:
            return
        try:
            self.sink(kind, info)
        except Exception:  # a notification problem must never stop the patrol
            log.exception("camera %s: notification %s failed", self.camera.id, kind)


def run_cameras(cfg: Config, detector: ObjectDetector, db: Database, stop: threading.Event) -> list[CameraWorker]:
    """Run every enabled camera until its source ends or `stop` is set; returns the workers (for stats)."""
    from epatrol.supervisor import Supervisor

    sup = Supervisor(cfg, detector, db, stop=stop)
    sup.start()
    sup.wait()
    return sup.finished_workers
