"""The violation judges a camera runs: which, built from its zones and the configuration, with the
rules every judge shares (the zone's schedule, the violation's cooldown)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from epatrol.config import Camera, Config, Violation
from epatrol.detectors.bins.overflowing_bins import OverflowingBinsJudge
from epatrol.detectors.episodes import Episode, EpisodeEnded, EpisodeEvent
from epatrol.detectors.fire.open_burning import OpenBurningJudge
from epatrol.detectors.parked_bikes import ParkedBikesJudge
from epatrol.detectors.schedule import zone_schedule
from epatrol.detectors.street_vending import StreetVendingJudge
from epatrol.detectors.zone_reference import zone_references
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.models.manifest import resolve_models_dir
from epatrol.streams.packets import Sample

log = logging.getLogger(__name__)

IMPLEMENTED = {Violation.parked_bikes, Violation.open_burning, Violation.overflowing_bins, Violation.street_vending}


class Judge(Protocol):
    """What the worker needs of a violation judge (see detectors/)."""

    violation: str
    model: str  # manifest name of the detector whose output it judges
    params: Any  # its config section: .sample_every_s, .confidence, .cooldown_s
    # One per zone; build_judges sets the shared rules on them (schedule, cooldown). Optional:
    # `suppressions` (detectors/suppression.py), refreshed from officers' dismissals, and
    # `suspend(utc, reason)` (like close, for a camera that will reconnect: see episodes.py).
    episodes: dict[str, Episode]

    def process(self, sample: Sample, detections: Detections) -> list[EpisodeEvent]: ...

    def close(self, utc: datetime, reason: str) -> list[EpisodeEnded]: ...


def build_judges(camera: Camera, cfg: Config) -> list[Judge]:
    for zone in camera.zones:
        for v in zone.violations:
            if v not in IMPLEMENTED:
                log.warning("camera %s zone %s: violation %s is not implemented yet; ignored", camera.id, zone.name, v.value)

    def zones(v: Violation) -> list[ZoneShape]:
        return [ZoneShape(z.name, tuple(z.polygon)) for z in camera.zones if v in z.violations]

    judges: list[Judge] = []
    if bikes := zones(Violation.parked_bikes):
        judges.append(ParkedBikesJudge(camera.id, bikes, cfg.violations.parked_bikes, model=cfg.models.detector))
    if vending := zones(Violation.street_vending):
        judges.append(StreetVendingJudge(camera.id, vending, cfg.violations.street_vending, model=cfg.models.detector,
                                         references=zone_references(camera, cfg.storage.root), storage=cfg.storage.root))
    if fire := zones(Violation.open_burning):
        judges.append(OpenBurningJudge(camera.id, fire, cfg.violations.open_burning))
    if bins := zones(Violation.overflowing_bins):
        judges.append(OverflowingBinsJudge(camera.id, bins, cfg.violations.overflowing_bins, model=cfg.models.detector, models_dir=resolve_models_dir(cfg.models.dir)))
    for judge in judges:
        _apply_rules(judge, camera, cfg)
    return judges


def _apply_rules(judge: Judge, camera: Camera, cfg: Config) -> None:
    """The rules every judge shares, set on its episodes: the zone's schedule (its own, else the
    site's default for the violation) and the violation's cooldown."""
    for zone, episode in judge.episodes.items():
        episode.schedule = zone_schedule(camera, zone, judge.violation, cfg.sites, cfg.review.timezone)
        episode.cooldown_s = getattr(judge.params, "cooldown_s", episode.cooldown_s)


def on_duty(judge: Judge, utc: datetime) -> bool:
    """A judge none of whose zones is in its active window (and none open) needs no inference."""
    return any(e.is_open or e.active(utc) for e in judge.episodes.values())


def required_models(cfg: Config) -> set[str]:
    """Every detector the enabled cameras' judges need (loaded once, shared by all cameras)."""
    return {j.model for c in cfg.cameras if c.enabled for j in build_judges(c, cfg)}
