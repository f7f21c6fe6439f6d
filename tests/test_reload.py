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
from rtsp import RtspServer, free_port, rtsp_unavailable_reason
from waiting import wait_for

pytestmark = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


def _health(port: int) -> dict:
    return {c["camera_id"]: c for c in httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json().get("health", [])}


def test_sighup_adds_and_removes_cameras_without_touching_the_rest(footage, tmp_path):
    with RtspServer({"/a": footage["parked_bike.mp4"], "/b": footage["campus_walkers.mp4"]}) as server:
        raw = make_config(tmp_path / "data", [camera_entry("cam-a", server.url("/a"), BIKE_ZONE)])
        config = tmp_path / "epatrol.yaml"
        config.write_text(yaml.safe_dump(raw, allow_unicode=True))
        port = free_port()
        log = tmp_path / "run.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "epatrol", "run", "-c", str(config), "--serve", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(log, "wb"),
        )
        try:
            wait_for(lambda: _health(port).get("cam-a", {}).get("samples", 0) >= 3, 90, "cam-a sampling")

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

            raw["cameras"] = raw["cameras"][1:]  # remove cam-a
            config.write_text(yaml.safe_dump(raw, allow_unicode=True))
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: set(_health(port)) == {"cam-b"}, 60, "cam-a removed")
            b = _health(port)["cam-b"]
            samples = b["samples"]
            wait_for(lambda: _health(port)["cam-b"]["samples"] > samples, 30, "cam-b still sampling")
            assert _health(port)["cam-b"]["reconnects"] == 0
            assert proc.poll() is None
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
