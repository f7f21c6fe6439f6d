"""The hash-chained ledger on real SQLite files: every evidence write is chained, and
`verify` names an edited, deleted, inserted or reordered record."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from epatrol.evidence.export.verify import verify_ledger
from epatrol.evidence.review import cases, decisions
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.ledger import GENESIS, canonical
from epatrol.migrations import open_database

T0 = datetime(2024, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=8)))


def _event(db: Database, cam: str = "cam1", at: datetime = T0) -> int:
    eid = db.open_event(cam, "footway", "parked_bikes", at, at + timedelta(seconds=20), "yolov8n_int8", "c" * 64,
                        [{"label": "bicycle", "confidence": 0.81, "xyxy": [1.5, 2.0, 30.0, 40.0]}], {"dwell_s": 20.0, "n": 1})
    db.update_event(eid, details={"dwell_s": 35.5, "n": 2})
    db.add_file(eid, "snapshot", f"snapshots/{cam}/2024-05-01/{eid}-parked_bikes.jpg", "b" * 64, 1234, at)
    db.add_file(eid, "clip", f"clips/{cam}/2024-05-01/{eid}-parked_bikes.mp4", "a" * 64, 99_000, at, at + timedelta(seconds=30))
    db.set_clip_state(eid, "complete")
    db.close_event(eid, at + timedelta(minutes=3), "cleared")
    return eid


@pytest.fixture
def db(tmp_path: Path):
    d = open_database(f"sqlite:///{tmp_path / 'epatrol.db'}")
    d.upsert_camera("cam1", "东门", "school", "rtsp://user:pw@10.0.0.5/s")
    d.upsert_camera("cam2", "西门", "school", "rtsp://10.0.0.6/s")
    yield d
    d.close()


def _sql(db: Database, sql: str, **params) -> None:
    with db.engine.begin() as c:
        c.exec_driver_sql("PRAGMA foreign_keys = OFF")
        c.execute(text(sql), params)


def _messages(db: Database) -> list[str]:
    return [str(p) for p in verify_ledger(db).problems]


def _filled(db: Database) -> tuple[int, int]:
    e1, e2 = _event(db), _event(db, "cam2", T0 + timedelta(minutes=5))
    decisions.decide(db, e1, "confirm", "officer1", note="bike on the tactile paving")
    decisions.decide(db, e2, "dismiss", "officer1", reason="shop's own bike, inside its permit area")
    c = cases.create_case(db, "East gate, May", "officer1", note="first note")
    cases.add_event(db, c.id, e1, "officer1")
    cases.close_case(db, c.id, "officer1")
    return e1, e2


def test_every_evidence_write_is_chained(db: Database) -> None:
    e1, _ = _filled(db)
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT seq, kind, subject, event_id, payload, prev_hash, hash FROM ledger ORDER BY seq")).all()
    kinds = [r.kind for r in rows]
    assert kinds[:2] == ["camera.upsert", "camera.upsert"]
    assert kinds[2:8] == ["event.open", "event.update", "file.add", "file.add", "event.clip_state", "event.close"]
    assert kinds[-6:] == ["review.decide", "review.decide", "case.create", "case.note", "case.add_event", "case.close"]
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    # Each hash covers the previous one: recompute the chain from the documented formula.
    prev = GENESIS
    with db.engine.connect() as c:
        ats = dict(c.execute(text("SELECT seq, at FROM ledger")).all())
    for r in rows:
        at = datetime.fromisoformat(str(ats[r.seq])).replace(tzinfo=timezone.utc)
        header = canonical({"seq": r.seq, "at": at.isoformat(), "kind": r.kind, "subject": r.subject, "event_id": r.event_id})
        assert r.prev_hash == prev
        assert r.hash == hashlib.sha256(f"{prev}\n{header}\n{r.payload}".encode()).hexdigest()
        prev = r.hash
    # The payload is the row's state: credentials stripped, times in UTC, the review's who.
    cam = json.loads(rows[0].payload)
    assert cam["url"] == "rtsp://10.0.0.5/s"
    opened = json.loads(rows[2].payload)
    assert opened["started_at"] == "2024-05-01T06:00:00+00:00" and opened["id"] == e1
    decided = json.loads(rows[-6].payload)
    assert (decided["decided_by"], decided["decision"]) == ("officer1", "confirm")
    report = verify_ledger(db)
    assert report.problems == [] and report.entries == len(rows) and report.head_hash == prev


def test_unchanged_camera_reregistration_is_not_chained(db: Database) -> None:
    before = verify_ledger(db).entries
    db.upsert_camera("cam1", "东门", "school", "rtsp://user:pw@10.0.0.5/s")  # every restart does this
    assert verify_ledger(db).entries == before
    db.upsert_camera("cam1", "东门 (moved)", "school", "rtsp://10.0.0.5/s")
    assert verify_ledger(db).entries == before + 1 and verify_ledger(db).problems == []


def test_edited_event_row_is_named(db: Database) -> None:
    e1, _ = _filled(db)
    _sql(db, "UPDATE events SET zone = 'elsewhere', ended_at = NULL WHERE id = :e", e=e1)
    (msg,) = _messages(db)
    assert f"event:{e1}" in msg and "ended_at, zone" in msg


def test_edited_file_hash_and_review_are_named(db: Database) -> None:
    e1, e2 = _filled(db)
    _sql(db, "UPDATE evidence_files SET sha256 = :h WHERE event_id = :e AND kind = 'clip'", h="f" * 64, e=e1)
    _sql(db, "UPDATE reviews SET decision = 'confirm', reason = NULL WHERE event_id = :e", e=e2)
    msgs = _messages(db)
    assert len(msgs) == 2
    assert any(m.startswith("seq ") and "file:" in m and "sha256" in m for m in msgs)
    assert any("review:" in m and "decision, reason" in m for m in msgs)


def test_edited_ledger_entry_is_named(db: Database) -> None:
    e1, _ = _filled(db)
    # Rewrite history consistently in the row AND its newest ledger entry: the hash catches it.
    _sql(db, "UPDATE events SET zone = 'elsewhere' WHERE id = :e", e=e1)
    _sql(db, "UPDATE ledger SET payload = replace(payload, '\"zone\":\"footway\"', '\"zone\":\"elsewhere\"') "
             "WHERE seq = (SELECT max(seq) FROM ledger WHERE subject = :s)", s=f"event:{e1}")
    msgs = _messages(db)
    assert len(msgs) == 1 and f"event:{e1}" in msgs[0] and "edited" in msgs[0]


def test_deleted_ledger_entries_are_named(db: Database) -> None:
    _filled(db)
    _sql(db, "DELETE FROM ledger WHERE seq = 5")
    msgs = _messages(db)
    assert any("seq 6" in m and "entries 5..5 are missing" in m for m in msgs)
    # The deleted entry was file:1's only record, so the row is now unaccounted for too.
    assert any("file:1" in m and "no ledger entry" in m for m in msgs)


def test_deleted_tail_is_detected_by_the_head(db: Database) -> None:
    _filled(db)
    _sql(db, "DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)")
    msgs = _messages(db)
    assert any("head records seq" in m for m in msgs)


def test_reordered_entries_are_named(db: Database) -> None:
    _filled(db)
    _sql(db, "UPDATE ledger SET seq = -1 WHERE seq = 3")
    _sql(db, "UPDATE ledger SET seq = 3 WHERE seq = 4")
    _sql(db, "UPDATE ledger SET seq = 4 WHERE seq = -1")
    msgs = _messages(db)
    assert any(m.startswith("seq 3") and "does not link" in m for m in msgs)
    assert any(m.startswith("seq 4") for m in msgs)


def test_deleted_and_smuggled_rows_are_named(db: Database) -> None:
    e1, e2 = _filled(db)
    _sql(db, "DELETE FROM reviews WHERE event_id = :e", e=e2)  # make a dismissal disappear
    _sql(db, "INSERT INTO reviews (event_id, decision, decided_by, decided_at) VALUES (:e, 'confirm', 'ghost', '2024-05-02 00:00:00')", e=e2)
    msgs = _messages(db)
    assert any("review:2" in m and "row is gone" in m for m in msgs)
    assert any("review:3" in m and "no ledger entry" in m for m in msgs)


def test_concurrent_writers_keep_one_chain(db: Database) -> None:
    errors: list[BaseException] = []

    def work(cam: str) -> None:
        try:
            for i in range(6):
                _event(db, cam, T0 + timedelta(seconds=i))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in ("cam1", "cam2", "cam1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify_ledger(db)
    assert report.problems == [] and report.entries == 2 + 18 * 6


def test_cli_verify_names_the_tampered_record(tmp_path: Path) -> None:
    root = tmp_path / "data"
    config = tmp_path / "epatrol.yaml"
    config.write_text(yaml.safe_dump({"storage": {"root": str(root)}, "cameras": [{"id": "cam1", "name": "x", "url": "x.mp4"}]}))
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    db.upsert_camera("cam1", "东门", "school", "rtsp://10.0.0.5/s")
    eid = db.open_event("cam1", "z", "parked_bikes", T0, T0, "m", "c" * 64, [], {})
    db.close()

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "epatrol", "verify", "-c", str(config)], capture_output=True, text=True, timeout=120)

    ok = verify()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ledger intact: 2 entries" in ok.stdout
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    _sql(db, "UPDATE events SET violation = 'nothing' WHERE id = :e", e=eid)
    db.close()
    bad = verify()
    assert bad.returncode == 1
    assert f"LEDGER: seq 2 event:{eid}: the row differs from its newest ledger entry in: violation" in bad.stdout
