"""The same evidence store on a real PostgreSQL server: the schema, events, files, concurrent writers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from pg import pg_unavailable_reason

from epatrol.migrations import open_database

pytestmark = pytest.mark.skipif(pg_unavailable_reason() is not None, reason=str(pg_unavailable_reason()))

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)


def test_events_and_files_round_trip(postgres):
    db = open_database(postgres.create_database("roundtrip"))
    db.upsert_camera("cam-1", "东门", "school", "rtsp://user:secret@10.0.0.5/stream")
    event_id = db.open_event("cam-1", "gate", "parked_bikes", T0, T0 + timedelta(seconds=120), "yolov8n_int8", "a" * 64, [{"label": "bicycle"}], {"count": 1})
    db.add_file(event_id, "clip", f"clips/cam-1/2026-05-01/{event_id}-parked_bikes.mp4", "b" * 64, 1234, T0)
    db.set_clip_state(event_id, "complete")
    db.close_event(event_id, T0 + timedelta(minutes=30), "cleared")
    again = open_database(db.engine.url.render_as_string(hide_password=False))
    ev = again.get_event(event_id)
    assert ev.camera_name == "东门" and ev.clip_sha256 == "b" * 64 and ev.clip_state == "complete"
    assert ev.started_at == T0 and ev.started_at.tzinfo is not None
    assert ev.ended_at == T0 + timedelta(minutes=30)


def test_concurrent_camera_threads_write_safely(postgres):
    db = open_database(postgres.create_database("concurrent"))
    for i in range(4):
        db.upsert_camera(f"cam-{i}", f"cam {i}", "other", f"rtsp://127.0.0.1/{i}")
    errors: list[BaseException] = []

    def camera(i: int) -> None:
        try:
            for n in range(10):
                eid = db.open_event(f"cam-{i}", "z", "parked_bikes", T0, T0 + timedelta(seconds=n), "m", "c" * 64, [], {})
                db.close_event(eid, T0 + timedelta(seconds=n + 1), "cleared")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(db.list_events(limit=200)) == 40
