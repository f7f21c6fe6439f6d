"""Zones: named polygons in normalised image coordinates. Small, stateless, frame-size independent."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ZoneShape:
    name: str
    polygon: tuple[tuple[float, float], ...]  # normalised 0..1 (x, y)

    def pixels(self, width: int, height: int) -> np.ndarray:
        return (np.asarray(self.polygon, np.float32) * (width, height)).astype(np.float32)

    def contains(self, points_px: np.ndarray, width: int, height: int) -> np.ndarray:
        """Boolean mask: which (N, 2) pixel points lie inside (or on the edge of) the zone."""
        contour = self.pixels(width, height).reshape(-1, 1, 2)
        return np.array(
            [cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points_px], dtype=bool
        )


def bottom_centres(xyxy: np.ndarray) -> np.ndarray:
    """Where an object touches the ground: the middle of its box's lower edge."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)
