"""Region-state rules (a district's `region_state` rule, config/district.py): the zone's crop,
classified by the district's own region classifier (`epatrol train --task classify`; loaded with
epatrol.models.classifier.load_classifier), shows the rule's `state` (e.g. "violating") with
`min_score`, in `min_share` of the samples of the last `dwell_s` (sustained.py).

The crop and its hiding are the overflowing-bins judge's (detectors/bins/overflowing_bins.py): the
zone's bounding box grown by `margin`; a sample where `occluders` (the detector's person and vehicle
boxes) cover more than `max_occlusion` of it says nothing either way.

An officer's dismissal of the zone's event mutes the zone until its state clears (one unhidden
sample not showing it): the same look is not flagged again, a new one after it cleared is."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from epatrol.config import RegionStateRule
from epatrol.detectors.bins.overflowing_bins import covered_fraction, crop_box
from epatrol.detectors.episodes import Episode, EpisodeEvent, EpisodeKey
from epatrol.detectors.suppression import Suppressions
from epatrol.detectors.sustained import Sustained, SustainedZones
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample

log = logging.getLogger(__name__)


class RegionClassifier(Protocol):
    name: str
    sha256: str
    class_names: tuple[str, ...]

    def classify(self, crop_bgr: np.ndarray) -> np.ndarray: ...


class RegionStateJudge(SustainedZones):
    def __init__(
        self,
        camera_id: str,
        zones: list[ZoneShape],
        params: RegionStateRule,
        model: str,
        violation: str,
        classifier: RegionClassifier | None = None,
        models_dir: Path | None = None,
    ) -> None:
        """`model`: the detector whose boxes hide the crop; `classifier`: by default params.model
        loaded from `models_dir`."""
        self.violation = violation
        self.model = model
        self.params = params
        self.zones = list(zones)
        if classifier is None:
            from epatrol.models.classifier import (
                load_classifier,  # loaded only where a region rule runs
            )

            assert params.model is not None  # the config requires it
            classifier = load_classifier(params.model, models_dir)
        self.classifier = classifier
        if params.state not in classifier.class_names:
            raise ValueError(
                f"violations.custom.{violation}.state: the classifier {params.model} has no class {params.state!r} "
                f"(it has: {', '.join(classifier.class_names)})"
            )
        self.state_index = classifier.class_names.index(params.state)
        self.occluders = frozenset(params.occluders)
        self.episodes = {z.name: Episode(EpisodeKey(camera_id, z.name, violation), params.end_after_s, params.cooldown_s) for z in self.zones}
        self.suppressions = Suppressions(violation, params.suppress_iou)
        self.windows = {z.name: Sustained(params.dwell_s, params.min_share) for z in self.zones}
        self._muted: dict[str, int] = {}  # zone -> dismissed event whose look it shows
        self._accepted: set[int] = set()
        self.camera_id = camera_id

    def process(self, sample: Sample, detections: Detections) -> list[EpisodeEvent]:
        p = self.params
        now = sample.utc
        t = now.timestamp()
        frame = sample.frame
        h, w = frame.shape[:2]
        occluders = detections.of_classes(self.occluders)
        occluders = occluders.filter(occluders.confidence >= p.confidence)
        events: list[EpisodeEvent] = []
        for zone in self.zones:
            box = crop_box(zone, w, h, p.margin)
            self._accept_dismissed(zone.name, box)
            occlusion = covered_fraction(box, occluders.xyxy)
            score: float | None = None
            if occlusion <= p.max_occlusion:
                x1, y1, x2, y2 = box
                score = float(self.classifier.classify(frame[y1:y2, x1:x2])[self.state_index])
            shows = None if score is None else score >= p.min_score
            if shows is False:
                self._muted.pop(zone.name, None)  # the state cleared: a new one is flagged again
            window = self.windows[zone.name]
            window.add(t, shows)
            violating = bool(shows) and zone.name not in self._muted and window.holds(t)
            onset = window.onset()
            event = self.episodes[zone.name].observe(
                now,
                violating,
                onset=datetime.fromtimestamp(onset, timezone.utc) if onset is not None else now,
                detections=_crop_detection(box, score, p.state),
                details=self._details(box, score, occlusion, window) if violating else None,
                sample=sample,
            )
            if event is not None:
                events.append(event)
        return events

    def _accept_dismissed(self, zone: str, box: tuple[int, int, int, int]) -> None:
        hit = self.suppressions.match(zone, np.array([box], np.float32))[0]
        if hit is None or hit.event_id in self._accepted:
            return
        self._accepted.add(hit.event_id)
        self._muted[zone] = hit.event_id
        self.windows[zone].reset()
        log.info("camera %s zone %s: dismissed event %d: its look is not flagged again until the zone's state clears",
                 self.camera_id, zone, hit.event_id)

    def _details(self, box: tuple[int, int, int, int], score: float | None, occlusion: float, window: Sustained) -> dict[str, Any]:
        p = self.params
        return {
            "crop_xyxy": list(box),
            "score": None if score is None else round(score, 3),
            "occlusion": round(occlusion, 3),
            "share": round(window.share, 3),
            "samples": window.samples,
            "classifier": {"name": self.classifier.name, "sha256": self.classifier.sha256, "classes": list(self.classifier.class_names)},
            "rule": {"kind": "region_state", "state": p.state, "min_score": p.min_score, "dwell_s": p.dwell_s, "min_share": p.min_share},
        }



def _crop_detection(box: tuple[int, int, int, int], score: float | None, state: str) -> Detections:
    """The zone's crop as the event's box: drawn on the snapshot, and what a dismissal matches."""
    return Detections(np.array([box], np.float32), np.array([score or 0.0], np.float32), np.zeros(1, np.int32), (state,))
