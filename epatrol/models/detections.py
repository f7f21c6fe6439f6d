"""Detections: the one container every stage after the model speaks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detections:
    xyxy: np.ndarray  # (N, 4) float32, pixels of the source frame
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int32, index into class_names
    class_names: tuple[str, ...]  # the model's label set

    @classmethod
    def empty(cls, class_names: tuple[str, ...]) -> "Detections":
        return cls(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), class_names
        )

    def __len__(self) -> int:
        return len(self.confidence)

    def filter(self, mask: np.ndarray) -> "Detections":
        return Detections(self.xyxy[mask], self.confidence[mask], self.class_id[mask], self.class_names)

    def of_classes(self, names: set[str] | frozenset[str]) -> "Detections":
        wanted = [i for i, n in enumerate(self.class_names) if n in names]
        return self.filter(np.isin(self.class_id, wanted))

    @property
    def labels(self) -> list[str]:
        return [self.class_names[int(i)] for i in self.class_id]

    def to_records(self) -> list[dict]:
        """JSON-ready: [{"label", "confidence", "xyxy"}]."""
        return [
            {"label": label, "confidence": round(float(c), 4), "xyxy": [round(float(v), 1) for v in box]}
            for label, c, box in zip(self.labels, self.confidence, self.xyxy)
        ]
