"""One camera's patrol, in the order data flows: stream -> sample -> detect -> judge -> record.

A CameraWorker runs in its own thread (see supervisor.py); it reports its state to the
HealthBoard and hands every recorded event to a sink (notifications), never blocking on either."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.exc import SQLAlchemyError

from epatrol.config import Camera, Config
from epatrol.detectors.crops import NormRect, to_pixels, zones_crop
from epatrol.detectors.episodes import EpisodeEnded, EpisodeEvent, EpisodeStarted
from epatrol.detectors.suppression import dismissed_from_records
from epatrol.detectors.zones import ZoneShape
from epatrol.evidence.recording.context import context_for
from epatrol.evidence.recording.recorder import CameraRecorder
from epatrol.evidence.review import decisions
from epatrol.evidence.store.db import Database
from epatrol.health import HealthBoard
from epatrol.judges import Judge, build_judges, on_duty
from epatrol.models.detector import ObjectDetector
from epatrol.models.service import (
    Inference,
    InferenceService,
    inference_result,
    nothing_found,
)
from epatrol.pacing import Pace, fire_gates
from epatrol.streams.feed import (
    Backoff,
    CameraFeed,
    Connected,
    ConnectFailed,
    Disconnected,
    PacketIn,
)
from epatrol.streams.motion import MotionGate
from epatrol.streams.packets import Sample
from epatrol.streams.source import SourceOptions
from epatrol.timing import StageTimes

log = logging.getLogger(__name__)


# (kind, info): "event.started" | "event.updated" | "event.ended" with {"event_id"},
# "camera.online" | "camera.offline" with {"camera", "reason"}. Must not block (see notify/).
EventSink = Callable[[str, dict], None]

# Samples of one live camera allowed to wait for inference; beyond this the newest is dropped
# (counted), because falling behind a live stream only grows the lag. Files wait instead.
MAX_PENDING = 2
# How often a worker checks for new review decisions (dismissals feed the judges' suppressions).
SUPPRESSION_POLL_S = 5.0
# Extra pre-roll kept so a clip can still reach back `pre_s` before a sample that waited.
PENDING_MARGIN_S = 5.0


@dataclass
class _Pending:
    sample: Sample
    decode_ms: float
    judges: list[Judge]  # those due at this sample
    inferences: dict[str, Future[Inference]]  # one per model those judges need
    reused: frozenset[str] = frozenset()  # models whose detections are the last inferred ones (motion gate)
    skipped: frozenset[str] = frozenset()  # models the fire gate skipped: no detections

    def done(self) -> bool:
        return all(f.done() for f in self.inferences.values())


@dataclass(frozen=True)
class ZoneView:
    """One zone as the patrol last judged it, taken under the worker's lock (re-inspection)."""

    violating: bool  # the judge's episode for the zone is open: the violation goes on
    last_seen: datetime | None  # when the judge last saw the violation there
    sample: Sample  # the newest judged sample
    polygon: tuple[tuple[float, float], ...]


@dataclass
class CameraStats:
    samples: int = 0
    packets: int = 0
    events: int = 0
    times: StageTimes = field(default_factory=StageTimes)
    judged: int = 0
    gated: int = 0  # model runs skipped: by the motion gate (detections reused) or the fire gate (none)
    fire_gated: int = 0  # of those, by the fire gate
    lags_s: deque[float] = field(default_factory=lambda: deque(maxlen=4096))  # ingest -> judged, latest samples


class CameraWorker:
    def __init__(
        self,
        camera: Camera,
        cfg: Config,
        models: Mapping[str, InferenceService] | ObjectDetector | InferenceService,
        db: Database,
        stop: threading.Event,
        health: HealthBoard | None = None,
        sink: EventSink | None = None,
    ):
        self.camera = camera
        if isinstance(models, ObjectDetector):
            models = InferenceService(models)
        self.models = {models.name: models} if isinstance(models, InferenceService) else dict(models)
        self._pending: deque[_Pending] = deque()
        self.health = health or HealthBoard()
        self.sink = sink
        db.upsert_camera(camera.id, camera.name, camera.site.value, camera.url)
        self._db = db
        self._review_seen = -1  # newest review decision whose dismissals the judges know
        self._suppressions_due = 0.0  # monotonic time of the next check
        self.judges = build_judges(camera, cfg)
        # Held while judging a sample, and by readers on other threads (zone_view): the judges'
        # episodes and the newest sample change together.
        self._state_lock = threading.Lock()
        self._last_sample: Sample | None = None
        self.stats = CameraStats()
        self._decode_mark = 0.0
        missing = {j.model for j in self.judges} - set(self.models)
        if missing:
            raise ValueError(f"camera {camera.id}: no detector loaded for {', '.join(sorted(missing))}")
        # Each judge sees samples at its own rate; the stream is sampled at the fastest of them.
        self._last_judged: dict[int, float] = {}
        # Fast path, per model: the crop its judges' zones allow, a motion gate over that crop,
        # and the inference the gate compares with (its detections are reused while unchanged).
        fp = cfg.fast_path
        self._crops: dict[str, NormRect | None] = {
            m: zones_crop(
                [ZoneShape(z.name, tuple(z.polygon)) for z in camera.zones for j in self.judges if j.model == m and j.violation in z.violations],
                fp.crop_margin, fp.crop_max_area,
            ) if fp.zone_crops else None
            for m in {j.model for j in self.judges}
        }  # fmt: skip
        self._gates = {m: MotionGate(fp.motion_threshold, fp.motion_min_changed, fp.refresh_s) for m in self._crops} if fp.motion_gate else {}
        self._reference: dict[str, Future[Inference]] = {}
        self._fire_gates = fire_gates(self.judges)
        self._pace = Pace(self.judges)  # sparse until the fire model finds something (pacing.py)
        interval = self._pace.calm_s
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
            cfg.evidence.pre_s,
            cfg.evidence.post_s,
            on_fault=lambda what: self.health.count(camera.id, what),
            context=context_for(cfg, camera.id),  # label, lead department, responsible unit in each event
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
                self._last_judged.clear()  # media time starts again with each connection
                self._pace.reset()
                self.feed.sampler.set_interval(self._pace.calm_s)
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
            # A camera that will reconnect suspends its episodes: the same violation seen again resumes its event.
            end = judge.close if item.final else getattr(judge, "suspend", judge.close)
            for event in end(item.utc, reason):
                self._record(event)
        self.recorder.on_disconnected()
        if item.final:
            self.health.set_state(self.camera.id, "stopped" if item.reason in ("stopped", "end of file") else "failed", item.reason)
        else:
            self.health.set_state(self.camera.id, "reconnecting", item.reason)
        self._notify("camera.offline", {"camera": self.camera.id, "reason": item.reason})

    def _due(self, sample: Sample) -> list[Judge]:
        due = []
        for judge in self.judges:
            if not on_duty(judge, sample.utc):
                continue
            interval = judge.params.sample_every_s
            last = self._last_judged.get(id(judge))
            if last is None or sample.time_s >= last + interval - min(0.1 * interval, 0.1):
                due.append(judge)
        return due

    def _submit(self, sample: Sample) -> None:
        judges = self._due(sample)
        if not judges:
            return
        if self.feed.live and len(self._pending) >= MAX_PENDING:
            self.health.count(self.camera.id, "dropped_sample")
            return
        if not self.feed.live:
            while len(self._pending) >= MAX_PENDING:  # a file can wait: back-pressure, no drops
                self._judge(self._pending.popleft())
        for judge in judges:
            self._last_judged[id(judge)] = sample.time_s
        # Decoding since the previous sample is this sample's decode cost (a GOP's worth at most).
        decode_total = self.feed.times.wall_s["decode"]
        decode_ms, self._decode_mark = 1000 * (decode_total - self._decode_mark), decode_total
        inferences: dict[str, Future[Inference]] = {}
        reused, skipped = set(), set()
        h, w = sample.frame.shape[:2]
        for model in {j.model for j in judges}:
            # A sample the fire gate finds no cue of fire in is judged as if the model found nothing.
            if (fire := self._fire_gates.get(model)) is not None:
                run = fire.should_run(sample.frame, sample.time_s)
                self.feed.sampler.set_interval(self._pace.interval_after(sample.time_s, fire.last_reason == "hold" or fire.flame_cue))
                if not run:
                    inferences[model] = nothing_found(self.models[model].detector.class_names)
                    skipped.add(model)
                    continue
            crop = self._crops.get(model)
            roi = to_pixels(crop, w, h) if crop else None
            gate = self._gates.get(model)
            region = sample.frame[roi[1] : roi[3], roi[0] : roi[2]] if roi else sample.frame
            # An unchanged sample gets the detections of the inference its gate compared it with.
            if gate is not None and not gate.should_infer(region, sample.time_s) and model in self._reference:
                inferences[model] = self._reference[model]
                reused.add(model)
                continue
            conf = min(j.params.confidence for j in judges if j.model == model)
            inferences[model] = self._reference[model] = self.models[model].submit(sample.frame, conf, roi)
        self._pending.append(_Pending(sample, decode_ms, judges, inferences, frozenset(reused), frozenset(skipped)))
        self.stats.samples += 1
        self.health.set_queue_depth(self.camera.id, len(self._pending))

    def _collect(self, block: bool) -> None:
        while self._pending and (block or self._pending[0].done()):
            self._judge(self._pending.popleft())
        self.health.set_queue_depth(self.camera.id, len(self._pending))

    def zone_view(self, violation: str, zone: str) -> ZoneView | str:
        """The zone as last judged, or why there is no answer (for the uplink's re-inspection)."""
        with self._state_lock:
            judge = next((j for j in self.judges if j.violation == violation), None)
            if judge is None:
                return f"camera {self.camera.id} does not judge {violation}"
            episode = judge.episodes.get(zone)
            if episode is None:
                return f"camera {self.camera.id} has no zone {zone!r} for {violation}"
            if self._last_sample is None:
                return f"camera {self.camera.id} has not judged a sample yet"
            polygon = next(tuple(map(tuple, z.polygon)) for z in self.camera.zones if z.name == zone)
            return ZoneView(episode.is_open, episode.last_seen, self._last_sample, polygon)

    def _judge(self, pending: _Pending) -> None:
        with self._state_lock:
            self._judge_locked(pending)

    def _judge_locked(self, pending: _Pending) -> None:
        self._last_sample = pending.sample
        self._refresh_suppressions()
        times = self.stats.times
        results = {model: self._inference(model, f) for model, f in pending.inferences.items()}
        ran = [r for model, r in results.items() if model not in pending.reused | pending.skipped]
        for r in ran:
            times.add("inference", r.wall_s, r.cpu_s)
        self.stats.gated += len(pending.reused) + len(pending.skipped)
        self.stats.fire_gated += len(pending.skipped)
        for model, r in results.items():  # fire or smoke found: its gate runs the model every sample for a while
            if model in self._fire_gates and model not in pending.skipped and len(r.detections):
                self._fire_gates[model].found(pending.sample.time_s)
                self.feed.sampler.set_interval(self._pace.interval_after(pending.sample.time_s, True))
        events: list[tuple[EpisodeEvent, str]] = []
        with times.measure("judge"):
            for judge in pending.judges:
                events.extend((e, judge.model) for e in judge.process(pending.sample, results[judge.model].detections))
        # Configuration problems a judge found in what it sees (a bin zone with no bin): /healthz shows them.
        if problems := [p for j in self.judges for p in getattr(j, "problems", ())]:
            self.health.set_problems(self.camera.id, problems)
        with times.measure("record"):
            for event, model in events:
                self._record(event, model)
        h, w = pending.sample.frame.shape[:2]
        inference_ms = 1000 * sum(r.wall_s for r in ran)
        self.stats.judged += 1
        self.stats.lags_s.append((datetime.now(timezone.utc) - pending.sample.utc).total_seconds())
        self.health.sample(self.camera.id, decode_ms=pending.decode_ms, inference_ms=inference_ms, frame_size=f"{w}x{h}")

    def _inference(self, model: str, future: Future[Inference]) -> Inference:
        """The model's answer; while it is overdue the camera shows as stalled in /healthz (degraded)."""
        stalled = False

        def on_stall(waited_s: float) -> None:
            nonlocal stalled
            stalled = True
            self.health.set_state(self.camera.id, "stalled", f"model {model} has not answered in {waited_s:.0f} s")

        result = inference_result(future, f"camera {self.camera.id}'s inference on {model}", on_stall)
        if stalled:
            self.health.set_state(self.camera.id, "online")
        return result

    def _refresh_suppressions(self) -> None:
        """Officers' dismissals -> the judges' suppressions. Checked every SUPPRESSION_POLL_S with one
        max(id) read; reloaded (one query for this camera) only when a new decision appears, so a
        dismissal made in the API, in this process or another, applies within seconds."""
        now = time.monotonic()
        if now < self._suppressions_due:
            return
        self._suppressions_due = now + SUPPRESSION_POLL_S
        try:
            latest = decisions.latest_review_id(self._db)
            if latest == self._review_seen:
                return
            rows = decisions.dismissed_events(self._db, self.camera.id)
        except SQLAlchemyError as e:  # the patrol goes on with what it knew
            log.warning("camera %s: dismissed events not reloaded from %s: %s", self.camera.id, self.recorder.database, e.__class__.__name__)
            return
        self._review_seen = latest
        dismissed = [dismissed_from_records(r.event_id, r.zone, r.violation, r.detections) for r in rows]
        for judge in self.judges:
            suppressions = getattr(judge, "suppressions", None)
            if suppressions is not None:
                suppressions.load(dismissed)
        if dismissed:
            log.info("camera %s: %d dismissed event(s) suppress their objects", self.camera.id, len(dismissed))

    def _record(self, event: EpisodeEvent, model: str | None = None) -> None:
        service = self.models.get(model or self._model_of(event))
        provenance = (service.name, service.sha256, service.runs_on) if service else ("", "", "")
        event_id = self.recorder.on_episode(event, self.feed.ring, provenance)
        if isinstance(event, EpisodeStarted):
            self.stats.events += 1
            self.health.count(self.camera.id, "event", event.key.violation)
        if event_id is None:
            return
        kind = "event.started" if isinstance(event, EpisodeStarted) else "event.ended" if isinstance(event, EpisodeEnded) else "event.updated"
        self._notify(kind, {"event_id": event_id})

    def _model_of(self, event: EpisodeEvent) -> str:
        return next((j.model for j in self.judges if j.violation == event.key.violation), "")

    def _notify(self, kind: str, info: dict) -> None:
        if self.sink is None:
            return
        try:
            self.sink(kind, info)
        except Exception:  # a notification problem must never stop the patrol
            log.exception("camera %s: notification %s failed", self.camera.id, kind)
