"""End to end on real footage and real models: file cameras -> parked-bike events -> clips in SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import yaml
from conftest import BIKE_ZONE, camera_entry, make_config
from sqlalchemy import select
from sqlalchemy.orm import Session

from epatrol.common.hashing import sha256_file
from epatrol.evidence.store.db import EvidenceFile

PRE_S, POST_S, GOP_S = 5.0, 5.0, 2.0


def test_parked_bike_gives_exactly_one_event(patrol, detector):
    db, workers = patrol.db, patrol.workers
    events = db.list_events(camera_id="wall-street-1")
    assert len(events) == 1
    ev = events[0]
    assert (ev.violation, ev.zone, ev.camera_name) == ("parked_bikes", "wall-footway", "测试 wall-street-1")
    assert ev.model_name == "yolov8n_int8" and len(ev.model_sha256) == 64
    # Which runtime and precision made the detections that raised it (chosen by measurement).
    assert ev.details["model_runs_on"] == detector.runs_on and detector.precision in ev.details["model_runs_on"]
    assert ev.detections and ev.detections[0]["label"] == "bicycle"
    dwell = (ev.alerted_at - ev.started_at).total_seconds()
    assert 20.0 <= dwell < 22.0, dwell
    assert ev.ended_at is not None and ev.end_reason == "end of stream"
    assert ev.clip_state == "complete"
    assert workers["wall-street-1"].stats.samples >= 55  # one a second over 60 s of video


def test_clip_is_a_remux_from_a_keyframe_spanning_pre_and_post_roll(patrol):
    cfg, db = patrol.cfg, patrol.db
    ev = db.list_events(camera_id="wall-street-1")[0]
    clip = cfg.storage.root / ev.clip
    assert clip.is_file() and not list(clip.parent.glob("*.part"))
    assert sha256_file(clip) == ev.clip_sha256
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 272)
        packets = [p for p in c.demux(stream) if p.size]
        assert packets[0].is_keyframe
    with av.open(str(clip)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    duration = len(packets) / 25.0
    # Pre-roll back to the keyframe at or before (alert - pre_s), then post_s after the alert.
    assert PRE_S + POST_S <= duration <= PRE_S + POST_S + GOP_S + 0.1, duration
    assert frames == len(packets)  # every packet decodes: no broken references at the start
    with Session(db.engine) as s:
        row = s.scalars(select(EvidenceFile).where(EvidenceFile.event_id == ev.id, EvidenceFile.kind == "clip")).one()
    assert (ev.alerted_at - row.media_start_utc).total_seconds() >= PRE_S
    assert (row.media_end_utc - ev.alerted_at).total_seconds() >= POST_S


def test_snapshot_shows_the_frame_that_decided(patrol):
    cfg, db = patrol.cfg, patrol.db
    ev = db.list_events(camera_id="wall-street-1")[0]
    snap = cfg.storage.root / ev.snapshot
    img = cv2.imread(str(snap))
    assert img is not None and img.shape == (272, 640, 3)
    assert sha256_file(snap) == ev.snapshot_sha256


def test_people_and_parked_cars_raise_nothing(patrol):
    db, workers = patrol.db, patrol.workers
    assert workers["campus-road-1"].stats.samples >= 75
    assert db.list_events(camera_id="campus-road-1") == []


def test_bad_cameras_fail_alone_with_a_clear_reason(patrol):
    db, workers = patrol.db, patrol.workers
    health = {h.camera_id: h for h in workers["broken-1"].health.snapshot()}
    broken, missing = health["broken-1"], health["missing-1"]
    assert broken.state == "failed" and "notes.mp4" in broken.last_error and "Invalid data" in broken.last_error
    assert missing.state == "failed" and "video file not found" in missing.last_error and "nowhere.mp4" in missing.last_error
    assert workers["broken-1"].stats.packets == workers["missing-1"].stats.packets == 0
    assert len(db.list_events(camera_id="wall-street-1")) == 1  # the good cameras ran regardless


def _epatrol(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epatrol", *args], capture_output=True, text=True, timeout=300, check=check)


def test_cli_events_json_and_verify_catches_one_changed_byte(patrol, tmp_path):
    cfg = patrol.cfg
    config = str(cfg.storage.root / "config.yaml")
    out = _epatrol("events", "-c", config, "--json", check=True).stdout.splitlines()
    records = [json.loads(line) for line in out]
    assert len(records) == 1
    rec = records[0]
    for key in ("id", "camera", "violation", "zone", "started_at", "ended_at", "clip", "snapshot", "clip_sha256"):
        assert rec[key], key
    assert Path(rec["clip"]).is_absolute() and Path(rec["clip"]).is_file()

    ok = _epatrol("verify", "-c", config)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    clip = Path(rec["clip"])
    original = clip.read_bytes()
    try:
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        clip.write_bytes(bytes(data))
        bad = _epatrol("verify", "-c", config)
        assert bad.returncode == 1
        assert str(clip) in bad.stdout and "CHANGED" in bad.stdout
    finally:
        clip.write_bytes(original)


def test_cli_run_end_to_end(footage, tmp_path):
    """`epatrol run` as an operator starts it: one camera, a config file, exit 0, the event listed."""
    raw = make_config(tmp_path / "data", [camera_entry("wall-street-1", footage["parked_bike.mp4"], BIKE_ZONE)])
    config = tmp_path / "epatrol.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    run = _epatrol("run", "-c", str(config), "--stats", str(tmp_path / "stats.json"))
    assert run.returncode == 0, run.stderr[-2000:]
    stats = json.loads((tmp_path / "stats.json").read_text())["wall-street-1"]
    assert stats["events"] == 1 and stats["samples"] >= 55
    assert {"decode", "inference", "judge", "record"} <= set(stats["per_call"])
    events = _epatrol("events", "-c", str(config), "--json", check=True).stdout.splitlines()
    assert len(events) == 1


def test_cli_run_refuses_a_corrupted_model(footage, tmp_path, shared_dir):
    models = tmp_path / "models"
    models.mkdir()
    weights = (shared_dir / "models" / "yolov8n_int8.onnx").read_bytes()
    damaged = bytearray(weights)
    damaged[len(damaged) // 3] ^= 0xFF
    (models / "yolov8n_int8.onnx").write_bytes(bytes(damaged))
    raw = make_config(tmp_path / "data", [camera_entry("wall-street-1", footage["parked_bike.mp4"], BIKE_ZONE)])
    raw["models"]["dir"] = str(models)
    config = tmp_path / "epatrol.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    run = _epatrol("run", "-c", str(config))
    assert run.returncode == 2
    assert "checksum" in run.stderr and str(models / "yolov8n_int8.onnx") in run.stderr
    assert "Traceback" not in run.stderr


def test_webhook_told_of_cameras_and_events(patrol):
    kinds = [(n["kind"], n["camera"]) for n in patrol.notifications]
    assert ("camera.online", "wall-street-1") in kinds and ("camera.offline", "wall-street-1") in kinds
    started = [n for n in patrol.notifications if n["kind"] == "event.started"]
    ended = [n for n in patrol.notifications if n["kind"] == "event.ended"]
    event = patrol.db.list_events(camera_id="wall-street-1")[0]
    assert [n["event_id"] for n in started] == [event.id] == [n["event_id"] for n in ended]
    assert started[0]["violation"] == "parked_bikes" and started[0]["camera_name"] == "测试 wall-street-1"
    assert len({n["message_id"] for n in patrol.notifications}) == len(patrol.notifications)
