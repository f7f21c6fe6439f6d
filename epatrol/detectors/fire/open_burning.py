"""Open burning (露天焚烧): fire in the street, confirmed over time before anyone is alerted.

The fire_smoke model alone is not evidence: it calls a red logo, a photo of a fire, fog from a
security fogger or a washed-out CCTV frame "fire" or "smoke", often for many samples in a row. A
candidate region (a fire or smoke box at `confidence` or more) is followed across samples
(fire_features.RegionTracker), and at every sample its features over the last few seconds are
measured (fire_features.FEATURES: persistence, flicker, shape change, flame colour, detector score,
box size, growth, rise, drift, texture and its change). A region is CONFIRMED when

1. it was detected in at least `persist_min_hits` samples of the window (3 of 4 s: a one-frame
   false positive never confirms, whatever else it shows), and
2. the fitted score of its kind (fire, smoke) reaches the decision file's threshold.

The score is an L2 logistic regression on all the cues, fitted by `epatrol fit-fire` on real
scenes (epatrol/training/: fire-smoke-cctv sequences, the aerial burn, foggers, `default` scenes,
fire photos held still, walkers, brake lights) with folds grouped by scene, and shipped in
detectors/fire/data/fire_decision.json. A weighted sum lets strong cues outvote a weak one: a large
steady fire seen close barely changes its box size (shape change 0.01-0.05) but persists and
flickers hard, and is confirmed; the hand-set rule it replaces (flicker >= 6 AND shape change >= 0.1)
let that one cue veto it. The threshold is set so that no negative scene of the fit is confirmed
(cross-validated and in-sample); the figures, and what the small negative set can and cannot bound,
are in docs/reports/open_burning.md.

Smoke alone alerts (`smoke_alone`, on by default): open burning of rubbish, leaves or straw is mostly
smoke. Its score leans on growth, drift, rise and texture change; white fogger fog, which the model
calls smoke at 0.5-0.9 and which churns like smoke, is among the fit's negatives. With
`smoke_alone` off, smoke regions are only listed beside a confirmed flame.

Zones: a zone watching open_burning counts a confirmed region whose BOX overlaps the zone (not its
bottom-centre: smoke and flames rise above what burns). A camera with no zone for the violation
watches the whole frame (zone name "frame"). One episode per zone: it starts when a region is
confirmed (onset: that region's first sighting) and ends `end_after_s` after the last confirmed
sighting; it is updated when the kinds confirmed change (fire, fire + smoke). A confirmed region
overlapping a box of an event an officer dismissed (IoU >= `suppress_iou`, suppression.py) does not
count (a flickering sign dismissed once stays dismissed) and is listed in the details' "suppressed".
Event details record each region's cues, its score, the threshold and the decision file's version.

Cost: the cues look at the box shrunk to 64 px once: 0.06-0.3 ms per box whatever its size, about
1-2 ms per sample with matching, scoring and zones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from epatrol.config import OpenBurning
from epatrol.detectors.episodes import Episode, EpisodeEnded, EpisodeEvent, EpisodeKey
from epatrol.detectors.fire.fire_features import (
    FIRE,
    SMOKE,
    FireDecision,
    Region,
    RegionTracker,
    region_features,
)
from epatrol.detectors.suppression import Suppressed, Suppressions
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample

VIOLATION = "open_burning"
MODEL = "fire_smoke"
WHOLE_FRAME = ZoneShape("frame", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))
_DECISIONS: dict[str, FireDecision] = {}  # loaded once per file per process


def load_decision(path: Path | None) -> FireDecision:
    key = str(path)
    if key not in _DECISIONS:
        _DECISIONS[key] = FireDecision.load(path)
    return _DECISIONS[key]


@dataclass(frozen=True)
class Verdict:
    region: Region
    confirmed: bool
    score: float
    cues: dict[str, Any]


class OpenBurningJudge:
    violation = VIOLATION
    model = MODEL

    def __init__(self, camera_id: str, zones: list[ZoneShape], params: OpenBurning, decision: FireDecision | None = None) -> None:
        self.params = params
        self.decision = decision or load_decision(params.decision)
        self.window_s = params.persist_window_s or self.decision.window_s
        possible = int(self.window_s / params.sample_every_s + 1e-9) + 1
        if params.persist_min_hits > possible:
            raise ValueError(f"persist_min_hits={params.persist_min_hits} can never be reached in {self.window_s} s at {params.sample_every_s} s")
        self.zones = list(zones) or [WHOLE_FRAME]
        self.episodes = {
            z.name: Episode(EpisodeKey(camera_id, z.name, VIOLATION), params.end_after_s, params.cooldown_s) for z in self.zones
        }
        self.suppressions = Suppressions(VIOLATION, params.suppress_iou)
        self.tracker = RegionTracker(self.window_s)
        self._masks: dict[tuple[int, int], list[np.ndarray]] = {}

    @property
    def regions(self) -> list[Region]:
        return self.tracker.regions

    # -- per sample ---------------------------------------------------------------------------

    def process(self, sample: Sample, detections: Detections) -> list[EpisodeEvent]:
        now = sample.utc
        candidates = detections.of_classes({FIRE, SMOKE})
        candidates = candidates.filter(candidates.confidence >= self.params.confidence)
        self.tracker.update(now, sample.frame, candidates.xyxy, candidates.confidence, candidates.labels)
        verdicts = [self.judge(r, now) for r in self.regions]
        confirmed = [v for v in verdicts if v.confirmed]
        h, w = sample.frame.shape[:2]
        masks = self._zone_masks(w, h)
        events: list[EpisodeEvent] = []
        for zone, mask in zip(self.zones, masks):
            here = [v for v in confirmed if _overlaps(mask, v.region.last.box)]
            hits = self.suppressions.match(zone.name, np.stack([v.region.last.box for v in here]) if here else np.zeros((0, 4)))
            suppressed = [(v, hit) for v, hit in zip(here, hits) if hit is not None]
            here = [v for v, hit in zip(here, hits) if hit is None]
            smoke_here = [v for v in verdicts if v.region.kind == SMOKE and not v.confirmed and _overlaps(mask, v.region.last.box)]
            event = self.episodes[zone.name].observe(
                now,
                bool(here),
                onset=min((v.region.first_seen for v in here), default=now),
                detections=_as_detections(here, detections.class_names),
                details=self._details(here, smoke_here, suppressed, now) if here else None,
                sample=sample,
                summary=frozenset(v.region.kind for v in here),
                seen_at=max((v.region.last.utc for v in here), default=now),
            )
            if event is not None:
                events.append(event)
        return events

    def close(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        self.tracker.clear()
        ended = [e.close(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]

    def suspend(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        """The camera dropped and will reconnect: regions are confirmed afresh (seconds), and a fire
        confirmed again within end_after_s of the return resumes its episode."""
        self.tracker.clear()
        ended = [e.suspend(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]

    # -- confirmation -------------------------------------------------------------------------

    def judge(self, region: Region, now: datetime) -> Verdict:
        """The region's features over the window, its fitted score, and whether it is confirmed."""
        p = self.params
        features = region_features(region, now, self.window_s, p.sample_every_s)
        kind = self.decision.kinds.get(region.kind)
        score = kind.score(features) if kind is not None else 0.0
        threshold = kind.threshold if kind is not None else 1.0
        allowed = region.kind == FIRE or p.smoke_alone
        confirmed = allowed and features["hits"] >= p.persist_min_hits and score >= threshold
        cues: dict[str, Any] = {
            "persistence": int(features["hits"]),
            "window_s": self.window_s,
            # the cues under the names earlier events used, then every feature the score read
            "flicker": round(features["flicker_med"], 2),
            "shape_change": round(features["shape_med"], 3),
            "colour": round(features["colour"], 3),
            "features": {k: round(v, 4) for k, v in features.items()},
            "decision_score": round(score, 4),
            "threshold": threshold,
        }
        if region.kind == SMOKE:
            cues.update(growth=round(float(np.expm1(features["growth"])), 3), rise=round(features["rise"], 3))
        return Verdict(region, bool(confirmed), score, cues)

    def _details(
        self, confirmed: list[Verdict], smoke: list[Verdict], suppressed: list[tuple[Verdict, Suppressed]], now: datetime
    ) -> dict[str, Any]:
        p = self.params
        return {
            "regions": [_describe(v, now) for v in confirmed],
            "smoke": [_describe(v, now) for v in smoke],
            "suppressed": [
                {"region_id": v.region.id, "label": v.region.kind, "xyxy": [round(float(x), 1) for x in v.region.last.box], **hit.as_detail()}
                for v, hit in suppressed
            ],
            "rule": {
                "confidence": p.confidence,
                "persist": f">= {p.persist_min_hits} hits in {self.window_s} s",
                "decision": self.decision.path,
                "decision_version": self.decision.version,
                "thresholds": {k: d.threshold for k, d in self.decision.kinds.items()},
                "smoke_alone": p.smoke_alone,
            },
        }

    def _zone_masks(self, w: int, h: int) -> list[np.ndarray]:
        masks = self._masks.get((w, h))
        if masks is None:
            masks = []
            for zone in self.zones:
                mask = np.zeros((h, w), np.uint8)
                cv2.fillPoly(mask, [np.round(zone.pixels(w, h)).astype(np.int32)], 1)
                masks.append(mask)
            self._masks = {(w, h): masks}  # a new resolution after a reconnect replaces the old
        return masks


def _describe(v: Verdict, now: datetime) -> dict[str, Any]:
    r = v.region
    window = v.cues["window_s"]
    recent = r.recent(now, window)
    return {
        "region_id": r.id,
        "label": r.kind,
        "first_seen": r.first_seen.isoformat(),
        "xyxy": [round(float(x), 1) for x in r.last.box],
        "score": round(r.last.score, 3),
        "samples": [{"utc": h.utc.isoformat(), "score": round(h.score, 3), "xyxy": [round(float(x), 1) for x in h.box]} for h in recent],
        **v.cues,
    }


def _overlaps(mask: np.ndarray, box: np.ndarray) -> bool:
    h, w = mask.shape
    x1, y1 = int(np.clip(np.floor(box[0]), 0, w - 1)), int(np.clip(np.floor(box[1]), 0, h - 1))
    x2, y2 = int(np.clip(np.ceil(box[2]), x1 + 1, w)), int(np.clip(np.ceil(box[3]), y1 + 1, h))
    return bool(mask[y1:y2, x1:x2].any())


def _as_detections(verdicts: list[Verdict], class_names: tuple[str, ...]) -> Detections:
    if not verdicts:
        return Detections.empty(class_names)
    index = {n: i for i, n in enumerate(class_names)}
    return Detections(
        np.stack([v.region.last.box for v in verdicts]).astype(np.float32),
        np.array([v.region.last.score for v in verdicts], np.float32),
        np.array([index.get(v.region.kind, 0) for v in verdicts], np.int32),
        class_names,
    )
