"""Tracking of slow things: IoU matching with wall-clock memory.

Built for sparse sampling (one frame a second or less) of objects that stand still for
minutes or hours: a track survives missed detections and occlusions for `max_age_s` of
wall-clock time and knows how long it has stood still. Time the camera was away (`pause`, until
the next update) is not time the object went unseen: a bike parked before a camera outage and
still there after it keeps its track, its rest time and so its episode.

Measured against ByteTrack (`trackers` 2.6.1) on the same cached yolov8n detections of the
parked-bike footage at 1 sample/s (the bike detected in 28 of 60 samples): ByteTrack's
defaults never track the bike (its 0.6/0.7 thresholds sit above every bike score); tuned
(thresholds 0.3, a 30 s lost-track buffer) it keeps one ID through a 16 s occlusion, as this
tracker does, but names the bike 4 s later (26 of 28 detections against 28 of 28) and costs
3-5x the CPU per update. `trackers` also requires opencv-python over the headless build.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from epatrol.models.detections import Detections


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(-1, 1, 4)
    b = b.reshape(1, -1, 4)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _diagonal(box: np.ndarray) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


@dataclass
class Track:
    id: int
    label: str
    box: np.ndarray  # latest xyxy
    confidence: float
    first_seen: datetime
    last_seen: datetime
    still_since: datetime  # when it last moved more than the motion limit
    anchor: np.ndarray  # box where it came to rest
    hits: int = 1
    hits_since_still: int = 1
    history: list[tuple[datetime, float]] = field(default_factory=list)  # (utc, confidence) of recent hits

    def still_for_s(self, now: datetime) -> float:
        return (now - self.still_since).total_seconds()


class StillTracker:
    def __init__(self, iou_threshold: float = 0.3, max_age_s: float = 60.0, max_motion: float = 0.35) -> None:
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.max_motion = max_motion  # in box diagonals, measured from where the object came to rest
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._offline: list[tuple[datetime, datetime]] = []  # camera outages the live tracks span
        self._paused_at: datetime | None = None

    def reset(self) -> None:
        """Forget every track (their boxes no longer mean anything, e.g. a new resolution); ids go on."""
        self.tracks = []
        self._offline = []
        self._paused_at = None

    def pause(self, utc: datetime) -> None:
        """The camera went away; the time until the next update is not counted against tracks."""
        if self._paused_at is None:
            self._paused_at = utc

    def observed_s(self, since: datetime, now: datetime) -> float:
        """Seconds from `since` to `now` during which the camera was watching."""
        total = (now - since).total_seconds()
        for start, end in self._offline:
            total -= max(0.0, (min(end, now) - max(start, since)).total_seconds())
        return total

    def update(self, detections: Detections, utc: datetime) -> list[Track]:
        """Match this sample's detections; return the tracks seen in it."""
        if self._paused_at is not None:
            if utc > self._paused_at:
                self._offline.append((self._paused_at, utc))
            self._paused_at = None
        self.tracks = [t for t in self.tracks if self.observed_s(t.last_seen, utc) <= self.max_age_s]
        oldest = min((t.first_seen for t in self.tracks), default=utc)
        self._offline = [(a, b) for a, b in self._offline if b > oldest]
        boxes = detections.xyxy
        seen: list[Track] = []
        unmatched = set(range(len(boxes)))
        if self.tracks and len(boxes):
            ious = iou_matrix(np.stack([t.box for t in self.tracks]), boxes)
            # Greedy on IoU: the handful of objects in a zone does not need an optimal assignment.
            for ti, di in sorted(np.argwhere(ious >= self.iou_threshold), key=lambda p: -ious[p[0], p[1]]):
                track = self.tracks[ti]
                if di not in unmatched or track in seen:
                    continue
                unmatched.discard(di)
                self._hit(track, boxes[di], float(detections.confidence[di]), detections.labels[di], utc)
                seen.append(track)
        for di in sorted(unmatched):
            box = boxes[di].copy()
            conf = float(detections.confidence[di])
            track = Track(next(self._ids), detections.labels[di], box, conf, utc, utc, utc, box.copy())
            track.history.append((utc, conf))
            self.tracks.append(track)
            seen.append(track)
        return seen

    def _hit(self, track: Track, box: np.ndarray, conf: float, label: str, utc: datetime) -> None:
        moved = np.linalg.norm(_centre(box) - _centre(track.anchor)) / max(_diagonal(track.anchor), 1.0)
        if moved > self.max_motion:
            track.anchor = box.copy()
            track.still_since = utc
            track.hits_since_still = 0
        track.box = box.copy()
        track.label = label
        track.confidence = conf
        track.last_seen = utc
        track.hits += 1
        track.hits_since_still += 1
        track.history = (track.history + [(utc, conf)])[-20:]
