"""Evidence snapshots: the decisive frame as a JPEG with the zones, the detections and a
caption drawn on it, so an officer sees at a glance why the event was raised (and an export
carries it as evidence), and the same frame clean beside it (``<name>.clean.jpg``), over which the
review page draws the boxes and zone itself, at any size, and can leave them off.

The clean frame is not a row of evidence_files (no schema change): the event's details name it
with its SHA-256 (``snapshot_clean``) and carry the zone drawn (``overlay``), so the ledger chains
its hash with the event; retention deletes it with the snapshot."""

from __future__ import annotations

import os
import secrets
import zlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from epatrol.common.hashing import sha256_bytes
from epatrol.evidence.recording.paths import publish

Box = tuple[Sequence[float], str, float]  # (x1, y1, x2, y2) in pixels, label, confidence
Zone = tuple[str, Sequence[Sequence[float]]]  # name, polygon as (x, y) in 0..1 of the frame

JPEG_QUALITY = 90
ZONE_ALPHA = 0.25
_ZONE_COLOUR = (0, 215, 255)  # BGR amber
# BGR colours that stay readable on street scenes; a label always gets the same one.
# No yellows: those belong to the zones.
_PALETTE = ((56, 56, 255), (255, 157, 151), (31, 112, 255), (10, 249, 72), (23, 204, 146),
            (187, 212, 0), (255, 115, 100), (255, 56, 132), (255, 255, 255), (147, 20, 255))
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _colour(label: str) -> tuple[int, int, int]:
    return _PALETTE[zlib.crc32(label.encode()) % len(_PALETTE)]


def _ascii(text: str) -> str:
    # OpenCV's Hershey fonts only have ASCII; make the loss explicit rather than garbled.
    return text.encode("ascii", "replace").decode("ascii")


def _label(img: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int],
           scale: float, thick: int) -> None:
    """Text on a filled background whose bottom-left corner is (x, y), kept inside the frame."""
    text = _ascii(text)
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    h, w = img.shape[:2]
    x = int(min(max(x, 0), max(w - tw - 2, 0)))
    y = int(min(max(y, th + base + 2), h - 1))
    cv2.rectangle(img, (x, y - th - base - 2), (x + tw + 2, y), colour, cv2.FILLED)
    luminance = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(img, text, (x + 1, y - base - 1), _FONT, scale, ink, thick, cv2.LINE_AA)


def render_snapshot(
    frame_bgr: np.ndarray,
    boxes: Sequence[Box],
    zones: Sequence[Zone],
    caption: str | None = None,
) -> np.ndarray:
    """A new annotated image; ``frame_bgr`` is left untouched."""
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}")
    img = np.ascontiguousarray(frame_bgr).copy()
    h, w = img.shape[:2]
    thick = max(1, round(min(h, w) / 360))
    scale = max(0.4, min(h, w) / 900)

    polys = []
    for name, poly in zones:
        pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2) * (w, h)
        pts = np.clip(np.round(pts), 0, (w - 1, h - 1)).astype(np.int32)
        if len(pts) == 0:
            continue
        polys.append((name, pts))
    if polys:
        overlay = img.copy()
        cv2.fillPoly(overlay, [p for _, p in polys], _ZONE_COLOUR)
        cv2.addWeighted(overlay, ZONE_ALPHA, img, 1 - ZONE_ALPHA, 0, dst=img)
        for name, pts in polys:
            cv2.polylines(img, [pts], True, _ZONE_COLOUR, thick, cv2.LINE_AA)
            top = pts[np.argmin(pts[:, 1])]  # name at the zone's highest vertex
            _label(img, name, int(top[0]), int(top[1]), _ZONE_COLOUR, scale, thick)

    for xyxy, label, conf in boxes:
        x1, y1, x2, y2 = (int(round(float(v))) for v in xyxy)
        colour = _colour(label)
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, thick + 1)
        _label(img, f"{label} {float(conf):.2f}", x1, y1, colour, scale, thick)

    if caption:
        _label(img, caption, 0, h - 1, (32, 32, 32), scale, thick)
    return img


def _encode(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _publish_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Temp name in the same folder so the rename is atomic (same filesystem). os.open with
    # 0o666 keeps the usual umask-derived mode (mkstemp would make it owner-only).
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        publish(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_snapshot(
    path: str | os.PathLike[str],
    frame_bgr: np.ndarray,
    boxes: Sequence[Box],
    zones: Sequence[Zone],
    caption: str | None = None,
) -> tuple[str, int]:
    """Render and write the snapshot atomically; returns (sha256, size in bytes)."""
    data = _encode(render_snapshot(frame_bgr, boxes, zones, caption))
    _publish_bytes(path, data)
    return sha256_bytes(data), len(data)


def clean_frame_path(snapshot: str) -> str:
    """Where a snapshot's clean frame goes (relative or absolute, as given): beside it."""
    return snapshot.removesuffix(".jpg") + ".clean.jpg"


def write_clean_frame(
    root: Path, snapshot_rel: str, frame_bgr: np.ndarray, zones: Sequence[Zone]
) -> dict[str, object]:
    """Write the frame without drawings beside the snapshot; returns what the event's details
    record of it: ``snapshot_clean`` (path relative to the storage root, sha256, size) and
    ``overlay`` (the zone the page draws, polygon in 0..1 of the frame)."""
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}")
    rel = clean_frame_path(snapshot_rel)
    data = _encode(np.ascontiguousarray(frame_bgr))
    _publish_bytes(Path(root) / rel, data)
    h, w = frame_bgr.shape[:2]
    overlay: dict[str, object] = {"frame": [w, h]}
    if zones:
        name, poly = zones[0]
        overlay["zone"] = {"name": name, "polygon": [[float(x), float(y)] for x, y in poly]}
    return {"snapshot_clean": {"path": rel, "sha256": sha256_bytes(data), "size_bytes": len(data)}, "overlay": overlay}
