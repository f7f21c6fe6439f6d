"""What the simulated cameras show (benchmarks/footage.py) and where each one's zone is."""

from __future__ import annotations

import math

FPS = 25.0
ZONES = {  # normalised polygons that fit the footage
    "quiet_720p": [[0.30, 0.45], [1.00, 0.45], [1.00, 1.00], [0.30, 1.00]],  # the footway the bicycle stands on
    "busy_1080p": [[0.00, 0.35], [1.00, 0.35], [1.00, 1.00], [0.00, 1.00]],  # road and footway
}


def zone_crop_box(polygon: list[list[float]], width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """Pixels (x0, y0, x1, y1) of a normalised zone's bounding box grown by `margin` of its size
    on each side, inside the frame (the bin judge's crop)."""
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    box = (max(0.0, x0 - dx) * width, max(0.0, y0 - dy) * height, min(1.0, x1 + dx) * width, min(1.0, y1 + dy) * height)
    return int(box[0]), int(box[1]), max(int(box[0]) + 1, math.ceil(box[2])), max(int(box[1]) + 1, math.ceil(box[3]))
