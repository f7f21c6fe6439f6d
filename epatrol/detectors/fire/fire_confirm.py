"""Physical cues that tell a burning fire from a picture of one: cheap measurements on a box crop.

Every cue works on a small thumbnail of the box (at most `THUMB` pixels a side, INTER_AREA),
so its cost does not grow with the box: well under a millisecond per box on one core.

- `appearance_change`: how much the content of a region changed between two samples, in grey
  levels (0..255), comparing the region's thumbnail now with the matched region's thumbnail
  from the previous sample. Flames change shape from one half-second to the next; a red shirt,
  a brake light, a sodium lamp or a photo of a fire carries the same picture inside its box
  (the box follows the object, so an object that moves keeps its look). Area averaging into the
  thumbnail removes most sensor noise.
- `flame_colour_fraction`: the share of the box's pixels in flame colours (bright, red to
  yellow, saturated; HSV).
- growth, rise, drift and the other features of a region over time: see `fire_features.py`.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMB = 32  # thumbnail side for the appearance cue (pixels)
COLOUR_SIDE = 64  # the colour cue looks at the crop shrunk to at most this side

# Flame colours in OpenCV HSV (H 0..180): red-orange-yellow hues, saturated, bright.
FLAME_HUE_MAX = 35  # 0..70 degrees: red through yellow
FLAME_HUE_WRAP = 170  # 340..360 degrees: deep red
FLAME_SAT_MIN = 90
FLAME_VAL_MIN = 170


def crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box's pixels (clipped to the frame; at least one pixel)."""
    h, w = frame.shape[:2]
    x1 = int(np.clip(np.floor(box[0]), 0, w - 1))
    y1 = int(np.clip(np.floor(box[1]), 0, h - 1))
    x2 = int(np.clip(np.ceil(box[2]), x1 + 1, w))
    y2 = int(np.clip(np.ceil(box[3]), y1 + 1, h))
    return frame[y1:y2, x1:x2]


def look(frame: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, float]:
    """Both cues' inputs from one shrink of the box: (grey thumbnail, flame colour fraction)."""
    small = _shrink(crop(frame, box), COLOUR_SIDE)
    return _thumb(small), _flame_fraction(small)


def thumbnail(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Grey THUMB x THUMB float32 picture of the box's content."""
    return _thumb(_shrink(crop(frame, box), COLOUR_SIDE))


def appearance_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, in grey levels."""
    return float(np.mean(np.abs(after - before)))


def flame_colour_fraction(frame: np.ndarray, box: np.ndarray) -> float:
    """Share of the box's pixels that are bright, saturated red to yellow."""
    return _flame_fraction(_shrink(crop(frame, box), COLOUR_SIDE))


def _thumb(small_bgr: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)


def _flame_fraction(small_bgr: np.ndarray) -> float:
    hsv = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    flame = ((h <= FLAME_HUE_MAX) | (h >= FLAME_HUE_WRAP)) & (s >= FLAME_SAT_MIN) & (v >= FLAME_VAL_MIN)
    return float(np.count_nonzero(flame)) / flame.size


def _shrink(image: np.ndarray, side: int) -> np.ndarray:
    """At most `side` pixels a side. A big crop is first decimated to about 2x the target (so a
    full-HD box costs what a small one does), then area-averaged (which removes sensor noise)."""
    h, w = image.shape[:2]
    step = max(h, w) // (side * 2)
    if step > 1:
        image = image[::step, ::step]
        h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
