"""The evidence database on real SQLite files."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from epatrol.evidence.store.db import Database, EventView, FileView
from epatrol.migrations import open_database
from epatrol.models.detections import Detections

UTC = timezone.utc
DHAKA = timezone(timedelta(hours=6))
T0 = datetime(2024, 5, 1, 14, 0, 0, tzinfo=DHAKA)  # 08:00 UTC
SHA_A, SHA_B, MODEL_SHA = "a" * 64, "b" * 64, "c" * 64


def _db(tmp_path: Path) -> tuple[Database, str]:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'epatrol.db'}"
    return open_database(url), url


def _records() -> list[dict]:
    d = Detections(
        np.array([[10, 20, 110, 220], [300, 40, 360, 90]], np.float32),
        np.array([0.91, 0.55], np.float32),
        np.array([0, 1], np.int32),
        ("car", "person"),
    )
    return d.to_records()


def _event(db: Database, camera_id: str = "cam1", violation: str = "illegal_parking", at: datetime = T0) -> int:
    return db.open_event(
        camera_id=camera_id,
        zone="bus-stop",
        violation=violation,
        started_at=at,
        alerted_at=at + timedelta(seconds=30),
        model_name="yolo11n",
        model_sha256=MODEL_SHA,
        detections=_records(),
        details={"dwell_s": 30.0, "track_ids": [4]},
    )


@pytest.fixture
def db(tmp_path: Path):
    d, _ = _db(tmp_path)
    d.upsert_camera("cam1", "Gate 1", "Motijheel", "rtsp://admin:secret@10.0.0.5:554/stream1")
    d.upsert_camera("cam2", "Gate 2", "Motijheel", "rtsp://10.0.0.6/stream1")
    yield d
    d.close()


def test_event_lifecycle(db: Database) -> None:
    eid = _event(db)
    db.update_event(eid, details={"dwell_s": 45.0, "track_ids": [4, 9]})
    db.add_file(eid, "snapshot", "snapshots/cam1/2024-05-01/1-illegal_parking.jpg", SHA_B, 1234, T0)
    db.add_file(eid, "clip", "clips/cam1/2024-05-01/1-illegal_parking.mp4", SHA_A, 99_000,
                T0 - timedelta(seconds=5), T0 + timedelta(seconds=60))
    db.set_clip_state(eid, "complete")
    db.close_event(eid, T0 + timedelta(minutes=2), "vehicle left")

    (v,) = db.list_events()
    assert isinstance(v, EventView)
    assert v == db.get_event(eid)
    assert (v.id, v.camera_id, v.camera_name, v.site) == (eid, "cam1", "Gate 1", "Motijheel")
    assert (v.zone, v.violation, v.model_name, v.model_sha256) == ("bus-stop", "illegal_parking", "yolo11n", MODEL_SHA)
    assert v.detections == _records() and v.detections[0]["label"] == "car"
    assert v.details == {"dwell_s": 45.0, "track_ids": [4, 9]}
    assert v.clip_state == "complete"
    assert v.end_reason == "vehicle left"
    assert (v.clip, v.clip_sha256) == ("clips/cam1/2024-05-01/1-illegal_parking.mp4", SHA_A)
    assert (v.snapshot, v.snapshot_sha256) == ("snapshots/cam1/2024-05-01/1-illegal_parking.jpg", SHA_B)
    # Aware UTC out, whatever zone went in.
    for t in (v.started_at, v.alerted_at, v.ended_at):
        assert t.tzinfo == UTC
    assert v.started_at == T0 and v.started_at.hour == 8
    assert v.alerted_at == T0 + timedelta(seconds=30)
    assert v.ended_at == T0 + timedelta(minutes=2)

    assert db.all_files() == [
        FileView(eid, "snapshot", "snapshots/cam1/2024-05-01/1-illegal_parking.jpg", SHA_B, 1234),
        FileView(eid, "clip", "clips/cam1/2024-05-01/1-illegal_parking.mp4", SHA_A, 99_000),
    ]


def test_new_event_is_recording_without_files(db: Database) -> None:
    v = db.get_event(_event(db))
    assert v is not None
    assert v.clip_state == "recording" and v.ended_at is None and v.end_reason is None
    assert v.clip is None and v.snapshot is None
    assert db.get_event(999) is None


def test_sqlite_pragmas(db: Database) -> None:
    with db.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_naive_datetimes_are_refused(db: Database) -> None:
    naive = datetime(2024, 5, 1, 8, 0, 0)
    with pytest.raises(ValueError, match="naive"):
        _event(db, at=naive)
    eid = _event(db)
    with pytest.raises(ValueError, match="naive"):
        db.close_event(eid, naive, "gone")
    with pytest.raises(ValueError, match="naive"):
        db.add_file(eid, "clip", "clips/x.mp4", SHA_A, 1, naive)
    assert len(db.list_events()) == 1


def test_invalid_input_is_refused(db: Database) -> None:
    eid = _event(db)
    with pytest.raises(IntegrityError):  # foreign keys are enforced
        _event(db, camera_id="no-such-camera")
    with pytest.raises(KeyError):
        db.update_event(12345, details={})
    with pytest.raises(KeyError):
        db.add_file(12345, "clip", "clips/x.mp4", SHA_A, 1, T0)
    with pytest.raises(ValueError):
        db.set_clip_state(eid, "done")
    with pytest.raises(ValueError):
        db.add_file(eid, "video", "clips/x.mp4", SHA_A, 1, T0)
    for bad in ("../etc/passwd", "/etc/passwd", "clips/../../x.mp4"):
        with pytest.raises(ValueError):
            db.add_file(eid, "clip", bad, SHA_A, 1, T0)
    with pytest.raises(ValueError):
        db.add_file(eid, "clip", "clips/x.mp4", "not-a-hash", 1, T0)
    assert db.all_files() == []


def test_second_database_object_sees_the_data(tmp_path: Path) -> None:
    db1, url = _db(tmp_path)
    db1.upsert_camera("cam1", "Gate 1", "Motijheel", "rtsp://10.0.0.5/s")
    eid = _event(db1)
    db1.add_file(eid, "clip", "clips/cam1/a.mp4", SHA_A, 10, T0)
    before = db1.get_event(eid)
    db1.close()

    db2 = open_database(url)
    assert db2.get_event(eid) == before
    db2.upsert_camera("cam1", "Gate One", "Motijheel", "rtsp://10.0.0.5/s")  # an update, not a duplicate
    assert db2.get_event(eid).camera_name == "Gate One"
    db2.close()


def test_camera_credentials_are_not_stored(db: Database) -> None:
    with db.engine.connect() as c:
        urls = dict(c.execute(text("SELECT id, url FROM cameras")).all())
    assert urls == {"cam1": "rtsp://10.0.0.5:554/stream1", "cam2": "rtsp://10.0.0.6/stream1"}


def test_list_filters_order_and_paging(db: Database) -> None:
    ids = [
        _event(db, "cam1", "illegal_parking", T0),
        _event(db, "cam2", "illegal_parking", T0 + timedelta(minutes=1)),
        _event(db, "cam1", "open_burning", T0 + timedelta(minutes=2)),
    ]
    assert [v.id for v in db.list_events()] == ids[::-1]  # newest first
    assert [v.id for v in db.list_events(camera_id="cam1")] == [ids[2], ids[0]]
    assert [v.id for v in db.list_events(violation="illegal_parking")] == [ids[1], ids[0]]
    assert [v.id for v in db.list_events(camera_id="cam1", violation="open_burning")] == [ids[2]]
    assert [v.id for v in db.list_events(limit=1, offset=1)] == [ids[1]]
    assert db.list_events(camera_id="nope") == []


def test_list_events_is_not_n_plus_one(db: Database) -> None:
    for i in range(20):
        eid = _event(db, "cam1" if i % 2 else "cam2", at=T0 + timedelta(seconds=i))
        db.add_file(eid, "clip", f"clips/c/{eid}.mp4", SHA_A, 1, T0)
        db.add_file(eid, "snapshot", f"snapshots/c/{eid}.jpg", SHA_B, 1, T0)
    selects: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        views = db.list_events(limit=50)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(views) == 20 and all(v.clip and v.snapshot for v in views)
    assert 1 <= len(selects) <= 2  # events+cameras joined, files in one IN query


def test_concurrent_writers(db: Database) -> None:
    errors: list[BaseException] = []

    def work(cam: str) -> None:
        try:
            for i in range(15):
                eid = _event(db, cam, at=T0 + timedelta(seconds=i))
                db.update_event(eid, details={"i": i})
                db.add_file(eid, "clip", f"clips/{cam}/{eid}.mp4", SHA_A, i, T0)
                db.set_clip_state(eid, "complete")
                db.list_events(limit=5)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in ("cam1", "cam2", "cam1", "cam2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    views = db.list_events(limit=1000)
    assert len(views) == 60 and all(v.clip_state == "complete" for v in views)
    assert len(db.all_files()) == 60


def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    db = open_database("sqlite://")
    db.upsert_camera("cam1", "Gate 1", "Motijheel", "rtsp://x/s")
    eid = _event(db)
    assert db.get_event(eid).zone == "bus-stop"
    db.close()
