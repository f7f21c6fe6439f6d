"""Runs the camera workers, one thread each, and changes the set on reload without touching the rest.

Threads, not processes: decode (PyAV) and inference (onnxruntime) release the GIL, one shared
onnxruntime session keeps one copy of the model, and a camera costs a few MB instead of a
process. A worker that crashes is logged and restarted after a pause; it never takes the
others with it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from epatrol.config import Camera, Config
from epatrol.evidence.store.db import Database
from epatrol.health import HealthBoard
from epatrol.judges import models_for
from epatrol.models.detector import ObjectDetector, load_detectors
from epatrol.models.manifest import ModelError
from epatrol.models.service import InferenceService
from epatrol.pipeline import CameraWorker, EventSink

log = logging.getLogger(__name__)

CRASH_RESTART_S = 10.0


@dataclass
class _Running:
    camera: Camera
    worker: CameraWorker
    thread: threading.Thread
    stop: threading.Event


class Supervisor:
    def __init__(
        self,
        cfg: Config,
        detectors: ObjectDetector | Mapping[str, ObjectDetector],
        db: Database,
        *,
        stop: threading.Event | None = None,
        health: HealthBoard | None = None,
        sink: EventSink | None = None,
    ) -> None:
        self.cfg = cfg
        if isinstance(detectors, ObjectDetector):
            detectors = {detectors.name: detectors}
        # One session per model, shared by every camera that needs it.
        workers = cfg.models.workers or os.cpu_count() or 1
        self._workers = workers
        self.models: dict[str, InferenceService] = {name: InferenceService(d, workers) for name, d in detectors.items()}
        self.db = db
        self.stop_all = stop or threading.Event()
        self.health = health or HealthBoard()
        for d in detectors.values():
            self.health.set_model(d.name, d.runtime, d.precision, d.graph)
        self.sink = sink
        self.notifier = None
        if cfg.notify is not None and sink is None:
            from epatrol.notify import Notifier

            self.notifier = Notifier(cfg.notify)
            self.notifier.start()
            self.sink = self._notify
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self.finished_workers: list[CameraWorker] = []

    def start(self) -> None:
        for camera in self.cfg.cameras:
            self._start_camera(camera)

    def _notify(self, kind: str, info: dict) -> None:
        """Runs on a camera thread: one indexed read for an event, then a non-blocking enqueue."""
        from epatrol.notify import camera_payload, event_payload

        if kind.startswith("event."):
            event = self.db.get_event(info["event_id"])
            if event is not None:
                self.notifier.publish(kind, event_payload(event))
            return
        names = {c.id: c.name for c in self.cfg.cameras}
        self.notifier.publish(kind, camera_payload(info["camera"], names.get(info["camera"]), reason=info.get("reason")))

    def _start_camera(self, camera: Camera) -> None:
        if not camera.enabled:
            log.info("camera %s is disabled", camera.id)
            return
        try:
            self._load_models(camera)
        except ModelError as e:
            log.error("camera %s not started: %s", camera.id, e)
            return
        stop = threading.Event()
        worker = CameraWorker(camera, self.cfg, self.models, self.db, stop, self.health, self.sink)
        if not worker.judges:
            log.warning("camera %s has no zone watching an implemented violation: not started", camera.id)
            self.health.remove(camera.id)
            return
        thread = threading.Thread(target=self._guarded, args=(worker, stop), name=f"cam-{camera.id}", daemon=True)
        with self._lock:
            self._running[camera.id] = _Running(camera, worker, thread, stop)
        thread.start()

    def _load_models(self, camera: Camera) -> None:
        """A camera added by a reload may need a model nobody needed before."""
        for name in models_for(camera, self.cfg) - set(self.models):
            detector = load_detectors({name}, self.cfg.models)[name]
            self.health.set_model(detector.name, detector.runtime, detector.precision, detector.graph)
            self.models[name] = InferenceService(detector, self._workers)

    def _guarded(self, worker: CameraWorker, stop: threading.Event) -> None:
        while True:
            try:
                worker.run()
                break
            except Exception:  # one camera's bug must not take the box down
                log.exception("camera %s worker crashed; restarting in %.0f s", worker.camera.id, CRASH_RESTART_S)
                self.health.set_state(worker.camera.id, "failed", "worker crashed")
                if stop.wait(CRASH_RESTART_S):
                    break
        self.finished_workers.append(worker)

    def _stop_camera(self, camera_id: str, timeout_s: float = 30.0, forget: bool = True) -> None:
        with self._lock:
            running = self._running.pop(camera_id, None)
        if running is None:
            return
        running.stop.set()
        running.thread.join(timeout_s)
        if running.thread.is_alive():
            log.error("camera %s did not stop within %.0f s", camera_id, timeout_s)
        if forget:  # removed from the config; on shutdown its last state stays to be saved
            self.health.remove(camera_id)

    def reload(self, new: Config) -> dict[str, list[str]]:
        """Apply a new configuration: start added cameras, stop removed ones, restart changed ones.
        A change to the violation, evidence, site-schedule or local-zone settings restarts every camera; a change to the
        models or storage needs a process restart (the detector and database are shared)."""
        if new.models != self.cfg.models or new.storage != self.cfg.storage:
            log.warning("models/storage changed: restart epatrol to apply them; applying camera changes only")
            new = new.model_copy(update={"models": self.cfg.models, "storage": self.cfg.storage})
        restart_all = (
            new.violations != self.cfg.violations
            or new.evidence != self.cfg.evidence
            or new.sites != self.cfg.sites  # schedules: site defaults and their local zone
            or new.review.timezone != self.cfg.review.timezone
        )
        old = {c.id: c for c in self.cfg.cameras}
        fresh = {c.id: c for c in new.cameras}
        removed = [cid for cid in old if cid not in fresh]
        added = [cid for cid in fresh if cid not in old]
        changed = [cid for cid in fresh if cid in old and (restart_all or fresh[cid] != old[cid])]
        self.cfg = new
        for cid in removed + changed:
            self._stop_camera(cid)
        for cid in added + changed:
            self._start_camera(fresh[cid])
        log.info("reload: added %s, removed %s, restarted %s", added or "-", removed or "-", changed or "-")
        return {"added": added, "removed": removed, "restarted": changed}

    def _close_models(self) -> None:
        for service in self.models.values():
            service.close()

    def worker(self, camera_id: str) -> CameraWorker | None:
        """The running worker of a camera (read-only use: re-inspection reads its judges)."""
        with self._lock:
            running = self._running.get(camera_id)
        return running.worker if running is not None and running.thread.is_alive() else None

    def running_ids(self) -> list[str]:
        with self._lock:
            return [cid for cid, r in self._running.items() if r.thread.is_alive()]

    def wait(self, poll_s: float = 0.5, tick: Callable[[], None] | None = None) -> None:
        """Block until every camera has ended (files) or the stop event is set (then stop them all).
        `tick` runs on this (the main) thread every poll: where reloads happen, not in a signal handler."""
        while not self.stop_all.wait(poll_s):
            if tick is not None:
                tick()
            with self._lock:
                alive = any(r.thread.is_alive() for r in self._running.values())
            if not alive:
                self._close_models()
                if self.notifier is not None:
                    self.notifier.stop(timeout_s=5.0)
                return
        self.shutdown()

    def shutdown(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            ids = list(self._running)
        for running in [self._running[i] for i in ids if i in self._running]:
            running.stop.set()  # all at once, then join: clips close in parallel
        for cid in ids:
            self._stop_camera(cid, timeout_s, forget=False)
        self._close_models()
        if self.notifier is not None:
            self.notifier.stop(timeout_s=5.0)  # deliver what the shutdown itself produced


def run_cameras(
    cfg: Config, detectors: ObjectDetector | Mapping[str, ObjectDetector], db: Database, stop: threading.Event
) -> list[CameraWorker]:
    """Run every enabled camera until its source ends or `stop` is set; returns the workers (for stats)."""
    sup = Supervisor(cfg, detectors, db, stop=stop)
    sup.start()
    sup.wait()
    return sup.finished_workers
