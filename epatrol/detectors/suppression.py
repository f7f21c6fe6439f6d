"""Learning from dismissals: an object an officer dismissed is not flagged again.

When an officer dismisses an event ("the bike belongs to the shop", "that is a lamp, not a
fire"), its boxes become suppressions for the same camera, zone and violation. A judge asks,
for the objects that would make its zone violate, which overlap a dismissed box by IoU >=
`iou_threshold` (the violation's `suppress_iou`, default 0.5): those do not count, and the
episode's details say so; any other object in the zone still does.

The worker loads the dismissed events from the database (evidence/review/decisions.py) at start and
whenever a new review decision appears, and hands them to each judge's Suppressions; this module
never touches the database. Boxes are in the pixels of the frame the event was recorded on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from epatrol.detectors.tracking import iou_matrix


@dataclass(frozen=True)
class Dismissed:
    """One dismissed event's boxes (from its `detections`)."""

    event_id: int
    zone: str
    violation: str
    boxes: np.ndarray  # (N, 4) xyxy pixels


@dataclass(frozen=True)
class Suppressed:
    """Why one box does not count: it overlaps a box of this dismissed event."""

    event_id: int
    iou: float

    def as_detail(self) -> dict:
        return {"dismissed_event": self.event_id, "iou": round(self.iou, 3)}


class Suppressions:
    """The dismissed boxes of one judge (one camera and violation), by zone."""

    def __init__(self, violation: str, iou_threshold: float = 0.5) -> None:
        self.violation = violation
        self.iou_threshold = iou_threshold
        self._zones: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # zone -> (boxes (M, 4), their event ids)

    def load(self, dismissed: Iterable[Dismissed]) -> None:
        """Replace the suppressions with these (events of other violations are ignored)."""
        by_zone: dict[str, list[Dismissed]] = {}
        for d in dismissed:
            if d.violation == self.violation and len(d.boxes):
                by_zone.setdefault(d.zone, []).append(d)
        self._zones = {
            zone: (
                np.concatenate([d.boxes for d in ds]).astype(np.float32).reshape(-1, 4),
                np.concatenate([np.full(len(d.boxes), d.event_id) for d in ds]),
            )
            for zone, ds in by_zone.items()
        }

    def __len__(self) -> int:
        return sum(len(boxes) for boxes, _ in self._zones.values())

    def match(self, zone: str, boxes: np.ndarray) -> list[Suppressed | None]:
        """For each (N, 4) xyxy box: the dismissed event it overlaps most (IoU >= threshold), or None."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        dismissed = self._zones.get(zone)
        if dismissed is None or not len(boxes):
            return [None] * len(boxes)
        known, owners = dismissed
        ious = iou_matrix(boxes, known)
        best = ious.argmax(axis=1)
        out: list[Suppressed | None] = []
        for i, j in enumerate(best):
            iou = float(ious[i, j])
            out.append(Suppressed(int(owners[j]), iou) if iou >= self.iou_threshold else None)
        return out


def dismissed_from_records(event_id: int, zone: str, violation: str, detections: list[dict]) -> Dismissed:
    """From an event row's `detections` JSON ([{"label", "confidence", "xyxy"}])."""
    boxes = [d["xyxy"] for d in detections if isinstance(d, dict) and len(d.get("xyxy") or ()) == 4]
    return Dismissed(event_id, zone, violation, np.asarray(boxes, np.float32).reshape(-1, 4))
