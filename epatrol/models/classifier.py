"""RegionClassifier: a district-trained Ultralytics classification export (yolov8-cls), verified
and run like the detectors (the same runners), scoring a crop of the frame (a zone) per class."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from . import selection
from .boxes import to_tensor
from .manifest import (
    ModelError,
    ModelSpec,
    get_spec,
    resolve_models_dir,
    verify_model_file,
)
from .runners import Runner, check_input_shape, open_runner
from .session import Device

log = logging.getLogger(__name__)


class RegionClassifier:
    """classify() keeps no state on self: camera threads may share one instance."""

    def __init__(self, spec: ModelSpec, runner: Runner) -> None:
        self.spec = spec
        self.name = spec.name
        self.sha256 = spec.sha256
        self.class_names = spec.class_names
        self._runner = runner
        check_input_shape(self.name, runner, spec.input_size)

    @property
    def runs_on(self) -> str:
        c = self._runner.candidate
        return f"{c.runtime} {self._runner.device} {c.precision} ({c.graph})"

    def classify(self, crop_bgr: np.ndarray) -> np.ndarray:
        """One probability per class (float32, sums to 1) for an HxWx3 uint8 BGR crop."""
        if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3 or crop_bgr.size == 0 or crop_bgr.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 BGR crop, got {crop_bgr.shape} {crop_bgr.dtype}")
        out = np.asarray(self._runner.run(preprocess(crop_bgr, self.spec.input_size)), np.float32).reshape(-1)
        if out.shape[0] != len(self.class_names):
            raise ModelError(f"model {self.name!r}: {out.shape[0]} outputs for {len(self.class_names)} classes")
        return out  # the export ends in softmax

    def __repr__(self) -> str:
        return f"RegionClassifier({self.name!r}, {self.runs_on})"


def preprocess(crop_bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """As Ultralytics' classify_transforms: shorter side to the input size, centre crop, RGB, /255."""
    w, h = size
    src_h, src_w = crop_bgr.shape[:2]
    scale = max(w / src_w, h / src_h)
    new_w, new_h = max(w, round(src_w * scale)), max(h, round(src_h * scale))
    # torchvision resizes PIL images with antialiasing: INTER_AREA is the closer match when shrinking
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(crop_bgr, (new_w, new_h), interpolation=interp)
    x0, y0 = (new_w - w) // 2, (new_h - h) // 2
    return to_tensor(np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w]), True)


def load_classifier(name: str, models_dir: Path | None, threads: int | None = None, device: Device = "auto") -> RegionClassifier:
    """Resolve the models dir (EPATROL_MODELS wins), verify the file's SHA-256, open it on onnxruntime."""
    folder = resolve_models_dir(models_dir)
    spec = get_spec(name, folder)
    if spec.task != "classify":
        raise ModelError(f"model {name!r} is a {spec.task} model, not a classifier (load it with load_detector)")
    path = verify_model_file(spec, folder)
    classifier = RegionClassifier(spec, open_runner(selection.reference(path, device, int8=False), threads))
    log.info("loaded classifier %s from %s on %s", name, path, classifier.runs_on)
    return classifier
