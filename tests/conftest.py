"""Shared fixtures: the real models, footage built from ../shared/media, file-camera configs."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from rtsp import build_footage

from epatrol.config import parse_config
from epatrol.evidence.store.db import Database
from epatrol.migrations import open_database
from epatrol.pipeline import CameraWorker
from epatrol.supervisor import run_cameras

pytest_plugins = ["no_skips"]  # a skipped test fails the run

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"


@pytest.fixture(scope="session", autouse=True)
def runtime_cache(tmp_path_factory) -> Path:
    """Derived graphs and measured runtime choices go to one folder per test session (subprocesses
    inherit it), not to the user's ~/.cache: each model is measured once per session."""
    import os

    folder = tmp_path_factory.mktemp("epatrol-cache")
    os.environ["EPATROL_CACHE"] = str(folder)
    return folder


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
def postgres():
    """One real PostgreSQL server for the session; each test makes its own database on it."""
    from pg import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def tmpfs(tmp_path):
    """A factory for real size-limited filesystems (tmpfs; needs root, else the test skips)."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"tmpfs-{len(mounts)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture(scope="session")
def detector(shared_dir):
    from epatrol.models.detector import load_detector

    # As `epatrol run` loads it: on the runtime and precision measured fastest here that agree with the shipped graph.
    return load_detector("yolov8n_int8", MODELS, threads=2, runtime="auto")


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


class Patrol(NamedTuple):
    cfg: object
    db: Database
    workers: dict
    notifications: list[dict]


def camera_entry(cid: str, url: Path | str, zone: dict, **extra) -> dict:
    return {"id": cid, "name": f"测试 {cid}", "url": str(url), "site": "business", "zones": [zone], **extra}


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 collecting the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def patrol(tmp_path_factory, footage, detector):
    """Both demo cameras plus broken ones, run once through the real pipeline, notifying a webhook."""
    hook = WebhookReceiver()
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
        notify={"webhooks": [{"url": hook.url}], "retry_backoff_s": 0.1},
    )
    cfg = parse_config(raw)
    db = open_database(cfg.database_url)
    workers = run_cameras(cfg, detector, db, threading.Event())
    hook.close()
    del raw["notify"]  # the CLI tests reuse this config without the (stopped) receiver
    (storage / "config.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    return Patrol(cfg, db, {w.camera.id: w for w in workers}, hook.received)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright (tests/browser.py), one per page-test module."""
    from browser import launch_chromium

    with launch_chromium() as b:
        yield b


@contextmanager
def patrolling(cfg, detector, db, health=None) -> Iterator[tuple[CameraWorker, threading.Thread]]:
    """The first camera's worker on a thread of its own (no supervisor to restart it: a crash
    shows as a dead thread); stopped, and checked stopped, on exit."""
    stop = threading.Event()
    worker = CameraWorker(cfg.cameras[0], cfg, detector, db, stop, health)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker, thread
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the worker did not stop when asked"
