"""Zone crops: the part of the frame a camera's zones can see, when that is a small part.

A detector with a fixed input size spends the same time on any image, so a crop does not make
one inference cheaper; it gives the objects in the zones more of the detector's input pixels
(and skips the motion of everything outside the zones, see streams/motion.py). Boxes come back
in full-frame pixels (models/detector.py maps them), so nothing downstream knows."""

from __future__ import annotations

from collections.abc import Iterable

from epatrol.detectors.zones import ZoneShape

# (x0, y0, x1, y1) normalised 0..1
NormRect = tuple[float, float, float, float]
PixelRect = tuple[int, int, int, int]


def zones_crop(zones: Iterable[ZoneShape], margin: float = 0.05, max_area: float = 0.5) -> NormRect | None:
    """The part of the frame that can hold an object standing in the zones, or None when that is
    more than `max_area` of the frame (then the whole frame is as good) or there are no zones.

    Judges place an object by where it touches the ground (its box's bottom centre), and the
    object rises above that point: a bicycle parked at the zone's top edge is mostly above the
    zone (measured on parked_bike.mp4: a crop to the zone's box alone cut the bicycle in half and
    it was no longer detected). So the crop spans the zones' width (plus `margin`) and runs from
    the top of the frame down to the zones' lower edge (plus `margin`)."""
    points = [p for z in zones for p in z.polygon]
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    rect = (max(0.0, min(xs) - margin), 0.0, min(1.0, max(xs) + margin), min(1.0, max(ys) + margin))
    area = (rect[2] - rect[0]) * (rect[3] - rect[1])
    if area <= 0 or area > max_area:
        return None
    return rect


def to_pixels(rect: NormRect, width: int, height: int) -> PixelRect:
    """A normalised rectangle as whole pixels of a width x height frame (never empty)."""
    x0, y0 = int(rect[0] * width), int(rect[1] * height)
    x1, y1 = max(x0 + 1, round(rect[2] * width)), max(y0 + 1, round(rect[3] * height))
    return x0, y0, min(width, x1), min(height, y1)
