"""Count rules (a district's `count` rule, config/district.py): at least `min_count` objects of
`classes` in a zone, placed by where they touch the ground (their box's bottom centre), in
`min_share` of the samples of the last `dwell_s` (sustained.py). People gathering, a row of
tricycles, trucks queuing: no object needs to stand still (that is the dwell rule).

Objects overlapping a box of an event an officer dismissed (suppression.py) are not counted."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from epatrol.config import CountRule
from epatrol.detectors.episodes import Episode, EpisodeEvent, EpisodeKey
from epatrol.detectors.suppression import Suppressions
from epatrol.detectors.sustained import Sustained, SustainedZones
from epatrol.detectors.zones import ZoneShape, bottom_centres
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample


class CountJudge(SustainedZones):
    def __init__(self, camera_id: str, zones: list[ZoneShape], params: CountRule, model: str, violation: str) -> None:
        self.violation = violation
        self.model = model  # a detector from the manifest that knows params.classes
        self.params = params
        self.zones = list(zones)
        self.classes = frozenset(params.classes)
        self.episodes = {z.name: Episode(EpisodeKey(camera_id, z.name, violation), params.end_after_s, params.cooldown_s) for z in self.zones}
        self.suppressions = Suppressions(violation, params.suppress_iou)
        self.windows = {z.name: Sustained(params.dwell_s, params.min_share) for z in self.zones}

    def process(self, sample: Sample, detections: Detections) -> list[EpisodeEvent]:
        p = self.params
        now = sample.utc
        t = now.timestamp()
        h, w = sample.frame.shape[:2]
        objects = detections.of_classes(self.classes)
        objects = objects.filter(objects.confidence >= p.confidence)
        feet = bottom_centres(objects.xyxy)
        events: list[EpisodeEvent] = []
        for zone in self.zones:
            inside = objects.filter(zone.contains(feet, w, h)) if len(objects) else objects
            hits = self.suppressions.match(zone.name, inside.xyxy)
            counted = inside.filter(np.array([hit is None for hit in hits], bool))
            suppressed = [(box, hit) for box, hit in zip(inside.xyxy, hits) if hit is not None]
            reached = len(counted) >= p.min_count
            window = self.windows[zone.name]
            window.add(t, reached)
            violating = reached and window.holds(t)
            onset = window.onset()
            event = self.episodes[zone.name].observe(
                now,
                violating,
                onset=datetime.fromtimestamp(onset, timezone.utc) if onset is not None else now,
                detections=counted,
                details=self._details(counted, suppressed, window) if violating else None,
                sample=sample,
            )
            if event is not None:
                events.append(event)
        return events

    def _details(self, counted: Detections, suppressed: list, window: Sustained) -> dict[str, Any]:
        p = self.params
        return {
            "count": len(counted),
            "objects": counted.to_records(),
            "share": round(window.share, 3),  # of the window's samples that reached min_count
            "samples": window.samples,
            "suppressed": [{"xyxy": [round(float(v), 1) for v in box], **hit.as_detail()} for box, hit in suppressed],
            "rule": {"kind": "count", "classes": list(p.classes), "min_count": p.min_count, "dwell_s": p.dwell_s, "min_share": p.min_share},
        }
