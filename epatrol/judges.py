"""The violation judges a camera runs: which, built from its zones and the configuration, with the
rules every judge shares (the zone's schedule, the violation's cooldown). The district's own
violations (`violations.custom`) get the judge of their rule kind, checked against their model's
classes first (check_custom: a rule naming a class its model lacks is an error, never a silent no-op)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from epatrol.config import (
    Camera,
    Config,
    ConfigError,
    CountRule,
    CustomRule,
    DwellRule,
    RegionStateRule,
    SceneChangeRule,
    Violation,
)
from epatrol.detectors.bins.overflowing_bins import OverflowingBinsJudge
from epatrol.detectors.counting import CountJudge
from epatrol.detectors.episodes import Episode, EpisodeEnded, EpisodeEvent
from epatrol.detectors.fire.open_burning import OpenBurningJudge
from epatrol.detectors.parked_bikes import DwellJudge, ParkedBikesJudge
from epatrol.detectors.region_state import RegionStateJudge
from epatrol.detectors.schedule import zone_schedule
from epatrol.detectors.street_vending import StreetVendingJudge
from epatrol.detectors.zone_reference import zone_references
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.models.manifest import ModelError, get_spec, resolve_models_dir
from epatrol.streams.packets import Sample

log = logging.getLogger(__name__)


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
    """The camera's judges: one per violation its zones watch (config validation guarantees each
    name is built-in or custom). ConfigError when a custom rule does not fit its model."""

    def zones(v: str) -> list[ZoneShape]:
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
    custom = [name for name in cfg.violations.custom if zones(name)]
    if custom:
        models_dir = resolve_models_dir(cfg.models.dir)
        if problems := check_custom(cfg, models_dir, custom):
            raise ConfigError("; ".join(problems))  # `epatrol run` says it and exits 2
        judges.extend(_custom_judge(camera, name, zones(name), cfg, models_dir) for name in custom)
    for judge in judges:
        _apply_rules(judge, camera, cfg)
    return judges


def _custom_judge(camera: Camera, name: str, shapes: list[ZoneShape], cfg: Config, models_dir: Path) -> Judge:
    """The judge of a custom rule's kind, named after the rule (its events, cooldown, suppressions)."""
    camera_id = camera.id
    rule = cfg.violations.custom[name]
    detector = _detector_of(rule, cfg)
    if isinstance(rule, DwellRule):
        return DwellJudge(camera_id, shapes, rule, model=detector, violation=name)
    if isinstance(rule, CountRule):
        return CountJudge(camera_id, shapes, rule, model=detector, violation=name)
    if isinstance(rule, SceneChangeRule):
        return StreetVendingJudge(camera_id, shapes, rule, model=detector, references=zone_references(camera, cfg.storage.root),
                                  storage=cfg.storage.root, violation=name)
    assert isinstance(rule, RegionStateRule)
    return RegionStateJudge(camera_id, shapes, rule, model=detector, violation=name, models_dir=models_dir)


def _detector_of(rule: CustomRule, cfg: Config) -> str:
    """The detector a custom rule's judge runs (a region_state rule's `model` is its classifier)."""
    return (rule.detector if isinstance(rule, RegionStateRule) else rule.model) or cfg.models.detector


def check_custom(cfg: Config, models_dir: Path | None, names: list[str] | None = None) -> list[str]:
    """What is wrong with the custom rules (all, or those named) against their models' manifest
    entries: an unknown model, a model of the wrong task, a class the model lacks. One line each,
    naming the field; [] when they fit."""
    problems: list[str] = []
    for name in cfg.violations.custom if names is None else names:
        rule = cfg.violations.custom[name]
        where = f"violations.custom.{name}"
        detector_field = "detector" if isinstance(rule, RegionStateRule) else "model"
        detector = _detector_of(rule, cfg)
        wanted: dict[str, list[str]] = {"classes": list(getattr(rule, "classes", []))}
        if isinstance(rule, SceneChangeRule):
            wanted["explained_classes"] = list(rule.explained_classes)
        if isinstance(rule, RegionStateRule):
            wanted = {"occluders": list(rule.occluders)}
            problems += _check_model(f"{where}.model", rule.model or "", "classify", {"state": [rule.state]}, models_dir)
        problems += _check_model(f"{where}.{detector_field}", detector, "detect", wanted, models_dir)
    return problems


def _check_model(where: str, name: str, task: str, wanted: dict[str, list[str]], models_dir: Path | None) -> list[str]:
    try:
        spec = get_spec(name, models_dir)
    except ModelError as e:
        return [f"{where}: {e}"]
    has = getattr(spec, "task", "detect")
    if has != task:
        kind = "a region classifier (task classify)" if task == "classify" else "a detector (task detect)"
        return [f"{where}: the model {name} is a {has} model; this needs {kind}"]
    field = where.rsplit(".", 1)[0]
    return [
        f"{field}.{key}: the model {name} has no class {c!r} (it has: {', '.join(spec.class_names)})"
        for key, classes in wanted.items() for c in classes if c not in spec.class_names
    ]


def _apply_rules(judge: Judge, camera: Camera, cfg: Config) -> None:
    """The rules every judge shares, set on its episodes: the zone's schedule (its own, else the
    site's default for the violation) and the violation's cooldown."""
    for zone, episode in judge.episodes.items():
        episode.schedule = zone_schedule(camera, zone, judge.violation, cfg.sites, cfg.review.timezone)
        episode.cooldown_s = getattr(judge.params, "cooldown_s", episode.cooldown_s)


def on_duty(judge: Judge, utc: datetime) -> bool:
    """A judge none of whose zones is in its active window (and none open) needs no inference."""
    return any(e.is_open or e.active(utc) for e in judge.episodes.values())


def models_for(camera: Camera, cfg: Config) -> set[str]:
    """The detectors the camera's judges run, as build_judges sets them, read from the configuration
    alone: building a judge loads its own models (the bins embedding, a district classifier)."""
    names: set[str] = set()
    for violation in {v for z in camera.zones for v in z.violations}:
        if violation == Violation.open_burning:
            names.add(OpenBurningJudge.model)
        elif violation in cfg.violations.custom:
            names.add(_detector_of(cfg.violations.custom[violation], cfg))
        else:  # the other built-ins judge the configured COCO detector's boxes
            names.add(cfg.models.detector)
    return names


def required_models(cfg: Config) -> set[str]:
    """Every detector the enabled cameras' judges need (loaded once, shared by all cameras).
    ConfigError, before anything loads, when a custom rule a camera watches does not fit its model."""
    cameras = [c for c in cfg.cameras if c.enabled]
    watched = {v for c in cameras for z in c.zones for v in z.violations}
    custom = [name for name in cfg.violations.custom if name in watched]
    if custom and (problems := check_custom(cfg, resolve_models_dir(cfg.models.dir), custom)):
        raise ConfigError("; ".join(problems))
    return set().union(*(models_for(c, cfg) for c in cameras))
