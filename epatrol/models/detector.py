"""ObjectDetector: one verified model + its session + its family's pre/post-processing."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import fastestdet, yolo
from .detections import Detections
from .manifest import ModelError, ModelSpec, get_spec, resolve_models_dir, verify_model_file
from .session import Device, create_session, session_provider

log = logging.getLogger(__name__)


class ObjectDetector:
    """Detects objects in BGR frames. detect() keeps no per-call state on self and
    onnxruntime's run() is thread-safe, so camera threads may share one instance."""

    def __init__(self, spec: ModelSpec, session: ort.InferenceSession) -> None:
        self.spec = spec
        self.name = spec.name
        self.sha256 = spec.sha256
        self.class_names = spec.class_names
        self.provider = session_provider(session)
        self._session = session
        self._check_layout()
        self._output_name = session.get_outputs()[0].name

    def _check_layout(self) -> None:
        """Fail at load time, not on the first frame, if the graph is not what the manifest says."""
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != self.spec.input_name:
            names = [i.name for i in inputs]
            raise ModelError(f"model {self.name!r}: expected one input {self.spec.input_name!r}, got {names}")
        shape = inputs[0].shape
        w, h = self.spec.input_size
        # Dynamic axes come back as strings/None: only compare the fixed ones.
        if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape, (1, 3, h, w))):
            raise ModelError(f"model {self.name!r}: input shape {shape} does not match 1x3x{h}x{w}")
        if self.spec.family == "yolov8":
            self._check_metadata_names()

    def _check_metadata_names(self) -> None:
        # Ultralytics exports carry names as a dict literal: "{0: 'person', 1: 'bicycle', ...}".
        raw = self._session.get_modelmeta().custom_metadata_map.get("names")
        if raw is None:
            return
        try:
            names = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            log.warning("model %r: unreadable 'names' metadata, skipping the class check", self.name)
            return
        if len(names) != len(self.class_names):
            raise ModelError(
                f"model {self.name!r}: the ONNX metadata lists {len(names)} classes, "
                f"the manifest {len(self.class_names)}"
            )

    @property
    def batch_size(self) -> int | None:
        """The graph's fixed batch size (1 for every model shipped today), None when dynamic."""
        first = self._session.get_inputs()[0].shape[0]
        return first if isinstance(first, int) else None

    def detect(
        self, frame_bgr: np.ndarray, conf: float = 0.25, iou: float = 0.45, roi: tuple[int, int, int, int] | None = None
    ) -> Detections:
        """Detections in source-frame pixels for one HxWx3 uint8 BGR frame.

        roi (x0, y0, x1, y1 pixels): detect in that crop only; boxes still come back in
        full-frame pixels (a box cut by the crop's edge ends at the edge)."""
        shape_ok = frame_bgr.ndim == 3 and frame_bgr.shape[2] == 3 and frame_bgr.size > 0
        if not shape_ok or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}")
        if roi is None:
            return self._detect(frame_bgr, conf, iou)
        h, w = frame_bgr.shape[:2]
        x0, y0, x1, y1 = roi
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(f"roi {roi} is not inside the {w}x{h} frame")
        found = self._detect(frame_bgr[y0:y1, x0:x1], conf, iou)
        return Detections(found.xyxy + np.array([x0, y0, x0, y0], np.float32), found.confidence, found.class_id, found.class_names)

    def _detect(self, frame_bgr: np.ndarray, conf: float, iou: float) -> Detections:
        spec = self.spec
        if spec.family == "fastestdet":
            tensor, geometry = fastestdet.preprocess(frame_bgr, spec.input_size)
        else:
            tensor, geometry = yolo.preprocess(
                frame_bgr, spec.input_size, rgb=spec.channel_order == "rgb", use_letterbox=spec.letterbox
            )
        output = self._session.run([self._output_name], {spec.input_name: tensor})[0]
        if spec.family == "fastestdet":
            return fastestdet.decode(output, geometry, spec.input_size, self.class_names, conf, iou)
        return yolo.decode(output, geometry, self.class_names, conf, iou)

    def __repr__(self) -> str:
        return f"ObjectDetector({self.name!r}, provider={self.provider!r})"


def load_detector(
    name: str, models_dir: Path | None, threads: int | None = None, device: Device = "auto"
) -> ObjectDetector:
    """Resolve the models dir (EPATROL_MODELS wins), verify the file's SHA-256, build the session."""
    spec = get_spec(name)
    path = verify_model_file(spec, resolve_models_dir(models_dir))
    detector = ObjectDetector(spec, create_session(path, threads, device))
    log.info("loaded model %s from %s on %s", name, path, detector.provider)
    return detector
