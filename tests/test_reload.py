"""Adding or removing a camera takes effect on SIGHUP without restarting the others; a bad edit
is refused and the running cameras carry on. Exercised on a real `epatrol run --serve` process."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
import yaml
from conftest import BIKE_ZONE, camera_entry, make_config
from fastapi.testclient import TestClient
from rtsp import RtspServer, rtsp_unavailable_reason
from servers import free_port
from waiting import wait_for

from epatrol.api.app import create_app
from epatrol.config import parse_config
from epatrol.evidence.review.users import create_user
from epatrol.migrations import open_database

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


def _health(port: int) -> dict:
    return {c["camera_id"]: c for c in httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json().get("health", [])}


def test_reload_over_the_api_needs_a_running_patrol(tmp_path):
    cfg = parse_config(make_config(tmp_path / "data", [camera_entry("cam-a", tmp_path / "a.mp4", BIKE_ZONE)]))
    db = open_database(cfg.database_url)
    create_user(db, "ops-admin", "reload-pass-1", "admin")
    client = TestClient(create_app(cfg, db))  # `epatrol serve`: no cameras in this process
    token = client.post("/api/auth/login", json={"username": "ops-admin", "password": "reload-pass-1"}).json()["token"]
    refused = client.post("/api/system/reload", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 409 and "epatrol run --serve" in refused.json()["detail"]


def test_sighup_and_api_reload_add_and_remove_cameras_without_touching_the_rest(footage, tmp_path):
    with RtspServer({"/a": footage["parked_bike.mp4"], "/b": footage["campus_walkers.mp4"]}) as server:
        raw = make_config(tmp_path / "data", [camera_entry("cam-a", server.url("/a"), BIKE_ZONE)])
        config = tmp_path / "epatrol.yaml"
        config.write_text(yaml.safe_dump(raw, allow_unicode=True))
        with open_database(parse_config(raw).database_url) as db:
            create_user(db, "ops-admin", "reload-pass-1", "admin")
        port = free_port()
        log = tmp_path / "run.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "epatrol", "run", "-c", str(config), "--serve", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
        )
        try:
            wait_for(lambda: _health(port).get("cam-a", {}).get("samples", 0) >= 3, 90, "cam-a sampling")
            # /metrics names the runtime and precision the model runs on (chosen by measurement at start).
            info = [line for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines() if line.startswith("epatrol_model_info{")]
            assert len(info) == 1 and 'model="yolov8n_int8"' in info[0] and info[0].endswith(" 1.0"), info
            assert 'runtime="' in info[0] and 'precision="' in info[0] and 'graph="' in info[0]

            raw["cameras"].append(camera_entry("cam-b", server.url("/b"), BIKE_ZONE))
            config.write_text(yaml.safe_dump(raw, allow_unicode=True))
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: _health(port).get("cam-b", {}).get("samples", 0) >= 2, 90, "cam-b added by SIGHUP")
            a = _health(port)["cam-a"]
            assert a["online"] and a["reconnects"] == 0  # cam-a was not restarted

            config.write_text("cameras: [this is: not valid")  # a bad edit
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload refused" in log.read_text(), 30, "the bad edit to be refused")
            assert set(_health(port)) == {"cam-a", "cam-b"}

            raw["cameras"] = raw["cameras"][1:]  # remove cam-a, this time through the API
            config.write_text(yaml.safe_dump(raw, allow_unicode=True))
            base = f"http://127.0.0.1:{port}"
            assert httpx.post(f"{base}/api/system/reload").status_code == 401
            token = httpx.post(f"{base}/api/auth/login", json={"username": "ops-admin", "password": "reload-pass-1"}).json()["token"]
            asked = httpx.post(f"{base}/api/system/reload", headers={"Authorization": f"Bearer {token}"})
            assert asked.status_code == 202, asked.text
            wait_for(lambda: set(_health(port)) == {"cam-b"}, 60, "cam-a removed")
            b = _health(port)["cam-b"]
            samples = b["samples"]
            wait_for(lambda: _health(port)["cam-b"]["samples"] > samples, 30, "cam-b still sampling")
            assert _health(port)["cam-b"]["reconnects"] == 0
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
