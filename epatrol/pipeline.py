"""One camera's patrol, in the order data flows: stream -> sample -> detect -> judge -> record.

`run_cameras` starts one worker thread per camera sharing one detector session; a camera that
cannot be opened or fails is logged and never stops the others."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from epatrol.config import Camera, Config, Violation
from epatrol.detectors.episodes import EpisodeEvent
from epatrol.detectors.parked_bikes import ParkedBikesJudge
from epatrol.detectors.zones import ZoneShape
from epatrol.evidence.db import Database
from epatrol.evidence.recorder import CameraRecorder
from epatrol.models.detector import ObjectDetector
from epatrol.streams.feed import CameraFeed, Connected, Disconnected, PacketIn
from epatrol.streams.source import SourceOptions
from epatrol.timing import StageTimes

log = logging.getLogger(__name__)

IMPLEMENTED = {Violation.parked_bikes}


def _zones_for(camera: Camera, violation: Violation) -> list[ZoneShape]:
    return [ZoneShape(z.name, tuple(z.polygon)) for z in camera.zones if violation in z.violations]


def build_judges(camera: Camera, cfg: Config) -> list[ParkedBikesJudge]:
    for zone in camera.zones:
        for v in zone.violations:
            if v not in IMPLEMENTED:
                log.warning("camera %s zone %s: violation %s is not implemented yet; ignored", camera.id, zone.name, v.value)
    judges = []
    zones = _zones_for(camera, Violation.parked_bikes)
    if zones:
        judges.append(ParkedBikesJudge(camera.id, zones, cfg.violations.parked_bikes))
    return judges


@dataclass
class CameraStats:
    samples: int = 0
    packets: int = 0
    events: int = 0
    times: StageTimes = field(default_factory=StageTimes)


class CameraWorker:
    def __init__(self, camera: Camera, cfg: Config, detector: ObjectDetector, db: Database, stop: threading.Event):
        self.camera = camera
        self.detector = detector
        db.upsert_camera(camera.id, camera.name, camera.site.value, camera.url)
        self.judges = build_judges(camera, cfg)
        self.stats = CameraStats()
        self.conf = min((j.params.confidence for j in self.judges), default=0.25)
        interval = min((j.params.sample_every_s for j in self.judges), default=1.0)
        self.feed = CameraFeed(
            camera.id,
            camera.url,
            sample_every_s=interval,
            preroll_s=cfg.evidence.pre_s,
            loop=camera.loop,
            source_options=SourceOptions(realtime=camera.realtime),
            stop=stop,
        )
        self.recorder = CameraRecorder(
            db,
            cfg.storage.root,
            camera.id,
            camera.name,
            [ZoneShape(z.name, tuple(z.polygon)) for z in camera.zones],
            detector.name,
            detector.sha256,
            cfg.evidence.pre_s,
            cfg.evidence.post_s,
        )

    def run(self) -> None:
        times = self.stats.times
        for item in self.feed:
            if isinstance(item, PacketIn):
                self.stats.packets += 1
                with times.measure("record"):
                    self.recorder.on_packet(item.packet)
                if item.sample is not None:
                    self._judge(item)
            elif isinstance(item, Connected):
                log.info("camera %s connected: %s %dx%d", self.camera.id, item.info.codec, item.info.width, item.info.height)
                self.recorder.on_connected(item.info)
            elif isinstance(item, Disconnected):
                reason = "end of stream" if item.reason == "end of file" else f"camera disconnected: {item.reason}"
                if item.reason == "stopped":
                    reason = "shutdown"
                for judge in self.judges:
                    for event in judge.close(item.utc, reason):
                        self.recorder.on_episode(event, self.feed.ring)
                self.recorder.on_disconnected()
        for stage, n in self.feed.times.calls.items():
            times.add(stage, self.feed.times.wall_s[stage], self.feed.times.cpu_s[stage], n)

    def _judge(self, item: PacketIn) -> None:
        sample = item.sample
        assert sample is not None
        times = self.stats.times
        self.stats.samples += 1
        with times.measure("inference"):
            detections = self.detector.detect(sample.frame, conf=self.conf)
        events: list[EpisodeEvent] = []
        with times.measure("judge"):
            for judge in self.judges:
                events.extend(judge.process(sample, detections))
        with times.measure("record"):
            for event in events:
                self.recorder.on_episode(event, self.feed.ring)
        self.stats.events += sum(1 for e in events if type(e).__name__ == "EpisodeStarted")


def run_cameras(cfg: Config, detector: ObjectDetector, db: Database, stop: threading.Event) -> list[CameraWorker]:
    """Run every enabled camera until its source ends or `stop` is set; returns the workers (for stats)."""
    workers: list[CameraWorker] = []
    for camera in cfg.cameras:
        if not camera.enabled:
            continue
        worker = CameraWorker(camera, cfg, detector, db, stop)
        if not worker.judges:
            log.warning("camera %s has no zone watching an implemented violation: not started", camera.id)
            continue
        workers.append(worker)
    threads = [threading.Thread(target=_guarded, args=(w,), name=f"cam-{w.camera.id}", daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.5)
    return workers


def _guarded(worker: CameraWorker) -> None:
    try:
        worker.run()
    except Exception:  # one camera's bug must not take the box down
        log.exception("camera %s worker crashed", worker.camera.id)
