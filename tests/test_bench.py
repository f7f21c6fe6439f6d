"""`epatrol bench`, tiny but real: one live RTSP camera through every stage of the harness.

No timing is asserted (speed lives in the benchmark's own figures); the test checks that the
report is complete and that its numbers come from the run (frames received, samples judged,
inferences run, CPU measured), through the installed `epatrol` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED
from rtsp import rtsp_unavailable_reason

pytestmark = [pytest.mark.rtsp, pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))]

EPATROL = Path(sys.executable).with_name("epatrol")


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_dir):
    out = tmp_path_factory.mktemp("bench")
    cache = Path(os.environ.get("EPATROL_FOOTAGE_DIR") or tmp_path_factory.getbasetemp() / "bench-footage")
    cmd = [
        str(EPATROL), "bench", "--cameras", "1", "--window-s", "3", "--warmup-s", "0.5",
        "--footage", "quiet_720p", "--violations", "parked_bikes", "--shared", str(SHARED),
        "--footage-cache", str(cache), "--out", str(out), "--quiet",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "bench.json").read_text()), out, proc.stdout


def test_report_has_the_box_and_every_stage(report):
    data, out, stdout = report
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert data["settings"]["violations"] == ["parked_bikes"] and data["settings"]["samples_per_s_per_camera"] == 1.0
    for key in ("bounds", "pipeline", "baseline", "summary"):
        assert key in data, key
    assert [t["cameras"] for t in data["pipeline"]["trials"]] == [1]
    assert [t["cameras"] for t in data["baseline"]["trials"]] == [1]
    md = (out / "bench.md").read_text()
    assert "epatrol pipeline" in md and "baseline" in md and "Trials" in md
    assert md.splitlines()[0] in stdout  # the table is printed too


def test_pipeline_figures_come_from_the_run(report):
    data = report[0]
    trial = data["pipeline"]["trials"][0]
    (cam,) = trial["per_camera"]
    expected = {"cpu_percent", "memory_mb", "decode_ms", "inference_ms", "lag_p50_s", "lag_p95_s", "event_to_clip_s", "samples_per_s", "packets_per_s", "dropped_samples", "gated_fraction", "events"}
    assert expected <= set(cam)
    assert cam["footage"] == "quiet_720p"
    assert cam["packets_per_s"] > 5  # a live 25 fps stream was received
    assert cam["samples_per_s"] > 0 and cam["lag_p95_s"] >= cam["lag_p50_s"] > 0
    assert cam["decode_ms"] > 0 and cam["cpu_percent"] > 0
    assert cam["inference_runs"] > 0 or cam["gated_fraction"] == 1.0  # the motion gate may skip them all
    assert trial["process_cpu_percent"] > 0 and trial["rss_mb"] > trial["rss_base_mb"] > 0
    assert trial["models"]["yolov8n_int8"]["batch_size"] == 1
    assert isinstance(trial["sustained"], bool) and isinstance(trial["not_sustained_because"], list)


def test_bounds_and_baseline_are_measured(report):
    data = report[0]
    bounds = data["bounds"]
    for mode in ("pipeline_sampler", "keyframes_only", "every_frame"):
        m = bounds["decode"]["modes"][mode]
        assert m["cpu_percent_per_camera"] > 0 and m["packets_per_s_per_camera"] > 0 and m["bound_cameras"] > 0
    inf = bounds["inference"]
    assert inf["camera_samples_per_s"] > 0 and inf["per_model"]["yolov8n_int8"]["ms_full_frame"] > 0
    assert bounds["combined_bound_cameras"] <= min(bounds["decode_bound_cameras"], bounds["inference_bound_cameras"])
    (cam,) = data["baseline"]["trials"][0]["per_camera"]
    assert cam["frames_per_s"] > 5 and cam["decode_ms"] > 0
    assert cam["inference_runs"] >= 1 and cam["inference_ms"] > 0


def test_plot_is_written_when_matplotlib_is_there(report):
    pytest.importorskip("matplotlib")
    png = report[1] / "bench.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
