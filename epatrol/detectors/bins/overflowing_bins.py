"""Overflowing bins (垃圾满溢): rubbish spilling from a bin or piled around it, persistently.

Cameras are fixed and bins stand where the operator drew the bin zone. Every `sample_every_s`
(default 10 s: bins fill over hours) the judge crops the zone's bounding box grown by `margin`
on each side (rubbish lies on the ground around the bin) and decides for that sample:

1. occluded?  person/vehicle boxes from the COCO detector covering more than `max_occlusion` of
   the crop: the sample says nothing (a van parked in front of the bin, a person dropping a bag).
2. score: the trained clean/overflowing classifier's P(overflowing) for the crop
   (epatrol/detectors/bins/bin_classifier.py, `epatrol train-bins`).
3. change: once the zone has a clean reference (the mean light-robust cell structure of
   `reference_samples` samples the classifier called clean, bin_reference.py), the crop must also
   differ from it in `min_change` of its cells: a score pushed up by night, a shadow or headlights
   on an unchanged scene is not rubbish. Measured on 15 held-out clean photos held as clips: dusk,
   a sweeping shadow, passing headlights at night and rain changed at most 0.041 of the cells;
   pasting the lower 15% / 30% of another photo over the scene changed a median 0.11 / 0.17. So
   min_change defaults to 0.08. The reference keeps following the clean scene while it is clean;
   a sample too dark or washed out to compare with it is not judged.

Before all of this, presence: a zone must hold a bin. Over its first `presence_samples` unhidden
samples the judge averages the presence classifier's P(bin) for the crop (bin_classifier.py: the
same backbone run as the score); below `min_presence` the zone is a configuration problem (drawn
over a stall's goods, over a pavement, or the bin was taken away): logged at start-up, listed in
`problems` (the camera's /healthz entry) and never judged again, so it can never alert. A zone with
a bin goes on as above; nothing alerts before its presence is established.

An officer's dismissal teaches the zone: when a dismissed event's crop box matches the zone's
(suppression.py), the zone's appearance at the next sample becomes its clean reference, so the
same scene ("that bin always looks like this") is not flagged again while new rubbish still is.

A sample is overflowing when score >= min_score (the trained threshold by default) and, with a
reference, change >= min_change. An episode starts when `persist_min_hits` overflowing samples fall
within `persist_window_s` (onset: the first of them), and ends `end_after_s` after the last one.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from epatrol.config import OverflowingBins
from epatrol.detectors.bins.bin_classifier import load_classifier
from epatrol.detectors.bins.bin_reference import structure, structure_change
from epatrol.detectors.episodes import Episode, EpisodeEnded, EpisodeEvent, EpisodeKey
from epatrol.detectors.suppression import Suppressions
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample

log = logging.getLogger(__name__)

VIOLATION = "overflowing_bins"
REFERENCE_FOLLOW = 0.1  # weight of a new clean sample in the reference once it is complete
MAX_RECENT = 12  # samples listed in an event's details


class BinScorer(Protocol):
    threshold: float  # P(overflowing) from which a crop is overflowing
    presence_threshold: float  # mean P(bin) from which a zone holds a bin

    def assess(self, bgr: np.ndarray) -> tuple[float, float]:
        """(P(overflowing), P(bin in the crop)) from one backbone run."""
        ...


def crop_box(zone: ZoneShape, width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """The zone's bounding box grown by `margin` of its size on each side, clipped to the frame."""
    pts = zone.pixels(width, height)
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    x1, y1 = int(max(0, np.floor(x1 - mx))), int(max(0, np.floor(y1 - my)))
    x2, y2 = int(min(width, np.ceil(x2 + mx))), int(min(height, np.ceil(y2 + my)))
    return x1, y1, max(x2, x1 + 2), max(y2, y1 + 2)


def covered_fraction(box: tuple[int, int, int, int], others: np.ndarray) -> float:
    """Share of `box` covered by the union of the (N, 4) xyxy boxes `others` (on a coarse grid)."""
    if len(others) == 0:
        return 0.0
    x1, y1, x2, y2 = box
    grid = 32
    sx, sy = grid / (x2 - x1), grid / (y2 - y1)
    mask = np.zeros((grid, grid), np.uint8)
    for bx1, by1, bx2, by2 in np.asarray(others, np.float32):
        a = (int(np.clip((bx1 - x1) * sx, 0, grid)), int(np.clip((by1 - y1) * sy, 0, grid)))
        b = (int(np.clip(np.ceil((bx2 - x1) * sx), 0, grid)), int(np.clip(np.ceil((by2 - y1) * sy), 0, grid)))
        mask[a[1] : b[1], a[0] : b[0]] = 1
    return float(mask.mean())


@dataclass
class _Look:
    utc: datetime
    score: float | None  # None: occluded, or too dark to compare with the reference: not judged
    change: float | None  # None: no clean reference yet
    overflowing: bool
    occlusion: float


@dataclass
class _ZoneState:
    looks: deque[_Look] = field(default_factory=deque)
    reference: np.ndarray | None = None
    reference_count: int = 0
    accepted: set[int] = field(default_factory=set)  # dismissed events whose scene is the reference
    presence: list[float] = field(default_factory=list)  # P(bin) of the first unhidden samples
    has_bin: bool | None = None  # None: not established yet

    def learn_clean(self, feats: np.ndarray, needed: int) -> None:
        if self.reference is None:
            self.reference, self.reference_count = feats.astype(np.float64), 1
        elif self.reference_count < needed:
            self.reference_count += 1
            self.reference += (feats - self.reference) / self.reference_count
        else:
            self.reference += REFERENCE_FOLLOW * (feats - self.reference)


class OverflowingBinsJudge:
    violation = VIOLATION

    def __init__(
        self,
        camera_id: str,
        zones: list[ZoneShape],
        params: OverflowingBins,
        model: str = "yolov8n_int8",
        classifier: BinScorer | None = None,
        models_dir: Path | None = None,
    ) -> None:
        """`classifier`: anything with score(crop) and threshold; by default the trained one on the
        yolov8n embedding from `models_dir` (shared by every camera of the process)."""
        if not zones:
            raise ValueError(f"camera {camera_id}: overflowing_bins needs a bin zone drawn around each bin")
        self.model = model  # a COCO detector: its person/vehicle boxes tell when the bin is hidden
        self.params = params
        self.zones = list(zones)
        if classifier is None:
            if models_dir is None:
                raise ValueError("OverflowingBinsJudge needs a classifier or the models folder (for its yolov8n embedding)")
            classifier = load_classifier(models_dir)
        self.classifier = classifier
        self.min_score = params.min_score if params.min_score is not None else self.classifier.threshold
        self.min_presence = params.min_presence if params.min_presence is not None else self.classifier.presence_threshold
        self.camera_id = camera_id
        self.zone_problems: dict[str, str] = {}  # zone -> why it is not judged
        self.occluders = frozenset(params.occluders)
        self.episodes = {z.name: Episode(EpisodeKey(camera_id, z.name, VIOLATION), params.end_after_s, params.cooldown_s) for z in self.zones}
        self.suppressions = Suppressions(VIOLATION, params.suppress_iou)
        self.states = {z.name: _ZoneState() for z in self.zones}

    def process(self, sample: Sample, detections: Detections) -> list[EpisodeEvent]:
        p = self.params
        now = sample.utc
        frame = sample.frame
        h, w = frame.shape[:2]
        occluders = detections.of_classes(self.occluders)
        occluders = occluders.filter(occluders.confidence >= p.confidence)
        events: list[EpisodeEvent] = []
        for zone in self.zones:
            state = self.states[zone.name]
            if state.has_bin is False:
                continue  # no bin in this zone: a configuration problem, never an alert
            box = crop_box(zone, w, h, p.margin)
            self._accept_dismissed(zone.name, state, frame, box)
            look = self._look(zone.name, state, frame, box, occluders.xyxy, now)
            while state.looks and (now - state.looks[0].utc).total_seconds() > max(p.persist_window_s, p.end_after_s):
                state.looks.popleft()
            state.looks.append(look)
            if look.score is None:
                continue  # hidden: no evidence either way
            window = [lk for lk in state.looks if (now - lk.utc).total_seconds() <= p.persist_window_s + 1e-6]
            hits = [lk for lk in window if lk.overflowing]
            # Before the episode: persistence decides. Once open, each overflowing sample keeps it
            # going and end_after_s without one ends it.
            episode = self.episodes[zone.name]
            violating = state.has_bin is True and look.overflowing and (episode.is_open or len(hits) >= p.persist_min_hits)
            event = episode.observe(
                now,
                violating,
                onset=hits[0].utc if hits else now,
                detections=_crop_detection(box, look.score),
                details=self._details(zone, box, state, hits) if violating else None,
                sample=sample,
                summary=None,
            )
            if event is not None:
                events.append(event)
        return events

    def _accept_dismissed(self, zone: str, state: _ZoneState, frame: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """A newly dismissed event on this crop: what the zone shows now is its normal look."""
        hit = self.suppressions.match(zone, np.array([box], np.float32))[0]
        if hit is None or hit.event_id in state.accepted:
            return
        state.accepted.add(hit.event_id)
        x1, y1, x2, y2 = box
        state.reference = structure(frame[y1:y2, x1:x2]).astype(np.float64)
        state.reference_count = self.params.reference_samples
        state.looks.clear()
        log.info("zone %s: dismissed event %d taken as the bin's clean look", zone, hit.event_id)

    @property
    def problems(self) -> list[str]:
        """Configuration problems found in what the camera shows (read into the camera's health)."""
        return [f"zone {z}: {why}" for z, why in sorted(self.zone_problems.items())]

    def _establish_presence(self, zone: str, state: _ZoneState, presence: float) -> None:
        p = self.params
        state.presence.append(presence)
        if len(state.presence) < p.presence_samples:
            return
        mean = float(np.mean(state.presence))
        state.has_bin = mean >= self.min_presence
        if state.has_bin:
            log.info("camera %s zone %s: bin present (mean P(bin) %.2f over %d samples)", self.camera_id, zone, mean, len(state.presence))
            return
        why = (f"no bin seen in the overflowing_bins zone (mean P(bin) {mean:.2f} < {self.min_presence:.2f} over "
               f"{len(state.presence)} samples): redraw the zone around the bin; it will not alert")
        self.zone_problems[zone] = why
        log.warning("camera %s zone %s: configuration problem: %s", self.camera_id, zone, why)

    def _look(self, zone: str, state: _ZoneState, frame: np.ndarray, box: tuple[int, int, int, int], occluders: np.ndarray, now: datetime) -> _Look:
        p = self.params
        occlusion = covered_fraction(box, occluders)
        if occlusion > p.max_occlusion:
            return _Look(now, None, None, False, occlusion)
        x1, y1, x2, y2 = box
        crop = frame[y1:y2, x1:x2]
        score, presence = self.classifier.assess(crop)
        if state.has_bin is None:
            self._establish_presence(zone, state, presence)
        feats = structure(crop)
        ready = state.reference is not None and state.reference_count >= p.reference_samples
        change = structure_change(state.reference, feats) if ready else None
        if ready and change is None:
            return _Look(now, None, None, False, occlusion)  # too dark or washed out to compare: unseen
        overflowing = score >= self.min_score and (change is None or change >= p.min_change)
        if score < self.min_score:
            state.learn_clean(feats, p.reference_samples)
        return _Look(now, score, change, overflowing, occlusion)

    def _details(self, zone: ZoneShape, box: tuple[int, int, int, int], state: _ZoneState, hits: list[_Look]) -> dict[str, Any]:
        p = self.params
        return {
            "zone": zone.name,
            "crop_xyxy": list(box),
            "overflowing_samples": len(hits),
            "bin_presence": round(float(np.mean(state.presence)), 3) if state.presence else None,
            "clean_reference": state.reference is not None and state.reference_count >= p.reference_samples,
            "dismissed_looks_accepted": sorted(state.accepted),
            "rule": {
                "min_score": round(self.min_score, 3),
                "min_change": p.min_change,
                "persist": f">= {p.persist_min_hits} overflowing samples in {p.persist_window_s} s",
                "max_occlusion": p.max_occlusion,
            },
            "samples": [
                {
                    "utc": lk.utc.isoformat(),
                    "score": None if lk.score is None else round(lk.score, 3),
                    "change": None if lk.change is None else round(lk.change, 3),
                    "occlusion": round(lk.occlusion, 2),
                    "overflowing": lk.overflowing,
                }
                for lk in list(state.looks)[-MAX_RECENT:]
            ],
        }

    def close(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        # The clean reference survives: the bin and the camera are where they were.
        for s in self.states.values():
            s.looks.clear()
        ended = [e.close(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]

    def suspend(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        """The camera dropped and will reconnect: open episodes end resumable (episodes.py)."""
        for s in self.states.values():
            s.looks.clear()
        ended = [e.suspend(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]


def _crop_detection(box: tuple[int, int, int, int], score: float | None) -> Detections:
    """The bin crop as the event's box: drawn on the snapshot, and what a dismissal matches."""
    return Detections(
        np.array([box], np.float32),
        np.array([score or 0.0], np.float32),
        np.zeros(1, np.int32),
        ("overflowing bin",),
    )
