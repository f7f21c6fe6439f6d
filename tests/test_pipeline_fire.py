"""Open burning end to end: a file camera of real scrub-fire footage through the real fire model,
confirmed over time, one event with its clip, recorded against the fire model's checksum."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import av
from conftest import MODELS, camera_entry, make_config

from epatrol.common.hashing import sha256_file
from epatrol.config import parse_config
from epatrol.migrations import open_database
from epatrol.models.detector import load_detectors
from epatrol.models.manifest import get_spec
from epatrol.supervisor import run_cameras

WHOLE_FRAME = {"name": "field", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "violations": ["open_burning"]}


def test_open_burning_camera_alerts_once_within_seconds(footage, detector, tmp_path):
    raw = make_config(tmp_path / "data", [camera_entry("field-fire-1", footage["open_burning.mp4"], WHOLE_FRAME)])
    cfg = parse_config(raw)
    db = open_database(cfg.database_url)
    # Loaded as `epatrol run` loads it, before any camera starts (the runtime is measured then).
    fire = load_detectors({"fire_smoke"}, cfg.models)["fire_smoke"]
    # A file read as fast as possible runs on a clock that starts when it opens: video time 0.
    before = datetime.now(timezone.utc)
    run_cameras(cfg, {detector.name: detector, fire.name: fire}, db, threading.Event())
    events = db.list_events()
    assert [(e.violation, e.camera_id) for e in events] == [("open_burning", "field-fire-1")]
    ev = events[0]
    assert ev.model_name == "fire_smoke" and ev.model_sha256 == get_spec("fire_smoke").sha256
    assert ev.details["model_runs_on"] == fire.runs_on
    # Flames are visible from 1.5 s into the footage; the goal is an alert within 10 s of that.
    assert (ev.alerted_at - before).total_seconds() < 1.5 + 10.0
    assert ev.started_at <= ev.alerted_at
    assert ev.details  # why: the confirming samples and cue values
    clip = cfg.storage.root / ev.clip
    assert sha256_file(clip) == ev.clip_sha256
    with av.open(str(clip)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 25 * 5
    assert (MODELS / "light_yolov8_flame_416.onnx").is_file()
