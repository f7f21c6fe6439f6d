"""A full disk (a real size-limited tmpfs as the storage root) never crashes the patrol: what
could not be written is logged and counted, and recording works again once space returns."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from conftest import BIKE_ZONE, camera_entry, make_config
from rtsp import RtspServer, rtsp_unavailable_reason
from waiting import wait_for

from epatrol.config import parse_config
from epatrol.health import HealthBoard
from epatrol.migrations import open_database
from epatrol.supervisor import Supervisor

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


def _fill(mount: Path, leave_bytes: int) -> Path:
    filler = mount / "filler.bin"
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))
    return filler


def _cam(health: HealthBoard, camera_id: str):
    return next(c for c in health.snapshot() if c.camera_id == camera_id)


def test_full_disk_is_counted_and_recording_resumes(footage, detector, tmpfs):
    tiny_disk = tmpfs("6m")
    with RtspServer({"/cam": footage["parked_bike.mp4"]}) as server:
        raw = make_config(
            tiny_disk / f"data-{uuid.uuid4().hex[:6]}",
            [camera_entry("cam-a", server.url("/cam"), BIKE_ZONE)],
            violations={"parked_bikes": {"dwell_s": 3, "sample_every_s": 1.0, "end_after_s": 30}},
            evidence={"pre_s": 2, "post_s": 6},
        )
        cfg = parse_config(raw)
        db = open_database(cfg.database_url)
        filler = _fill(tiny_disk, leave_bytes=400_000)  # room for the database, not for a clip
        health = HealthBoard()
        sup = Supervisor(cfg, detector, db, health=health)
        sup.start()
        try:
            wait_for(lambda: _cam(health, "cam-a").clips_failed >= 1 or _cam(health, "cam-a").storage_faults, 90, "a storage fault")
            a = _cam(health, "cam-a")
            assert a.online and sup.running_ids() == ["cam-a"]  # still patrolling
            samples = a.samples
            wait_for(lambda: _cam(health, "cam-a").samples > samples + 2, 30, "samples after the fault")
            assert not list(cfg.storage.root.glob("clips/**/*.part"))  # the failed clip was removed

            filler.unlink()  # space returns
            grown = cfg.model_copy(update={"cameras": [*cfg.cameras, parse_config(make_config(cfg.storage.root, [camera_entry("cam-b", server.url("/cam"), BIKE_ZONE)])).cameras[0]]})
            sup.reload(grown)
            wait_for(lambda: any(e.camera_id == "cam-b" and e.clip_state == "complete" for e in db.list_events()), 90, "a complete clip after space returned")
        finally:
            sup.shutdown(timeout_s=20)
        ev = next(e for e in db.list_events() if e.camera_id == "cam-b")
        assert (cfg.storage.root / ev.clip).stat().st_size > 0
