"""Shared fixtures: the real models, footage built from ../shared/media, file-camera configs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from epatrol.config import parse_config
from epatrol.evidence.db import Database
from epatrol.pipeline import run_cameras
from rtsp import build_footage

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (MODELS / "yolov8n_int8.onnx").is_file():
        pytest.fail(f"the shared models are missing: expected {MODELS} (../shared beside the checkout)")
    return SHARED


@pytest.fixture(scope="session")
def footage(tmp_path_factory, shared_dir) -> dict[str, Path]:
    """parked_bike.mp4 and campus_walkers.mp4: H.264, 25 fps, 2 s GOP, built once per session."""
    return build_footage(tmp_path_factory, shared_dir=shared_dir)


@pytest.fixture(scope="session")
def detector(shared_dir):
    from epatrol.models.detector import load_detector

    return load_detector("yolov8n_int8", MODELS, threads=2)


# The wall-street camera of the demo: a bicycle left against a wall (bikes.mp4) for 60 s.
BIKE_ZONE = {
    "name": "wall-footway",
    "polygon": [[0.30, 0.45], [1.00, 0.45], [1.00, 1.00], [0.30, 1.00]],
    "violations": ["parked_bikes"],
}
# The campus road (vtest.avi): pedestrians and a parked van and car, never a bike.
CAMPUS_ZONE = {
    "name": "road-and-footway",
    "polygon": [[0.00, 0.35], [1.00, 0.35], [1.00, 1.00], [0.00, 1.00]],
    "violations": ["parked_bikes"],
}


def make_config(storage: Path, cameras: list[dict], **sections) -> dict:
    cfg = {
        "storage": {"root": str(storage)},
        "models": {"dir": str(MODELS), "threads": 2},
        "cameras": cameras,
        "violations": {"parked_bikes": {"dwell_s": 20, "min_count": 1, "sample_every_s": 1.0, "end_after_s": 30}},
        "evidence": {"pre_s": 5, "post_s": 5},
    }
    cfg.update(sections)
    return cfg


def camera_entry(cid: str, url: Path | str, zone: dict, **extra) -> dict:
    return {"id": cid, "name": f"测试 {cid}", "url": str(url), "site": "business", "zones": [zone], **extra}


@pytest.fixture(scope="session")
def patrol(tmp_path_factory, footage, detector):
    """Both demo cameras plus a broken one, run once through the real pipeline."""
    storage = tmp_path_factory.mktemp("patrol")
    not_video = storage / "notes.mp4"
    not_video.write_text("this is not a video")
    raw = make_config(
        storage,
        [
            camera_entry("wall-street-1", footage["parked_bike.mp4"], BIKE_ZONE),
            camera_entry("campus-road-1", footage["campus_walkers.mp4"], CAMPUS_ZONE),
            camera_entry("broken-1", not_video, BIKE_ZONE),
            camera_entry("missing-1", storage / "nowhere.mp4", BIKE_ZONE),
        ],
    )
    cfg = parse_config(raw)
    db = Database(cfg.database_url)
    workers = run_cameras(cfg, detector, db, threading.Event())
    (storage / "config.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    return cfg, db, {w.camera.id: w for w in workers}
