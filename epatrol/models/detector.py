"""ObjectDetector: one verified model + the runner chosen for it + its family's pre/post-processing."""

from __future__ import annotations

import ast
import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from . import derive, fastestdet, selection, yolo
from .detections import Detections
from .manifest import (
    ModelError,
    ModelSpec,
    get_spec,
    resolve_models_dir,
    verify_model_file,
)
from .reference_frames import load_reference_frames
from .runners import Runner, check_input_shape, open_runner
from .session import Device

log = logging.getLogger(__name__)


class ObjectDetector:
    """Detects objects in BGR frames. detect() keeps no per-call state on self and
    onnxruntime's run() is thread-safe, so camera threads may share one instance."""

    def __init__(self, spec: ModelSpec, runner: Runner, choice: selection.Choice | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.sha256 = spec.sha256
        self.class_names = spec.class_names
        self.provider = runner.provider
        # What runs the weights, for /metrics, each event and the bench (selection.py chose it).
        self.runtime = f"{runner.candidate.runtime} {runner.device}"
        self.precision = runner.candidate.precision
        self.graph = runner.candidate.graph
        self.choice = choice
        self._runner = runner
        self._check_layout()

    @property
    def runs_on(self) -> str:
        """e.g. "openvino CPU bf16 (float-folded)": what each event and /metrics record."""
        return f"{self.runtime} {self.precision} ({self.graph})"

    def _check_layout(self) -> None:
        """Fail at load time, not on the first frame, if the graph is not what the manifest says."""
        inputs = self._runner.inputs
        if len(inputs) != 1 or inputs[0][0] != self.spec.input_name:
            names = [i[0] for i in inputs]
            raise ModelError(f"model {self.name!r}: expected one input {self.spec.input_name!r}, got {names}")
        check_input_shape(self.name, self._runner, self.spec.input_size)
        if self.spec.family == "yolov8":
            self._check_metadata_names()

    def _check_metadata_names(self) -> None:
        # Ultralytics exports carry names as a dict literal: "{0: 'person', 1: 'bicycle', ...}".
        raw = self._runner.metadata.get("names")
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
        first = self._runner.input_shape[0]
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
        output = self._runner.run(tensor)
        if spec.family == "fastestdet":
            return fastestdet.decode(output, geometry, spec.input_size, self.class_names, conf, iou)
        return yolo.decode(output, geometry, self.class_names, conf, iou)

    def __repr__(self) -> str:
        return f"ObjectDetector({self.name!r}, {self.runs_on})"


def tensor_for(spec: ModelSpec, frame_bgr: np.ndarray) -> np.ndarray:
    if spec.family == "fastestdet":
        return fastestdet.preprocess(frame_bgr, spec.input_size)[0]
    return yolo.preprocess(frame_bgr, spec.input_size, rgb=spec.channel_order == "rgb", use_letterbox=spec.letterbox)[0]


def load_detector(
    name: str,
    models_dir: Path | None,
    threads: int | None = None,
    device: Device = "auto",
    runtime: str = "reference",
    workers: int = 1,
    cache_dir: Path | None = None,
    frames_dir: Path | None = None,
    remeasure: bool = False,
) -> ObjectDetector:
    """Resolve the models dir (EPATROL_MODELS wins), verify the file's SHA-256, open a runner.

    runtime "reference": the shipped file on onnxruntime (`device` picks CPU or CUDA).
    runtime "auto": every way this machine can run the weights is measured on real frames
    (frames_dir, else the reference frames found beside the models) and the fastest that agrees
    with the reference runs (selection.py); without frames, the reference runs.
    workers: inferences run at once on the detector (camera threads sharing it).
    remeasure: measure again even when this machine's choice is cached."""
    if runtime not in ("auto", "reference"):
        raise ModelError(f"unknown runtime choice {runtime!r}; expected 'auto' or 'reference'")
    if device not in ("auto", "cpu", "cuda"):
        raise ModelError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda'")
    folder = resolve_models_dir(models_dir)
    spec = get_spec(name, folder)  # built-in, else registered by the district in <folder>/models.json
    if spec.task != "detect":
        raise ModelError(f"model {name!r} is a {spec.task} model, not a detector (load it with load_classifier)")
    path = verify_model_file(spec, folder)
    int8 = derive.is_dynamic_int8(path)  # reads the whole graph: once per load
    reference = selection.reference(path, device, int8=int8)
    detector = ObjectDetector(spec, open_runner(reference, threads))  # checks the layout first
    frames = load_reference_frames(frames_dir, folder) if runtime == "auto" else []
    if runtime == "auto" and not frames:
        log.warning("model %s: no reference frames (models.reference_frames, or %s/reference_frames): the reference runs", name, folder)
    if frames:
        detector = _fastest_agreeing(detector, path, int8, frames, threads, device, workers, derive.cache_dir(cache_dir), remeasure)
    log.info("loaded model %s from %s on %s", name, path, detector.runs_on)
    return detector


def _fastest_agreeing(
    reference: ObjectDetector, path: Path, int8: bool, frames: list[np.ndarray], threads, device, workers, cache: Path, remeasure: bool
) -> ObjectDetector:
    spec = reference.spec
    float_graph = derive.float_graph(spec, path, cache).path(cache) if int8 else None
    found = selection.candidates(path, device, float_graph, bf16=spec.reduced_precision)

    def detect(runner: Runner, frame: np.ndarray) -> Detections:
        return ObjectDetector(spec, runner).detect(frame, conf=selection.CONFIDENCE)

    choice, chosen = selection.choose(spec, found, frames, detect, lambda f: tensor_for(spec, f), cache, threads, remeasure)
    runner = open_runner(chosen, threads, workers)
    return ObjectDetector(spec, runner, choice)


class ModelSettings(Protocol):
    """The config's `models` section, as far as loading goes."""

    dir: Path | None
    threads: int | None
    workers: int | None
    device: str
    runtime: str
    cache_dir: Path | None
    reference_frames: Path | None


def load_detectors(names: set[str] | list[str], settings: ModelSettings) -> dict[str, ObjectDetector]:
    """Every named model, verified and on the runtime chosen for it, before any camera starts."""
    workers = settings.workers or os.cpu_count() or 1
    return {
        name: load_detector(
            name, settings.dir, settings.threads, settings.device,  # type: ignore[arg-type]
            runtime=settings.runtime, workers=workers, cache_dir=settings.cache_dir, frames_dir=settings.reference_frames,
        )
        for name in sorted(names)
    }  # fmt: skip
