"""Pre/post-processing for the YOLOv8 / YOLO11 head (Ultralytics export, no NMS in the graph).

Output layout: 1 x (4 + C) x N, rows cx, cy, w, h in network-input pixels,
then C per-class scores (already sigmoid-ed, no separate objectness).
"""

from __future__ import annotations

import cv2
import numpy as np

from .boxes import Geometry, cxcywh_to_xyxy, nms, to_tensor, top_candidates
from .detections import Detections

PAD_VALUE = 114  # the grey Ultralytics trains with; another value shifts scores slightly
MAX_CANDIDATES = 3000  # boxes entering NMS, whatever the threshold
MAX_DET = 300


def letterbox(
    image: np.ndarray, size: tuple[int, int], pad_value: int = PAD_VALUE
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Fit image into size (w, h) keeping aspect, centred on a grey canvas.

    Returns (canvas, scale, (pad_x, pad_y)): canvas pixel = source pixel * scale + pad.
    """
    dst_w, dst_h = size
    src_h, src_w = image.shape[:2]
    scale = min(dst_w / src_w, dst_h / src_h)
    new_w, new_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    if (new_w, new_h) != (src_w, src_h):
        # INTER_AREA would be sharper when shrinking, but the models were trained on bilinear.
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (dst_w - new_w) // 2, (dst_h - new_h) // 2
    canvas = cv2.copyMakeBorder(
        image, pad_y, dst_h - new_h - pad_y, pad_x, dst_w - new_w - pad_x,
        cv2.BORDER_CONSTANT, value=(pad_value, pad_value, pad_value),
    )  # fmt: skip
    return canvas, scale, (pad_x, pad_y)


def preprocess(
    frame_bgr: np.ndarray, size: tuple[int, int], rgb: bool = True, use_letterbox: bool = True
) -> tuple[np.ndarray, Geometry]:
    """Frame -> (1x3xHxW float32 tensor, geometry to map boxes back)."""
    frame_h, frame_w = frame_bgr.shape[:2]
    if use_letterbox:
        image, scale, (pad_x, pad_y) = letterbox(frame_bgr, size)
        geometry = Geometry(scale, scale, pad_x, pad_y, frame_w, frame_h)
    else:
        image = cv2.resize(frame_bgr, size, interpolation=cv2.INTER_LINEAR)
        geometry = Geometry(size[0] / frame_w, size[1] / frame_h, 0, 0, frame_w, frame_h)
    return to_tensor(image, rgb), geometry


def decode(
    output: np.ndarray,
    geometry: Geometry,
    class_names: tuple[str, ...],
    conf: float = 0.25,
    iou: float = 0.45,
    max_det: int = MAX_DET,
) -> Detections:
    """Raw 1 x (4+C) x N output -> Detections in source-frame pixels after class-aware NMS."""
    pred = output[0]
    if pred.shape[0] != 4 + len(class_names):
        raise ValueError(f"expected {4 + len(class_names)} output rows, got {pred.shape[0]}")
    class_scores = pred[4:]
    # Threshold on the best class first: only the few survivors pay for argmax and box maths.
    best = class_scores.max(axis=0)
    keep = np.flatnonzero(best >= conf)
    if len(keep) == 0:
        return Detections.empty(class_names)
    keep = keep[top_candidates(best[keep], MAX_CANDIDATES)]
    scores = best[keep].astype(np.float32)
    class_ids = class_scores[:, keep].argmax(axis=0).astype(np.int32)
    cx, cy, w, h = pred[:4, keep]
    xyxy = geometry.to_frame(cxcywh_to_xyxy(cx, cy, w, h))
    kept = nms(xyxy, scores, class_ids, iou, max_det)
    return Detections(xyxy[kept], scores[kept], class_ids[kept], class_names)
