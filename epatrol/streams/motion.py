"""The motion gate: has a sample changed since the last one the detector saw?

Violations are slow and most of a street scene stands still, so a sample that looks like the
last inferred one needs no new inference: its detections are reused (the judges are still fed,
so parked objects keep their tracks and dwell). The test is cheap: a small grey thumbnail
(area-averaged, which also averages sensor noise away) compared pixel by pixel. A refresh
every `refresh_s` re-runs the detector anyway, so a slow drift never hides for long."""

from __future__ import annotations

import cv2
import numpy as np

THUMB_SIZE = (160, 90)  # (w, h): a 40x100 px pedestrian at 1080p still covers ~27 thumbnail pixels


class MotionGate:
    def __init__(self, threshold: float = 12.0, min_changed: float = 0.002, refresh_s: float = 10.0) -> None:
        if not 0 < threshold <= 255:
            raise ValueError(f"motion threshold must be in (0, 255], got {threshold}")
        if not 0 < min_changed <= 1:
            raise ValueError(f"min_changed must be in (0, 1], got {min_changed}")
        if refresh_s <= 0:
            raise ValueError(f"refresh_s must be > 0, got {refresh_s}")
        self.threshold = threshold
        self.min_changed = min_changed
        self.refresh_s = refresh_s
        self._reference: np.ndarray | None = None
        self._reference_s = 0.0
        self.last_changed_fraction = 1.0  # of the latest check, for figures and tuning

    @staticmethod
    def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
        return cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA)

    def changed_fraction(self, thumb: np.ndarray) -> float:
        if self._reference is None:
            return 1.0
        diff = cv2.absdiff(thumb, self._reference)
        return float(np.count_nonzero(diff > self.threshold)) / diff.size

    def should_infer(self, image_bgr: np.ndarray, time_s: float) -> bool:
        """True when the detector must run on this image (it then becomes the reference).

        time_s is the stream's media time; it starts again after a reconnect, so a time that
        goes backwards forces an inference like a refresh does."""
        thumb = self.thumbnail(image_bgr)
        self.last_changed_fraction = self.changed_fraction(thumb)
        stale = time_s < self._reference_s or time_s - self._reference_s >= self.refresh_s
        if self._reference is None or stale or self.last_changed_fraction >= self.min_changed:
            self._reference, self._reference_s = thumb, time_s
            return True
        return False

    def reset(self) -> None:
        self._reference = None
