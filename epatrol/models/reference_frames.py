"""The real frames a runtime candidate must agree on before it may run (selection.py).

Where they come from, first found wins: `models.reference_frames` in the config; a
`reference_frames/` folder inside the models folder; a `media/` folder beside the models folder
(the project's shared layout: models/ and media/ side by side). Photos are used as they are and
videos give a few frames spread over their length, so the set holds street scenes, people,
vehicles and fire: what the detectors are asked about.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

PHOTOS = {".jpg", ".jpeg", ".png", ".bmp"}
VIDEOS = {".mp4", ".avi", ".mkv", ".mov"}
FRAMES_PER_VIDEO = 2
MAX_FRAMES = 6  # every candidate runs each frame 1 + selection.TIMED_RUNS times


def reference_folder(configured: Path | None, models_dir: Path) -> Path | None:
    for folder in (configured, models_dir / "reference_frames", models_dir.parent / "media"):
        if folder is not None and Path(folder).is_dir():
            return Path(folder)
    return None


def load_reference_frames(configured: Path | None, models_dir: Path) -> list[np.ndarray]:
    """Up to MAX_FRAMES BGR frames, photos first, in name order (the same set every start)."""
    folder = reference_folder(configured, models_dir)
    if folder is None:
        return []
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTOS | VIDEOS)
    frames: list[np.ndarray] = []
    for path in sorted(files, key=lambda p: p.suffix.lower() not in PHOTOS):
        if len(frames) >= MAX_FRAMES:
            break
        if path.suffix.lower() in PHOTOS:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            found = [image] if image is not None else []
        else:
            found = _video_frames(path)
        if not found:
            log.warning("reference frames: cannot read %s; skipped", path)
        frames.extend(found[: MAX_FRAMES - len(frames)])
    return frames


def _video_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        for i in range(FRAMES_PER_VIDEO):
            capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, count * (i + 1) // (FRAMES_PER_VIDEO + 1)))
            ok, frame = capture.read()
            if ok:
                frames.append(frame)
        return frames
    finally:
        capture.release()
