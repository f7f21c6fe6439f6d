"""Parked bikes (非机动车乱停放): bicycles and motorbikes left standing in a no-parking zone; and
any object left standing in a zone (DwellJudge: a district's `dwell` rule, config/district.py).

A bike is parked when its track has stood still (within `max_motion` box diagonals) inside
the zone for `dwell_s`. A zone with `min_count` parked bikes is in violation. A bike ridden
through never stands still long enough; one hidden for a while by a passer-by keeps its track.
A parked bike overlapping a box of an event an officer dismissed (suppression.py) does not count;
one still there after a camera outage resumes its episode (episodes.py) instead of alerting again."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np

from epatrol.config import DwellRule, ParkedBikes
from epatrol.detectors.episodes import Episode, EpisodeEnded, EpisodeEvent, EpisodeKey
from epatrol.detectors.suppression import Suppressed, Suppressions
from epatrol.detectors.tracking import StillTracker, Track
from epatrol.detectors.zones import ZoneShape, bottom_centres
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample

log = logging.getLogger(__name__)

VIOLATION = "parked_bikes"
# Share of the samples since a bike came to rest in which it must have been detected:
# a parked bike is seen most of the time; a flickering false positive is not.
MIN_SEEN_FRACTION = 0.3


class DwellJudge:
    """Objects of `params.classes` standing still in a zone for `params.dwell_s`; `violation` names
    what they are (parked_bikes, or a district's dwell rule)."""

    def __init__(
        self, camera_id: str, zones: list[ZoneShape], params: ParkedBikes | DwellRule, model: str = "yolov8n_int8", violation: str = VIOLATION,
    ) -> None:
        self.violation = violation
        self.model = model  # a detector from the manifest that knows params.classes
        self.params = params
        self.zones = zones
        self.classes = frozenset(params.classes)
        # A track outlives an occlusion as long as the zone's episode would.
        self.tracker = StillTracker(max_age_s=params.end_after_s, max_motion=params.max_motion)
        self.episodes = {
            z.name: Episode(EpisodeKey(camera_id, z.name, violation), params.end_after_s, params.cooldown_s) for z in zones
        }
        self.suppressions = Suppressions(violation, params.suppress_iou)
        self._frame_size: tuple[int, int] | None = None
        self.camera_id = camera_id
        self._told: set[int] = set()  # tracks whose suppression was logged

    def _is_parked(self, track: Track, now: datetime) -> bool:
        # Expected sightings count only the time the camera was watching (not an outage).
        expected = max(1.0, self.tracker.observed_s(track.still_since, now) / self.params.sample_every_s)
        return track.still_for_s(now) >= self.params.dwell_s and track.hits_since_still >= MIN_SEEN_FRACTION * expected

    def process(self, sample: Sample, detections: Detections) -> list[EpisodeEvent]:
        bikes = detections.of_classes(self.classes)
        bikes = bikes.filter(bikes.confidence >= self.params.confidence)
        now = sample.utc
        h, w = sample.frame.shape[:2]
        if self._frame_size not in (None, (w, h)):  # a new resolution after a reconnect: old boxes mean nothing
            self.tracker.reset()
        self._frame_size = (w, h)
        self.tracker.update(bikes, now)
        # Live tracks, including those missed in this sample (occluded), still count.
        tracks = self.tracker.tracks
        self._told &= {t.id for t in tracks}
        feet = bottom_centres(np.stack([t.box for t in tracks])) if tracks else np.zeros((0, 2))
        events: list[EpisodeEvent] = []
        for zone in self.zones:
            inside = zone.contains(feet, w, h) if tracks else np.zeros(0, bool)
            parked = [t for t, ok in zip(tracks, inside) if ok and self._is_parked(t, now)]
            hits = self.suppressions.match(zone.name, np.stack([t.box for t in parked]) if parked else np.zeros((0, 4)))
            suppressed = [(t, hit) for t, hit in zip(parked, hits) if hit is not None]
            parked = [t for t, hit in zip(parked, hits) if hit is None]
            for t, hit in suppressed:
                if t.id not in self._told:
                    self._told.add(t.id)
                    log.info("camera %s zone %s: parked %s (track %d) is the object of dismissed event %d: not flagged",
                             self.camera_id, zone.name, t.label, t.id, hit.event_id)
            violating = len(parked) >= self.params.min_count
            event = self.episodes[zone.name].observe(
                now,
                violating,
                onset=min((t.still_since for t in parked), default=now),
                detections=_as_detections(parked, detections.class_names),
                details=self._details(parked, suppressed, now),
                sample=sample,
                summary=frozenset(t.id for t in parked),
                seen_at=max((t.last_seen for t in parked), default=now),
            )
            if event is not None:
                events.append(event)
        return events

    def _details(self, parked: list[Track], suppressed: list[tuple[Track, Suppressed]], now: datetime) -> dict[str, Any]:
        return {
            "count": len(parked),
            "dwell_s": self.params.dwell_s,
            "tracks": [
                {
                    "track_id": t.id,
                    "label": t.label,
                    "still_since": t.still_since.isoformat(),
                    "still_for_s": round(t.still_for_s(now), 1),
                    "hits": t.hits_since_still,
                    "xyxy": [round(float(v), 1) for v in t.box],
                    "seen": [(u.isoformat(), round(c, 3)) for u, c in t.history[-5:]],
                }
                for t in parked
            ],
            # Parked here too, but the object of an event an officer dismissed: not counted.
            "suppressed": [
                {"track_id": t.id, "label": t.label, "xyxy": [round(float(v), 1) for v in t.box], **hit.as_detail()}
                for t, hit in suppressed
            ],
        }

    def close(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        ended = [e.close(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]

    def suspend(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        """The camera dropped and will reconnect: tracks wait for it (the outage is not unseen
        time), and each open episode ends resumable."""
        self.tracker.pause(utc)
        ended = [e.suspend(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]


class ParkedBikesJudge(DwellJudge):
    """Parked bikes: the dwell judge with the `violations.parked_bikes` rules."""

    violation = VIOLATION

    def __init__(self, camera_id: str, zones: list[ZoneShape], params: ParkedBikes, model: str = "yolov8n_int8") -> None:
        super().__init__(camera_id, zones, params, model, VIOLATION)


def _as_detections(tracks: list[Track], class_names: tuple[str, ...]) -> Detections:
    if not tracks:
        return Detections.empty(class_names)
    index = {n: i for i, n in enumerate(class_names)}
    return Detections(
        np.stack([t.box for t in tracks]).astype(np.float32),
        np.array([t.confidence for t in tracks], np.float32),
        np.array([index.get(t.label, 0) for t in tracks], np.int32),
        class_names,
    )
