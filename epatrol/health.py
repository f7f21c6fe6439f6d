"""Live state of every camera, written by the camera workers, read by /healthz, /metrics and the database.

Workers only set plain fields under a lock; readers get copies. Nothing here blocks a camera."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class CameraHealth:
    camera_id: str
    state: str = "starting"  # starting | online | reconnecting | offline | stalled (a model overdue) | stopped | failed
    reconnects: int = 0
    last_packet_utc: datetime | None = None
    last_sample_utc: datetime | None = None
    last_error: str | None = None
    samples: int = 0
    packets: int = 0
    dropped_samples: int = 0
    sample_interval_s: float = 0.0
    sample_rate_hz: float = 0.0  # measured over the recent samples
    decode_ms: float = 0.0  # exponential moving averages
    inference_ms: float = 0.0
    queue_depth: int = 0
    frame_size: str | None = None  # of the last sample, "WxH": a camera may change it mid-stream
    events: Counter = field(default_factory=Counter)  # events started, by violation
    clips_failed: int = 0
    storage_faults: Counter = field(default_factory=Counter)  # event_dropped, snapshot_failed, db_write_failed
    problems: list[str] = field(default_factory=list)  # configuration problems the judges found (e.g. a bin zone with no bin)
    changed_utc: datetime = field(default_factory=_now)

    @property
    def online(self) -> bool:
        return self.state == "online"

    def as_json(self) -> dict:
        d = asdict(self)
        d["online"] = self.online
        d["events"] = dict(self.events)
        d["storage_faults"] = dict(self.storage_faults)
        for k, v in d.items():
            if isinstance(v, datetime):
                d[k] = v.isoformat()
        return d


class HealthBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, tuple[str, str, str]] = {}  # name -> (runtime, precision, graph)
        self._cameras: dict[str, CameraHealth] = {}

    def register(self, camera_id: str, sample_interval_s: float) -> None:
        with self._lock:
            self._cameras[camera_id] = CameraHealth(camera_id, sample_interval_s=sample_interval_s)

    def remove(self, camera_id: str) -> None:
        with self._lock:
            self._cameras.pop(camera_id, None)

    def set_state(self, camera_id: str, state: str, error: str | None = None) -> None:
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is None:
                return
            if state == "online" and cam.state in ("reconnecting", "offline"):
                cam.reconnects += 1
            cam.state = state
            cam.changed_utc = _now()
            if error is not None:
                cam.last_error = error

    def packet(self, camera_id: str, utc: datetime) -> None:
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is not None:
                cam.packets += 1
                cam.last_packet_utc = utc

    def sample(self, camera_id: str, decode_ms: float, inference_ms: float, frame_size: str | None = None) -> None:
        now = _now()
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is None:
                return
            if cam.last_sample_utc is not None:
                gap = (now - cam.last_sample_utc).total_seconds()
                if gap > 0:
                    cam.sample_rate_hz = 0.8 * cam.sample_rate_hz + 0.2 / gap if cam.samples > 1 else 1 / gap
            cam.samples += 1
            cam.last_sample_utc = now
            cam.frame_size = frame_size or cam.frame_size
            cam.decode_ms = decode_ms if cam.samples == 1 else 0.9 * cam.decode_ms + 0.1 * decode_ms
            cam.inference_ms = inference_ms if cam.samples == 1 else 0.9 * cam.inference_ms + 0.1 * inference_ms

    def set_queue_depth(self, camera_id: str, depth: int) -> None:
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is not None:
                cam.queue_depth = depth

    def count(self, camera_id: str, what: str, key: str | None = None) -> None:
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is None:
                return
            if what == "event":
                cam.events[key or "unknown"] += 1
            elif what == "dropped_sample":
                cam.dropped_samples += 1
            elif what == "clip_failed":
                cam.clips_failed += 1
            else:
                cam.storage_faults[what] += 1

    def set_problems(self, camera_id: str, problems: list[str]) -> None:
        with self._lock:
            cam = self._cameras.get(camera_id)
            if cam is not None and cam.problems != problems:
                cam.problems = list(problems)

    def set_model(self, name: str, runtime: str, precision: str, graph: str) -> None:
        """What runs each model (models/selection.py chose it): /metrics shows it."""
        with self._lock:
            self._models[name] = (runtime, precision, graph)

    def models(self) -> dict[str, tuple[str, str, str]]:
        with self._lock:
            return dict(self._models)

    def snapshot(self) -> list[CameraHealth]:
        with self._lock:
            return [
                replace(c, events=Counter(c.events), storage_faults=Counter(c.storage_faults), problems=list(c.problems))
                for c in self._cameras.values()
            ]
