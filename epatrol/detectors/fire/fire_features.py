"""Fire/smoke regions followed across samples, and the features the fitted decision reads.

The open-burning judge (open_burning.py) and the offline fitting (epatrol/training/fire_fit.py)
both use `RegionTracker` and `region_features`, so the numbers the decision was fitted on are
exactly the numbers it is applied to.

A region is a run of fire (or smoke) boxes of the fire_smoke model matched from sample to sample:
boxes grown by half their size each side must overlap (IoU >= MATCH_IOU). Fire boxes jump between
samples (a flame splits, merges, moves along a front): on the aerial burn consecutive boxes of one
front have a plain IoU as low as 0.01-0.3.

Features of a region over the last `window_s` seconds (FEATURES, in this order):

- hits: samples that detected it; hit_share: hits / samples the window holds at the sample rate.
- flicker_med, flicker_max: change of its content between consecutive hits (mean |difference| of
  32x32 grey thumbnails, grey levels). Flames and smoke churn; a photo, lamp or sign does not.
- shape_med, shape_max: |ln(area ratio)| of its box between consecutive hits (flames breathe; a
  large steady fire seen close hardly does: 0.01-0.05, which is why no cue decides alone).
- colour: median share of flame-coloured pixels (bright, saturated red-yellow).
- score_mean, score_max: the detector's confidence.
- area_share: median box area / frame area (log10, so a close fire and a distant one differ by a
  number, not by orders of magnitude).
- growth: ln(area of the last box / area of the first box in the window): smoke spreads.
- rise: upward motion of the box's top edge over the window, in box heights: smoke rises.
- drift: displacement of the box centre over the window, in box sizes (sqrt area): smoke drifts.
- texture: median edge strength of the thumbnail (mean |gradient|): smoke and fog are smooth.
- texture_change: median |ln ratio| of edge strength between consecutive hits.
- brightness: median mean grey level of the box (0..255): white fogger fog fills a box with bright
  grey, smoke from a fire is darker.
"""

from __future__ import annotations

import itertools
import json
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from epatrol.detectors.fire.fire_confirm import appearance_change, look
from epatrol.detectors.tracking import iou_matrix

FIRE, SMOKE = "fire", "smoke"
MATCH_GROW = 0.5
MATCH_IOU = 0.2
FEATURES: tuple[str, ...] = (
    "hits", "hit_share", "flicker_med", "flicker_max", "shape_med", "shape_max", "colour", "score_mean", "score_max",
    "area_share", "growth", "rise", "drift", "texture", "texture_change", "brightness",
)


@dataclass
class Hit:
    utc: datetime
    box: np.ndarray
    score: float
    colour: float
    area_share: float
    texture: float
    brightness: float
    change: float | None  # content change since the region's previous hit (None: first hit, or too old)
    shape: float | None  # |ln(area ratio)| since the previous hit
    texture_change: float | None


@dataclass
class Region:
    id: int
    kind: str
    first_seen: datetime
    hits: deque[Hit] = field(default_factory=deque)
    thumb: np.ndarray | None = None

    @property
    def last(self) -> Hit:
        return self.hits[-1]

    def recent(self, now: datetime, window_s: float) -> list[Hit]:
        return [h for h in self.hits if (now - h.utc).total_seconds() <= window_s + 1e-6]


class RegionTracker:
    """Regions of candidate boxes, matched sample to sample; a region unseen for `window_s` is dropped."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.regions: list[Region] = []
        self._ids = itertools.count(1)

    def clear(self) -> None:
        self.regions.clear()

    def update(self, now: datetime, frame: np.ndarray, boxes: np.ndarray, scores: np.ndarray, labels: list[str]) -> None:
        self.regions = [r for r in self.regions if (now - r.last.utc).total_seconds() <= self.window_s]
        unmatched = set(range(len(labels)))
        if self.regions and len(labels):
            ious = iou_matrix(grow(np.stack([r.last.box for r in self.regions])), grow(boxes))
            taken: set[int] = set()
            for ri, di in sorted(np.argwhere(ious >= MATCH_IOU), key=lambda p: -ious[p[0], p[1]]):
                region = self.regions[ri]
                if di not in unmatched or ri in taken or region.kind != labels[di]:
                    continue
                unmatched.discard(di)
                taken.add(ri)
                self._hit(region, now, frame, boxes[di], float(scores[di]))
        for di in sorted(unmatched):
            region = Region(next(self._ids), labels[di], now)
            self._hit(region, now, frame, boxes[di], float(scores[di]))
            self.regions.append(region)

    def _hit(self, region: Region, now: datetime, frame: np.ndarray, box: np.ndarray, score: float) -> None:
        box = np.asarray(box, np.float32).copy()
        thumb, colour = look(frame, box)
        texture = edge_strength(thumb)
        change = shape = tex_change = None
        if region.hits and (now - region.last.utc).total_seconds() <= self.window_s:
            change = appearance_change(region.thumb, thumb)
            shape = abs(float(np.log(area(box) / area(region.last.box))))
            tex_change = abs(float(np.log((texture + 0.5) / (region.last.texture + 0.5))))
        share = area(box) / float(frame.shape[0] * frame.shape[1])
        region.hits.append(Hit(now, box, score, colour, share, texture, float(thumb.mean()), change, shape, tex_change))
        region.thumb = thumb
        while (now - region.hits[0].utc).total_seconds() > self.window_s:
            region.hits.popleft()


def region_features(region: Region, now: datetime, window_s: float, sample_every_s: float) -> dict[str, float]:
    """The FEATURES of `region` over the last `window_s` seconds (all finite)."""
    recent = region.recent(now, window_s) or [region.last]
    changes = [h.change for h in recent if h.change is not None]
    shapes = [h.shape for h in recent if h.shape is not None]
    textures = [h.texture_change for h in recent if h.texture_change is not None]
    first, last = recent[0].box, recent[-1].box
    size = max(area(first), 1.0) ** 0.5
    centre_first = np.array([(first[0] + first[2]) / 2, (first[1] + first[3]) / 2])
    centre_last = np.array([(last[0] + last[2]) / 2, (last[1] + last[3]) / 2])
    possible = int(window_s / sample_every_s + 1e-9) + 1
    return {
        "hits": float(len(recent)),
        "hit_share": min(1.0, len(recent) / possible),
        "flicker_med": _median(changes),
        "flicker_max": max(changes, default=0.0),
        "shape_med": _median(shapes),
        "shape_max": max(shapes, default=0.0),
        "colour": _median([h.colour for h in recent]),
        "score_mean": float(np.mean([h.score for h in recent])),
        "score_max": max(h.score for h in recent),
        "area_share": float(np.log10(max(_median([h.area_share for h in recent]), 1e-5))),
        "growth": float(np.log(area(last) / area(first))),
        "rise": float((first[1] - last[1]) / max(first[3] - first[1], 1.0)),
        "drift": float(np.linalg.norm(centre_last - centre_first) / size),
        "texture": _median([h.texture for h in recent]),
        "texture_change": _median(textures),
        "brightness": _median([h.brightness for h in recent]),
    }


def feature_vector(features: dict[str, float]) -> np.ndarray:
    return np.array([features[name] for name in FEATURES], np.float64)


def edge_strength(thumb: np.ndarray) -> float:
    """Mean |gradient| of a grey thumbnail (grey levels per pixel)."""
    return float(np.mean(np.abs(np.diff(thumb, axis=0))) + np.mean(np.abs(np.diff(thumb, axis=1))))


def grow(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    w = (boxes[:, 2] - boxes[:, 0]) * MATCH_GROW
    h = (boxes[:, 3] - boxes[:, 1]) * MATCH_GROW
    return np.stack([boxes[:, 0] - w, boxes[:, 1] - h, boxes[:, 2] + w, boxes[:, 3] + h], axis=1)


def area(box: np.ndarray) -> float:
    return max(float(box[2] - box[0]), 1.0) * max(float(box[3] - box[1]), 1.0)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else 0.0  # short lists: 10x cheaper than np.median


# -- the fitted decision ----------------------------------------------------------------------

DEFAULT_DECISION = Path(__file__).resolve().parent / "data" / "fire_decision.json"


@dataclass(frozen=True)
class KindDecision:
    """L2 logistic regression on standardised FEATURES, for one kind of region (fire or smoke)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float  # on the probability

    def score(self, features: dict[str, float]) -> float:
        z = float(((feature_vector(features) - self.mean) / self.scale) @ self.weights + self.bias)
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -40, 40))))


@dataclass(frozen=True)
class FireDecision:
    version: str
    window_s: float  # the window the features were fitted with
    kinds: dict[str, KindDecision]
    path: str

    @classmethod
    def load(cls, path: Path | str | None = None) -> "FireDecision":
        """The decision file (None: the shipped one). Raises ValueError when its features are not FEATURES."""
        path = Path(path) if path is not None else DEFAULT_DECISION
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: fitted on features {data['features']}, the judge computes {list(FEATURES)}: refit it (epatrol fit-fire)")
        kinds = {}
        for kind, m in data["kinds"].items():
            arrays = [np.asarray(m[k], np.float64) for k in ("mean", "scale", "weights")]
            if any(a.shape != (len(FEATURES),) for a in arrays):
                raise ValueError(f"{path}: {kind} parameters do not have {len(FEATURES)} values")
            kinds[kind] = KindDecision(*arrays, float(m["bias"]), float(m["threshold"]))
        return cls(str(data["version"]), float(data["window_s"]), kinds, str(path))
