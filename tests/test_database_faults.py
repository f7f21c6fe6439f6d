"""The evidence database failing under a live patrol: PostgreSQL stopped mid-run, and the SQLite
database's own disk (a real size-limited tmpfs) full.

What users rely on: the camera goes on patrolling while its database is away (its thread never
dies, samples keep coming); every write the database refuses is logged naming the database and the
driver's own words, and counted in health (`storage_faults["db_write_failed"]`); nothing already
stored is lost (the earlier event, its snapshot and its clip hash as recorded, the ledger verifies);
and once the database answers again the patrol records again: a clip that finished while it was
away stays on disk and is registered then, with its ledger entries."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BIKE_ZONE, camera_entry, make_config, patrolling
from pg import pg_unavailable_reason
from rtsp import RtspServer, rtsp_unavailable_reason
from sqlalchemy import text
from waiting import wait_for

from epatrol.common.hashing import sha256_file
from epatrol.config import parse_config
from epatrol.evidence.export.verify import verify_files, verify_ledger
from epatrol.health import HealthBoard
from epatrol.migrations import open_database

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))

# A short dwell to reach the first event soon; a post-roll long enough to cut the database
# while that event's clip is still recording, so the clip finishes while the database is away.
DWELL_S, PRE_S, POST_S = 3.0, 2.0, 8.0


def _config(root: Path, camera_url: str, database_url: str):
    raw = make_config(
        root,
        [camera_entry("cam", camera_url, BIKE_ZONE)],
        violations={"parked_bikes": {"dwell_s": DWELL_S, "sample_every_s": 1.0, "end_after_s": 30}},
        evidence={"pre_s": PRE_S, "post_s": POST_S},
    )
    raw["storage"]["database_url"] = database_url
    return parse_config(raw)


def _logged(caplog, words: str, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level and words in r.getMessage()]


def _database_away_and_back(cfg, detector, db, caplog, cut: Callable[[], None], restore: Callable[[], None], where: str) -> list[str]:
    """The first event (row and snapshot) recorded, `cut()` the database while its clip records;
    the patrol goes on and the clip's registration is refused (logged naming `where`, counted);
    `restore()`: the clip is registered and everything stored verifies. Returns the refusals logged."""
    caplog.set_level(logging.INFO, logger="epatrol")
    health = HealthBoard()
    with patrolling(cfg, detector, db, health) as (_, thread):
        first = wait_for(lambda: next((e for e in db.list_events() if e.snapshot), None), 45, "the first event and its snapshot")
        assert first.clip_state == "recording"
        assert verify_files(db, cfg.storage.root) == [] and verify_ledger(db).problems == []
        cut()
        try:
            wait_for(lambda: _logged(caplog, "kept on disk"), 30, "the finished clip's registration to be refused")
            cam = health.snapshot()[0]
            assert cam.storage_faults["db_write_failed"] >= 1
            samples = cam.samples
            wait_for(lambda: health.snapshot()[0].samples >= samples + 3, 20, "samples while the database is away")
            assert thread.is_alive() and health.snapshot()[0].online
            (clip,) = cfg.storage.root.glob("clips/**/*.mp4")  # finished and kept, not a *.part
            refused = _logged(caplog, " failed on ", logging.ERROR)
            assert refused and all(where in m for m in refused), refused
        finally:
            restore()
        wait_for(lambda: db.get_event(first.id).clip_state == "complete", 30, "the clip registered once the database is back")
        assert _logged(caplog, "registered now that the database")
        samples = health.snapshot()[0].samples
        wait_for(lambda: health.snapshot()[0].samples > samples, 20, "samples after the database came back")
        assert thread.is_alive()
    ev = db.get_event(first.id)
    assert len(db.list_events()) == 1  # one violation, one event: nothing recorded twice
    assert (ev.started_at, ev.alerted_at, ev.snapshot, ev.snapshot_sha256) == (first.started_at, first.alerted_at, first.snapshot, first.snapshot_sha256)
    assert cfg.storage.root / ev.clip == clip and sha256_file(clip) == ev.clip_sha256
    assert verify_files(db, cfg.storage.root) == []
    assert verify_ledger(db).problems == []
    return refused


@pytest.mark.skipif(pg_unavailable_reason() is not None, reason=str(pg_unavailable_reason()))
def test_postgresql_stopped_mid_run(footage, detector, tmp_path, caplog):
    from pg import PostgresServer

    server = PostgresServer().start()  # its own: the session's shared server is never stopped
    try:
        url = server.create_database("patrol")
        with RtspServer({"/cam": footage["parked_bike.mp4"]}) as camera:
            cfg = _config(tmp_path / "data", camera.url("/cam"), url)
            db = open_database(cfg.database_url)
            refused = _database_away_and_back(cfg, detector, db, caplog, server.halt, server.resume, url)
            db.close()
    finally:
        server.stop()
    assert any("OperationalError" in m for m in refused), refused


def _fill(mount: Path) -> Path:
    """Write until the filesystem says ENOSPC: not one block left for the database."""
    filler = mount / "filler.bin"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return filler


def test_sqlite_database_disk_full(footage, detector, tmp_path, tmpfs, caplog):
    disk = tmpfs("4m")  # the database's own disk; the clips are elsewhere, on a disk with room
    database = disk / "epatrol.db"
    filler: list[Path] = []
    with RtspServer({"/cam": footage["parked_bike.mp4"]}) as camera:
        cfg = _config(tmp_path / "data", camera.url("/cam"), f"sqlite:///{database}")
        db = open_database(cfg.database_url)
        refused = _database_away_and_back(
            cfg, detector, db, caplog, lambda: filler.append(_fill(disk)), lambda: filler.pop().unlink(), str(database),
        )
        with db.engine.connect() as c:
            assert c.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        db.close()
    assert any("database or disk is full" in m for m in refused), refused
