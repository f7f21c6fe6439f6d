"""Snapshots drawn on a real photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from epatrol.common.hashing import sha256_file
from epatrol.evidence.recording.snapshot import render_snapshot, write_snapshot

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BUS = SHARED / "media" / "bus.jpg"

BOX = (60, 80, 300, 400)
ZONE = ("kerb", [(0.5, 0.6), (0.95, 0.6), (0.95, 0.95), (0.5, 0.95)])


@pytest.fixture
def frame() -> np.ndarray:
    if not BUS.is_file():
        pytest.skip(f"test media not found: {BUS}")
    img = cv2.imread(str(BUS))
    return cv2.resize(img, (640, 480))


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)


def test_writes_annotated_jpeg(frame: np.ndarray, tmp_path: Path) -> None:
    before = frame.copy()
    path = tmp_path / "snapshots" / "cam1" / "2024-05-01" / "7-illegal_parking.jpg"
    sha, size = write_snapshot(path, frame, [(BOX, "car", 0.91)], [ZONE], "cam1 2024-05-01T08:00:00Z")

    assert np.array_equal(frame, before)  # input untouched
    assert path.is_file() and list(path.parent.iterdir()) == [path]  # no temp file left
    assert (sha, size) == (sha256_file(path), path.stat().st_size)
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"
    out = cv2.imread(str(path))
    assert out is not None and out.shape == frame.shape

    d = _diff(out, frame)
    x1, y1, x2, y2 = BOX
    outline = np.concatenate([d[y1, x1:x2], d[y2, x1:x2], d[y1:y2, x1], d[y1:y2, x2]])
    assert np.median(outline) > 60  # the box is drawn
    assert np.median(d[300:450, 340:600]) > 8  # the zone is tinted
    assert np.median(d[150:250, 400:600]) < 6  # far from annotations: JPEG noise only


def test_render_is_pure_and_checks_input(frame: np.ndarray) -> None:
    before = frame.copy()
    img = render_snapshot(frame, [((0, 0, 50, 50), "person", 0.5)], [], None)
    assert img is not frame and np.array_equal(frame, before)
    assert not np.array_equal(img, frame)
    # No annotations: identical pixels.
    assert np.array_equal(render_snapshot(frame, [], []), frame)
    with pytest.raises(ValueError):
        render_snapshot(frame.astype(np.float32), [], [])
    with pytest.raises(ValueError):
        render_snapshot(frame[:, :, 0], [], [])


def test_annotations_off_the_edge_and_non_ascii(frame: np.ndarray, tmp_path: Path) -> None:
    # Boxes partly outside the frame, labels at the very top, a non-ASCII zone name.
    sha, size = write_snapshot(
        tmp_path / "edge.jpg",
        frame,
        [((-20, -10, 700, 30), "bus", 0.8), ((600, 470, 660, 500), "person", 0.4)],
        [("ফুটপাত", [(0.0, 0.0), (1.0, 0.0), (1.0, 0.2)])],
        "caption",
    )
    assert size > 0 and cv2.imread(str(tmp_path / "edge.jpg")).shape == frame.shape
