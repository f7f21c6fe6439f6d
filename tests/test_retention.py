"""Retention on a real database and real files: oldest unheld evidence goes first, by age and by
free space; confirmed evidence and evidence in a case never goes; the ledger stays intact."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epatrol.common.hashing import sha256_file
from epatrol.config import Retention
from epatrol.evidence.export.verify import verify_files, verify_ledger
from epatrol.evidence.recording.paths import clip_rel_path, snapshot_rel_path
from epatrol.evidence.recording.retention import apply_retention, purge_event
from epatrol.evidence.review.cases import add_event, create_case
from epatrol.evidence.review.decisions import decide
from epatrol.evidence.store.db import Database
from epatrol.migrations import open_database

NOW = datetime.now(timezone.utc)


def _event(db: Database, root: Path, age_days: float, clip_bytes: int = 50_000) -> int:
    alerted = NOW - timedelta(days=age_days)
    eid = db.open_event("cam-1", "gate", "parked_bikes", alerted - timedelta(minutes=2), alerted, "yolov8n_int8", "a" * 64, [], {"count": 1})
    for kind, rel, size in (
        ("clip", clip_rel_path("cam-1", eid, "parked_bikes", alerted), clip_bytes),
        ("snapshot", snapshot_rel_path("cam-1", eid, "parked_bikes", alerted), 2_000),
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        db.add_file(eid, kind, rel, sha256_file(path), size, alerted)
    db.set_clip_state(eid, "complete")
    return eid


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "data"
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    db.upsert_camera("cam-1", "东门", "school", "rtsp://127.0.0.1/cam1")
    return db, root


def test_age_limit_spares_confirmed_and_cased_evidence(store):
    db, root = store
    old_pending = _event(db, root, 40)
    old_confirmed = _event(db, root, 41)
    old_in_case = _event(db, root, 42)
    old_dismissed = _event(db, root, 43)
    recent = _event(db, root, 2)
    decide(db, old_confirmed, "confirm", "officer-li")
    decide(db, old_in_case, "confirm", "officer-li")
    add_event(db, create_case(db, "建设路 repeated parking", "officer-li").id, old_in_case, "officer-li")
    decide(db, old_dismissed, "dismiss", "officer-li", reason="bike of the shop, inside its permit")

    report = apply_retention(db, root, Retention(max_age_days=30, min_free_mb=0))

    assert sorted(report.purged_events) == sorted([old_pending, old_dismissed])
    assert report.held_skipped == 2 and report.freed_bytes == 2 * 52_000
    for eid in (old_pending, old_dismissed):
        ev = db.get_event(eid)
        assert ev.clip is None and ev.snapshot is None and ev.clip_state == "purged"
        assert not list(root.glob(f"clips/**/{eid}-*"))
    for eid in (old_confirmed, old_in_case, recent):
        ev = db.get_event(eid)
        assert ev.clip_state == "complete" and (root / ev.clip).is_file()
    assert verify_files(db, root) == []
    assert verify_ledger(db).problems == []  # purges are ledgered, not silent deletions


def test_held_evidence_cannot_be_purged_by_hand(store):
    db, root = store
    eid = _event(db, root, 100)
    decide(db, eid, "confirm", "officer-li")
    with pytest.raises(ValueError, match="legal hold"):
        purge_event(db, root, eid, "manual")
    assert (root / db.get_event(eid).clip).is_file()


def test_free_space_floor_deletes_oldest_unheld_first(tmpfs):
    root = tmpfs("8m") / "data"
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    db.upsert_camera("cam-1", "东门", "school", "rtsp://127.0.0.1/cam1")
    oldest = _event(db, root, 5, clip_bytes=900_000)
    held = _event(db, root, 4, clip_bytes=900_000)
    middle = _event(db, root, 3, clip_bytes=900_000)
    newest = _event(db, root, 1, clip_bytes=900_000)
    decide(db, held, "confirm", "officer-li")
    free_before = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
    floor_mb = (free_before + 1_500_000) / 2**20  # needs two clips' worth back

    report = apply_retention(db, root, Retention(max_age_days=None, min_free_mb=floor_mb))

    assert report.purged_events == [oldest, middle]  # oldest first, the held one skipped
    assert report.free_bytes_after >= floor_mb * 2**20
    assert db.get_event(held).clip_state == "complete" and db.get_event(newest).clip_state == "complete"
    assert verify_files(db, root) == [] and verify_ledger(db).problems == []


def test_database_of_an_unknown_shape_is_named_not_crashed_on(tmp_path):
    """Older schemas are upgraded (tests/test_migrations.py); one that matches no epatrol
    version (here: half of the retention columns) is refused with the column named."""
    from sqlalchemy import text

    from epatrol.evidence.store.db import SchemaMismatch

    url = f"sqlite:///{tmp_path / 'odd.db'}"
    with open_database(url).engine.begin() as conn:
        conn.execute(text("ALTER TABLE evidence_files DROP COLUMN purge_reason"))
        conn.execute(text("DROP TABLE alembic_version"))  # as if made before Alembic
    with pytest.raises(SchemaMismatch, match="evidence_files lacks column.*purge_reason"):
        open_database(url)
