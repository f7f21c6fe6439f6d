"""Runs the real pipeline (Supervisor -> CameraWorker per clip, real models, a real SQLite database)
over every clip of a ground truth, file cameras as fast as possible, and reads the events back.

Media time: a file camera read as fast as possible stamps each packet with a synthetic clock,
`opened_utc + media seconds` (streams/source.py), and every sample, hence every alert, with the
same clock. So an alert's media second is its `alerted_at` minus the UTC of the clip's first
packet, which the worker reports to its HealthBoard; `_MediaClock` keeps that first stamp."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av

from epatrol.config import Camera, Config, Evidence, Models, Storage, Zone
from epatrol.evaluation.ground_truth import GroundTruth, LabelledClip
from epatrol.evaluation.matching import Alert
from epatrol.health import HealthBoard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipRun:
    index: int
    clip: LabelledClip
    path: Path
    camera_id: str  # the id it ran under (one per clip, so clips of one camera can run at once)
    duration_s: float
    judged: bool  # False: the clip was not run (see `skipped`)
    alerts: tuple[Alert, ...]
    samples: int
    skipped: str | None = None  # why it was not run: no judge for its violation, or one that cannot start


@dataclass(frozen=True)
class EvalRun:
    clips: tuple[ClipRun, ...]
    wall_s: float
    cpu_s: float
    database: str
    models: dict[str, str]  # name -> sha256


class _MediaClock(HealthBoard):
    """A HealthBoard that also keeps each camera's first packet stamp (media second 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.first_packet_utc: dict[str, datetime] = {}

    def packet(self, camera_id: str, utc: datetime) -> None:
        self.first_packet_utc.setdefault(camera_id, utc)
        super().packet(camera_id, utc)


def media_duration_s(path: Path) -> float:
    """The clip's length as a player shows it (stream duration, else container duration)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if s.duration is not None and s.time_base is not None:
            return float(s.duration * s.time_base)
        if c.duration is not None:
            return c.duration / 1e6
    raise ValueError(f"{path}: cannot tell its duration")


def eval_config(gt: GroundTruth, storage: Path, models_dir: Path | None) -> Config:
    cameras = [
        Camera(
            id=f"c{i:03d}-{clip.camera}"[:64],
            name=f"{clip.camera} {Path(clip.path).name}",
            url=str(gt.clip_path(clip)),
            site=clip.site,
            zones=[Zone(name="eval", polygon=clip.zone, violations=[clip.violation], clean_reference=gt.reference_path(clip))],
        )
        for i, clip in enumerate(gt.clips)
    ]
    models = Models(dir=models_dir, **({"detector": gt.detector} if gt.detector else {}))
    return Config(storage=Storage(root=storage), models=models, cameras=cameras, violations=gt.violations, evidence=Evidence())


def run_eval(gt: GroundTruth, storage: Path, models_dir: Path | None = None) -> EvalRun:
    """Run every clip (all at once, as cameras of one patrol) and collect its alerts in media seconds."""
    from epatrol.judges import required_models
    from epatrol.migrations import open_database
    from epatrol.models.detector import load_detectors
    from epatrol.supervisor import Supervisor

    storage.mkdir(parents=True, exist_ok=True)
    cfg = eval_config(gt, storage, models_dir)
    skipped = _unrunnable(cfg)
    cfg = cfg.model_copy(update={"cameras": [c.model_copy(update={"enabled": c.id not in skipped}) for c in cfg.cameras]})
    detectors = load_detectors(required_models(cfg), cfg.models)
    db = open_database(cfg.database_url)
    clock = _MediaClock()
    t0, c0 = time.monotonic(), time.process_time()
    sup = Supervisor(cfg, detectors, db, stop=threading.Event(), health=clock)
    sup.start()
    sup.wait()
    wall_s, cpu_s = time.monotonic() - t0, time.process_time() - c0
    samples = {w.camera.id: w.stats.samples for w in sup.finished_workers}
    runs = []
    for i, (clip, camera) in enumerate(zip(gt.clips, cfg.cameras)):
        judged = camera.id not in skipped
        events = db.list_events(camera_id=camera.id, violation=clip.violation.value, limit=100_000) if judged else []
        first = clock.first_packet_utc.get(camera.id)
        if events and first is None:
            raise RuntimeError(f"camera {camera.id}: events but no packets seen")
        alerts = tuple(sorted((Alert((e.alerted_at - first).total_seconds(), e.id) for e in events), key=lambda a: a.media_s))
        runs.append(
            ClipRun(i, clip, Path(camera.url), camera.id, media_duration_s(Path(camera.url)), judged, alerts, samples.get(camera.id, 0), skipped.get(camera.id))
        )
    db.close()
    return EvalRun(tuple(runs), wall_s, cpu_s, cfg.database_url, {d.name: d.sha256 for d in detectors.values()})


def _unrunnable(cfg: Config) -> dict[str, str]:
    """Cameras whose violation no judge implements, or whose judge cannot start (e.g. a model or
    trained parameters missing): camera id -> why. They are reported, never silently dropped."""
    from epatrol.judges import build_judges

    why = {}
    for camera in cfg.cameras:
        try:
            if not build_judges(camera, cfg):
                why[camera.id] = "no judge implements this violation"
        except Exception as e:  # the judge's own error names what is missing
            why[camera.id] = f"judge cannot start: {e}"
    for reason in sorted(set(why.values())):
        log.warning("eval: %d clip(s) not run: %s", sum(r == reason for r in why.values()), reason)
    return why


def default_models_dir() -> Path | None:
    """EPATROL_MODELS, else ../shared/models beside the checkout (as the demo), else the manifest's default."""
    if os.environ.get("EPATROL_MODELS"):
        return Path(os.environ["EPATROL_MODELS"])
    import epatrol

    shared = Path(epatrol.__file__).resolve().parents[2] / "shared" / "models"
    return shared if shared.is_dir() else None
