"""Pre/post-processing for FastestDet (dog-qiuqiu/FastestDet ONNX export).

Output 1 x (5 + C) x H x W over a grid (22x22 at 352 input):
  ch 0      objectness, sigmoid already applied in the graph
  ch 1, 2   box-centre offset from the cell corner, raw: tanh gives cells in (-1, 1)
  ch 3, 4   box w, h, raw: sigmoid gives a fraction of the input size
  ch 5..    class probabilities (softmax already applied)
Score = obj^0.6 * cls^0.4, as the upstream example ranks boxes.
"""

from __future__ import annotations

import cv2
import numpy as np

from .boxes import Geometry, cxcywh_to_xyxy, nms, to_tensor
from .detections import Detections

MAX_DET = 300


def preprocess(frame_bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Geometry]:
    """Plain resize (no letterbox: the model was trained on stretched images), BGR, /255."""
    frame_h, frame_w = frame_bgr.shape[:2]
    image = cv2.resize(frame_bgr, size, interpolation=cv2.INTER_LINEAR)
    geometry = Geometry(size[0] / frame_w, size[1] / frame_h, 0, 0, frame_w, frame_h)
    return to_tensor(image, rgb=False), geometry


def decode(
    output: np.ndarray,
    geometry: Geometry,
    input_size: tuple[int, int],
    class_names: tuple[str, ...],
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = MAX_DET,
) -> Detections:
    """Raw 1 x (5+C) x H x W output -> Detections in source-frame pixels after class-aware NMS."""
    grid = output[0]
    channels, grid_h, grid_w = grid.shape
    if channels != 5 + len(class_names):
        raise ValueError(f"expected {5 + len(class_names)} output channels, got {channels}")
    flat = grid.reshape(channels, grid_h * grid_w)
    class_probs = flat[5:]
    best_cls = class_probs.max(axis=0)
    scores = np.power(flat[0], 0.6) * np.power(best_cls, 0.4)
    keep = np.flatnonzero(scores >= conf)
    if len(keep) == 0:
        return Detections.empty(class_names)
    scores = scores[keep].astype(np.float32)
    class_ids = class_probs[:, keep].argmax(axis=0).astype(np.int32)
    rows, cols = np.divmod(keep, grid_w)
    in_w, in_h = input_size
    # Centre in cells -> fraction of the input -> input pixels.
    cx = (cols + np.tanh(flat[1, keep])) / grid_w * in_w
    cy = (rows + np.tanh(flat[2, keep])) / grid_h * in_h
    w = 1.0 / (1.0 + np.exp(-flat[3, keep])) * in_w
    h = 1.0 / (1.0 + np.exp(-flat[4, keep])) * in_h
    xyxy = geometry.to_frame(cxcywh_to_xyxy(cx, cy, w, h))
    kept = nms(xyxy, scores, class_ids, iou, max_det)
    return Detections(xyxy[kept], scores[kept], class_ids[kept], class_names)
