"""Zone crops: which part of the frame, and boxes mapped back to the frame with the real model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import SHARED

from epatrol.detectors.crops import to_pixels, zones_crop
from epatrol.detectors.zones import ZoneShape


def zone(*points) -> ZoneShape:
    return ZoneShape("z", tuple(points))


def test_crop_spans_the_zones_width_and_everything_above_their_lower_edge():
    # A far footway in the upper right: objects standing in it rise above it, so the crop starts at the top.
    rect = zones_crop([zone((0.6, 0.2), (0.9, 0.2), (0.9, 0.4), (0.6, 0.4))], margin=0.05, max_area=0.5)
    assert rect == pytest.approx((0.55, 0.0, 0.95, 0.45))
    # Two zones: one rectangle around both.
    rect = zones_crop([zone((0.1, 0.1), (0.2, 0.1), (0.2, 0.2)), zone((0.3, 0.3), (0.4, 0.3), (0.4, 0.35))], margin=0.0)
    assert rect == pytest.approx((0.1, 0.0, 0.4, 0.35))


def test_no_crop_when_it_would_not_be_small_or_there_is_no_zone():
    assert zones_crop([zone((0.0, 0.35), (1.0, 0.35), (1.0, 1.0), (0.0, 1.0))]) is None  # the whole road
    assert zones_crop([zone((0.3, 0.45), (1.0, 0.45), (1.0, 1.0))], max_area=0.5) is None  # 0.75 of the frame
    assert zones_crop([]) is None


def test_pixels_are_inside_the_frame_and_never_empty():
    assert to_pixels((0.55, 0.0, 0.95, 0.45), 1920, 1080) == (1056, 0, 1824, 486)
    assert to_pixels((0.999, 0.999, 1.0, 1.0), 100, 100) == (99, 99, 100, 100)


def test_detections_in_a_crop_come_back_in_frame_pixels(detector):
    """bus.jpg pasted into a larger grey frame: detecting in the crop that is exactly the photo
    gives the photo's detections shifted by the paste offset."""
    photo = cv2.imread(str(SHARED / "media" / "bus.jpg"))
    h, w = photo.shape[:2]
    dx, dy = 700, 240
    frame = np.full((h + 2 * dy, w + 2 * dx, 3), 90, np.uint8)
    frame[dy : dy + h, dx : dx + w] = photo
    alone = detector.detect(photo, conf=0.3)
    cropped = detector.detect(frame, conf=0.3, roi=(dx, dy, dx + w, dy + h))
    assert "bus" in alone.labels and alone.labels.count("person") >= 3
    assert cropped.labels == alone.labels
    np.testing.assert_allclose(cropped.confidence, alone.confidence, atol=1e-6)
    np.testing.assert_allclose(cropped.xyxy, alone.xyxy + np.array([dx, dy, dx, dy], np.float32), atol=1e-3)


def test_roi_outside_the_frame_is_refused(detector):
    frame = np.zeros((100, 200, 3), np.uint8)
    with pytest.raises(ValueError, match="roi"):
        detector.detect(frame, roi=(150, 0, 250, 50))
    with pytest.raises(ValueError, match="roi"):
        detector.detect(frame, roi=(10, 10, 10, 50))


def test_every_shipped_model_has_a_fixed_batch_of_one(shared_dir):
    """Why the service does not batch across cameras (models/service.py): the graphs take one
    image per run. A model exported with a dynamic batch would report None here."""
    from epatrol.models.detector import load_detector

    for name in ("yolov8n_int8", "yolo11n_int8", "fastestdet", "fire_smoke"):
        assert load_detector(name, shared_dir / "models", threads=1).batch_size == 1
