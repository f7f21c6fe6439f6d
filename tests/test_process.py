"""`epatrol run` as a process: SIGTERM closes the clip in progress; a second process on the same
storage is refused. `kill -9` mid-clip (a power cut) is tests/test_power_cut.py: nothing
half-written is registered, and the next start registers what was recorded as a partial clip."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import yaml
from conftest import BIKE_ZONE, camera_entry, make_config
from rtsp import RtspServer, rtsp_unavailable_reason
from waiting import wait_for

from epatrol.evidence.store.db import Database
from epatrol.migrations import open_database

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


def _start(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "epatrol", "run", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),
    )


@pytest.fixture
def live_config(footage, tmp_path):
    with RtspServer({"/cam": footage["parked_bike.mp4"]}) as server:
        raw = make_config(
            tmp_path / "data",
            [camera_entry("live-1", server.url("/cam"), BIKE_ZONE)],
            violations={"parked_bikes": {"dwell_s": 4, "sample_every_s": 1.0, "end_after_s": 30}},
            evidence={"pre_s": 2, "post_s": 60},  # the clip is still recording when the signal comes
        )
        config = tmp_path / "epatrol.yaml"
        config.write_text(yaml.safe_dump(raw, allow_unicode=True))
        yield config, tmp_path / "data"


def _recording_event(db: Database):
    return next((e for e in db.list_events() if e.clip_state == "recording"), None)


def test_sigterm_closes_the_clip_in_progress(live_config, tmp_path):
    config, storage = live_config
    proc = _start(config, tmp_path / "run.log")
    try:
        db = open_database(f"sqlite:///{storage / 'epatrol.db'}")
        ev = wait_for(lambda: _recording_event(db), 90, "an event with its clip recording")
        # An operator asking a running box where its threads are: stacks in the log, nothing stopped.
        proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "epatrol/pipeline.py" in (tmp_path / "run.log").read_text(), 10, "the threads' stacks in the log")
        assert proc.poll() is None
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        proc.kill()
    done = db.get_event(ev.id)
    assert done.clip_state == "complete" and done.end_reason == "shutdown"
    status = db.camera_status()["live-1"]  # what `epatrol serve` and the centre read
    assert status["state"] == "stopped" and status["samples"] > 0 and status["events"] == {"parked_bikes": 1}
    clip = storage / done.clip
    with av.open(str(clip)) as c:
        assert sum(1 for _ in c.decode(video=0)) > 25 * 2  # the pre-roll and what came after
    assert not list(storage.glob("clips/**/*.part"))
    verify = subprocess.run([sys.executable, "-m", "epatrol", "verify", "-c", str(config)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_second_process_on_the_same_storage_is_refused(live_config, tmp_path):
    config, storage = live_config
    first = _start(config, tmp_path / "first.log")
    try:
        wait_for(lambda: (storage / ".epatrol.lock").exists() and "connected" in (tmp_path / "first.log").read_text(), 60, "the first process")
        second = subprocess.run([sys.executable, "-m", "epatrol", "run", "-c", str(config)], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "another epatrol process" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
