"""Camera faults against a real RTSP server: unreachable and invalid cameras beside good ones,
a frozen camera (SIGSTOP), corrupt packets. One camera's trouble never stops another."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest
from conftest import BIKE_ZONE, camera_entry, make_config, patrolling
from rtsp import RtspServer, export_access_units, rtsp_unavailable_reason
from servers import free_port
from waiting import wait_for

from epatrol.config import parse_config
from epatrol.health import HealthBoard
from epatrol.migrations import open_database
from epatrol.supervisor import Supervisor

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


def _state(health: HealthBoard, camera_id: str):
    return next(c for c in health.snapshot() if c.camera_id == camera_id)


@pytest.fixture
def run_supervisor(detector, tmp_path):
    started: list[Supervisor] = []

    def start(cameras: list[dict]) -> tuple[Supervisor, HealthBoard]:
        streams = {"open_timeout_s": 3, "read_timeout_s": 3, "reconnect_initial_s": 0.3, "reconnect_max_s": 1.0}
        cfg = parse_config(make_config(tmp_path / "data", cameras, streams=streams))  # quick retries
        health = HealthBoard()
        sup = Supervisor(cfg, detector, open_database(cfg.database_url), health=health)
        sup.start()
        started.append(sup)
        return sup, health

    yield start
    for sup in started:
        sup.shutdown(timeout_s=20)


def test_bad_cameras_never_stop_a_good_one(footage, run_supervisor, tmp_path):
    with RtspServer({"/good": footage["parked_bike.mp4"]}) as server:
        closed_port = free_port()
        sup, health = run_supervisor(
            [
                camera_entry("good", server.url("/good"), BIKE_ZONE),
                camera_entry("refused", f"rtsp://127.0.0.1:{closed_port}/cam", BIKE_ZONE),
                camera_entry("no-such-mount", f"{server.url('/good')[:-5]}/nothing", BIKE_ZONE),
                camera_entry("missing-file", tmp_path / "absent.mp4", BIKE_ZONE),
            ]
        )
        wait_for(lambda: _state(health, "good").samples >= 5, 60, "samples from the good camera")
        wait_for(lambda: _state(health, "refused").last_error is not None, 30, "the refused camera's error")
        assert _state(health, "good").online
        refused = _state(health, "refused")
        assert refused.state in ("offline", "reconnecting") and "refused" in refused.last_error.lower()
        assert _state(health, "no-such-mount").samples == 0
        missing = _state(health, "missing-file")
        assert missing.state == "failed" and "not found" in missing.last_error
        assert sorted(sup.running_ids()) == ["good", "no-such-mount", "refused"]  # still retrying


def test_frozen_camera_reconnects_when_it_wakes(footage, run_supervisor):
    with RtspServer({"/cam": footage["parked_bike.mp4"]}) as server:
        _, health = run_supervisor([camera_entry("cam", server.url("/cam"), BIKE_ZONE)])
        wait_for(lambda: _state(health, "cam").samples >= 3, 60, "first samples")
        server.pause()
        wait_for(lambda: _state(health, "cam").state == "reconnecting", 30, "the freeze to be noticed")
        assert "no data" in _state(health, "cam").last_error
        samples = _state(health, "cam").samples
        server.resume()
        woke = time.monotonic()
        wait_for(lambda: _state(health, "cam").samples > samples, 60, "a sample after the wake-up")
        recovered = time.monotonic() - woke
        assert _state(health, "cam").online and _state(health, "cam").reconnects >= 1
        print(f"frozen camera: first new sample {recovered:.1f} s after SIGCONT")


def test_corrupt_packets_do_not_stop_sampling(footage, run_supervisor, tmp_path):
    h264 = export_access_units(footage["parked_bike.mp4"], tmp_path / "corrupt.h264")
    index = json.loads(Path(str(h264) + ".json").read_text())
    data = bytearray(h264.read_bytes())
    rng = random.Random(7)
    damaged = 0
    for unit in index["units"]:
        if not unit["key"] and rng.random() < 0.2 and unit["size"] > 40:
            for _ in range(8):  # garbage in the slice data, past the NAL header
                data[unit["offset"] + rng.randrange(8, unit["size"])] = rng.randrange(256)
            damaged += 1
    h264.write_bytes(bytes(data))
    assert damaged > 100
    with RtspServer({"/bad": h264}) as server:
        _, health = run_supervisor([camera_entry("bad", server.url("/bad"), BIKE_ZONE)])
        wait_for(lambda: _state(health, "bad").samples >= 8, 90, "samples from the corrupt stream")
        assert _state(health, "bad").online


def test_resolution_change_mid_stream(footage, run_supervisor, tmp_path):
    """One live stream that switches between 640x272 and 768x576 (8 s of each) at every loop."""
    small = export_access_units(footage["parked_bike.mp4"], tmp_path / "small.h264")
    large = export_access_units(footage["campus_walkers.mp4"], tmp_path / "large.h264")
    joined = tmp_path / "joined.h264"
    units, offset, pts0 = [], 0, 0.0
    with open(joined, "wb") as out:
        for part in (small, large):
            index = json.loads(Path(str(part) + ".json").read_text())
            first = index["units"][0]["pts"]
            kept = [u for u in index["units"] if u["pts"] - first < 8.0]  # from its first keyframe
            for unit in kept:
                units.append({**unit, "offset": unit["offset"] + offset, "pts": unit["pts"] - first + pts0})
            pts0 = units[-1]["pts"] + 1 / index["fps"]
            out.write(part.read_bytes()[: kept[-1]["offset"] + kept[-1]["size"]])
            offset = out.tell()
    Path(str(joined) + ".json").write_text(json.dumps({**index, "units": units}))
    with RtspServer({"/switch": joined}, from_start=True) as server:
        _, health = run_supervisor([camera_entry("switch", server.url("/switch"), BIKE_ZONE)])
        seen: set[str] = set()

        def both_sizes() -> bool:
            cam = _state(health, "switch")
            if cam.frame_size:
                seen.add(cam.frame_size)
            return {"640x272", "768x576"} <= seen

        wait_for(both_sizes, 60, "samples at both resolutions")
        assert _state(health, "switch").online


def test_camera_that_needs_a_login(footage, run_supervisor):
    """A camera answering 401: without credentials, or with the wrong ones, it is reported as refusing
    the login (and retried); with them it patrols. The password never reaches the database or health."""
    with RtspServer({"/cam": footage["parked_bike.mp4"]}, credentials="patrol:Cam-s3cret-9") as server:
        url = server.url("/cam")
        with_login = url.replace("rtsp://", "rtsp://patrol:Cam-s3cret-9@")
        sup, health = run_supervisor([
            camera_entry("login", with_login, BIKE_ZONE),
            camera_entry("no-login", url, BIKE_ZONE),
            camera_entry("wrong-login", url.replace("rtsp://", "rtsp://patrol:guess@"), BIKE_ZONE),
        ])
        wait_for(lambda: _state(health, "login").samples >= 3, 60, "samples from the camera with its login")
        for cid in ("no-login", "wrong-login"):
            wait_for(lambda cid=cid: _state(health, cid).last_error is not None, 30, f"{cid}'s error")
            state = _state(health, cid)
            assert state.samples == 0 and state.state in ("offline", "reconnecting")
            assert "401" in state.last_error or "authoriz" in state.last_error.lower(), state.last_error
        assert all("Cam-s3cret-9" not in (c.last_error or "") for c in health.snapshot())
        stored = {c.id: c.url for c in sup.db.list_cameras()}
        assert stored["login"] == url and "Cam-s3cret-9" not in json.dumps(stored)


class HeldRunner:
    """The shipped model's real runner, answering only once released: a model that stops answering."""

    def __init__(self, runner) -> None:
        self.runner, self.release = runner, threading.Event()

    def __getattr__(self, name: str):
        return getattr(self.runner, name)

    def run(self, tensor):
        self.release.wait()
        return self.runner.run(tensor)


def test_a_model_that_stops_answering_shows_the_camera_stalled_until_it_answers(footage, shared_dir, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from epatrol.api.app import create_app
    from epatrol.models import selection, service
    from epatrol.models.detector import ObjectDetector
    from epatrol.models.manifest import get_spec
    from epatrol.models.runners import open_runner

    monkeypatch.setattr(service, "STALL_REPORT_S", 0.3)  # 120 s on a box
    spec = get_spec("yolov8n_int8")
    held = HeldRunner(open_runner(selection.reference(shared_dir / "models" / spec.file, "cpu", int8=True), 1))
    cfg = parse_config(make_config(tmp_path, [camera_entry("wall-1", footage["parked_bike.mp4"], BIKE_ZONE)],
                                   violations={"parked_bikes": {"dwell_s": 4, "sample_every_s": 1.0}}))
    db, health = open_database(cfg.database_url), HealthBoard()
    app = TestClient(create_app(cfg, db, health=health))
    with patrolling(cfg, ObjectDetector(spec, held), db, health) as (_, thread):
        cam = wait_for(lambda: next((c for c in health.snapshot() if c.state == "stalled"), None), 30, "the camera shown stalled")
        assert cam.last_error.startswith("model yolov8n_int8 has not answered in")
        body = app.get("/healthz").json()
        assert body["status"] == "degraded" and body["offline"] == ["wall-1"]
        held.release.set()
        wait_for(lambda: health.snapshot()[0].state != "stalled", 30, "the camera back from stalled")
        thread.join(120)  # the file plays to its end
        assert not thread.is_alive() and health.snapshot()[0].samples > 10
    assert any(e.violation == "parked_bikes" for e in db.list_events())  # the late answers were still used
