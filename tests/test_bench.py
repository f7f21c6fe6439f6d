"""`epatrol bench`, tiny but real: one live RTSP camera watching all four violations through every stage
of the harness, in one run that every test below reads.

No timing is asserted (speed lives in the benchmark's own figures); the test checks that the
report is complete and that its numbers come from the run (frames received, samples judged,
inferences run, CPU measured), through the installed `epatrol` command: the pipeline as deployed
(each violation at its default rate, models on the runtime chosen by measurement) against the
hand-written baseline. The first tests (no RTSP) check the trials' rates and the bound's sum."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED
from rtsp import rtsp_unavailable_reason

EPATROL = Path(sys.executable).with_name("epatrol")
ALL_FOUR = ["parked_bikes", "street_vending", "open_burning", "overflowing_bins"]
DEFAULT_EVERY_S = {"parked_bikes": 1.0, "street_vending": 2.0, "open_burning": 0.5, "overflowing_bins": 10.0}


def live(test):
    """A test that runs `epatrol bench` on live RTSP cameras."""
    return pytest.mark.rtsp(pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))(test))


def trial_spec(rate: float | None) -> dict:
    return {
        "urls": ["rtsp://127.0.0.1:1/cam00"], "kinds": ["quiet_720p"], "rate": rate, "models_dir": str(SHARED / "models"),
        "detector": "yolov8n_int8", "device": "auto", "workers": None, "violations": ALL_FOUR, "fast_path": {}, "storage": "unused",
    }  # fmt: skip


@pytest.mark.parametrize("rate", [None, 2.0])
def test_both_trials_run_each_violation_at_its_default_rate_unless_one_is_forced(rate):
    from benchmarks.baseline_trial import baseline_schedule
    from benchmarks.pipeline_trial import pipeline_config
    from epatrol.config import parse_config

    cfg = parse_config(pipeline_config(trial_spec(rate)))
    every = {v: getattr(cfg.violations, v).sample_every_s for v in ALL_FOUR}
    assert every == (DEFAULT_EVERY_S if rate is None else dict.fromkeys(ALL_FOUR, 0.5))
    assert cfg.models.runtime == "auto"  # models loaded as `epatrol run` loads them: the runtime chosen by measurement
    schedule = baseline_schedule(trial_spec(rate))
    assert schedule == ({"yolov8n_int8": 1.0, "fire_smoke": 0.5, "bin_embedding": 10.0} if rate is None else dict.fromkeys(schedule, 0.5))


def test_inference_bound_sums_each_model_at_its_own_rate():
    from benchmarks.summary import gated_bound
    from benchmarks.workload import inference_bound, inference_cost_ms

    per_model = {
        "yolov8n_int8": {"cpu_ms_per_run": 100.0, "runs_per_camera_s": 1.0, "runs_per_s_at_once": 20.0},
        "fire_smoke": {"cpu_ms_per_run": 50.0, "runs_per_camera_s": 2.0, "runs_per_s_at_once": 40.0},
        "bin_embedding": {"cpu_ms_per_run": 200.0, "runs_per_camera_s": 0.1, "runs_per_s_at_once": 5.0},
    }
    assert inference_cost_ms(per_model) == pytest.approx(220.0)  # 100 x 1 + 50 x 2 + 200 x 0.1 ms per camera-second
    assert inference_bound(per_model, cores=2, on_cpu=True) == pytest.approx(2000 / 220)
    assert inference_bound(per_model, cores=2, on_cpu=False) == pytest.approx(1 / (1 / 20 + 2 / 40 + 0.1 / 5))
    # At the gates' measured skip rates: the motion gate on both detectors, the fire gate on the fire model, none on the embedding.
    bounds = {"inference": {"per_model": per_model, "cores": 2, "on_cpu": True}, "decode": {}, "decode_bound_cameras": 1e9, "combined_as": "shared cores"}
    cams = [{"gated_fraction": 0.6, "motion_gated_fraction": 0.5, "fire_gated_fraction": 0.75}]
    s = gated_bound(bounds, cams)
    assert s["gate_skip_fraction"] == 0.5 and s["fire_gate_skip_fraction"] == 0.75
    assert s["inference_bound_at_measured_skip_cameras"] == round(2000 / (100 * 0.5 + 100 * 0.5 * 0.25 + 20), 1)
    assert gated_bound(bounds, [{"gated_fraction": None, "motion_gated_fraction": None, "fire_gated_fraction": None}]) == {}


@pytest.fixture(scope="module")
def report(tmp_path_factory, shared_dir):
    out = tmp_path_factory.mktemp("bench")
    cache = Path(os.environ.get("EPATROL_FOOTAGE_DIR") or tmp_path_factory.getbasetemp() / "bench-footage")
    cmd = [
        str(EPATROL), "bench", "--cameras", "1", "--window-s", "3", "--warmup-s", "0.5",
        "--footage", "quiet_720p", "--violations", ",".join(ALL_FOUR), "--shared", str(SHARED),
        "--footage-cache", str(cache), "--out", str(out), "--quiet",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "bench.json").read_text()), out, proc.stdout


@live
def test_report_has_the_box_and_every_stage(report):
    data, out, stdout = report
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert sorted(data["settings"]["violations"]) == sorted(ALL_FOUR) and data["settings"]["samples_per_s_per_camera"] == 2.0
    assert data["settings"]["rate_forced"] is None and data["settings"]["sample_every_s"] == DEFAULT_EVERY_S  # the config defaults
    for key in ("bounds", "pipeline", "baseline", "summary"):
        assert key in data, key
    assert [t["cameras"] for t in data["pipeline"]["trials"]] == [1]
    assert [t["cameras"] for t in data["baseline"]["trials"]] == [1]
    assert set(data["machine"]["cpu_flags"]) <= {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8"}
    # The headline, at the top level: cameras, the baseline of the same run, the ratio, the bound and the fraction of it.
    assert data["pipeline_cameras"] == data["pipeline"]["sustained_cameras"]
    assert data["baseline_cameras"] == data["baseline"]["sustained_cameras"]
    assert data["speedup"] == (round(data["pipeline_cameras"] / data["baseline_cameras"], 2) if data["baseline_cameras"] else None)
    assert data["bound_cameras"] == data["bounds"]["combined_bound_cameras"] > 0
    assert data["fraction_of_bound"] == round(data["pipeline_cameras"] / data["bound_cameras"], 2)
    md = (out / "bench.md").read_text()
    assert "epatrol pipeline" in md and "baseline" in md and "Trials" in md
    assert "CPU flags:" in md and "runtime / precision / graph" in md and "Runtime chosen by measurement" in md
    assert md.splitlines()[0] in stdout  # the table is printed too


@live
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
    model = trial["models"]["yolov8n_int8"]
    assert model["batch_size"] == 1 and model["every_s"] == 1.0
    assert all(isinstance(model[k], str) and model[k] for k in ("runtime", "precision", "graph", "runs_on"))
    # Loaded as `epatrol run` loads it: every runtime installed measured on real frames, the fastest that agrees runs.
    assert model["chosen_by"] == "measurement" and model["runs_on"] == model["chosen"]
    rows = model["selection"]
    assert rows[0]["reason"] == "reference" and rows[0]["accepted"] and rows[0]["ms"] > 0
    (chosen,) = [r for r in rows if r["chosen"]]
    assert chosen["accepted"] and chosen["candidate"] == model["chosen"]
    assert chosen["ms"] == min(r["ms"] for r in rows if r["accepted"])
    assert cam["expected_samples_per_s"] == 2.0 and trial["sample_every_s"] == DEFAULT_EVERY_S
    assert data["models"]["pipeline"] == trial["models"]
    assert isinstance(trial["sustained"], bool) and isinstance(trial["not_sustained_because"], list)


@live
def test_bounds_and_baseline_are_measured(report):
    data = report[0]
    bounds = data["bounds"]
    for mode in ("pipeline_sampler", "keyframes_only", "every_frame"):
        m = bounds["decode"]["modes"][mode]
        assert m["cpu_percent_per_camera"] > 0 and m["packets_per_s_per_camera"] > 0 and m["bound_cameras"] > 0
    inf = bounds["inference"]
    coco = inf["per_model"]["yolov8n_int8"]
    assert coco["ms_full_frame"] > 0 and coco["cpu_ms_per_run"] > 0 and coco["runs_per_s_at_once"] > 0
    assert coco["every_s"] == 1.0 and coco["runs_per_camera_s"] == 1.0
    # The bound: each model's CPU ms per run x its runs per camera-second, summed, over the cores.
    assert set(inf["per_model"]) == {"yolov8n_int8", "fire_smoke", "bin_embedding"}
    per_camera_s = sum(m["cpu_ms_per_run"] * m["runs_per_camera_s"] for m in inf["per_model"].values())
    assert inf["cpu_ms_per_camera_s"] == pytest.approx(per_camera_s, abs=0.1)
    assert inf["bound_cameras"] == pytest.approx(1000 * inf["cores"] / inf["cpu_ms_per_camera_s"], rel=0.02)
    assert bounds["combined_bound_cameras"] <= min(bounds["decode_bound_cameras"], bounds["inference_bound_cameras"])
    # Inference alone runs what the pipeline runs: the same runtime, chosen by the same measurement.
    pipe = data["pipeline"]["trials"][0]["models"]["yolov8n_int8"]
    assert coco["chosen_by"] == "measurement" and coco["runs_on"] == pipe["runs_on"] and coco["selection"]
    baseline = data["baseline"]["trials"][0]
    coco_by_hand = baseline["models"]["yolov8n_int8"]  # the COCO model, shipped, on plain onnxruntime
    assert (coco_by_hand["runtime"], coco_by_hand["precision"], coco_by_hand["graph"], coco_by_hand["every_s"]) == ("onnxruntime CPU", "int8-dynamic", "shipped", 1.0)
    (cam,) = baseline["per_camera"]
    assert cam["frames_per_s"] > 5 and cam["decode_ms"] > 0
    assert cam["inference_runs"] >= 1 and cam["inference_ms"] > 0


@live
def test_plot_is_written_when_matplotlib_is_there(report):
    pytest.importorskip("matplotlib")
    png = report[1] / "bench.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@live
def test_baseline_runs_every_model_the_violations_need(report):
    data, out, _ = report
    (trial,) = data["baseline"]["trials"]
    models = trial["models"]
    assert set(models) == {"yolov8n_int8", "fire_smoke", "bin_embedding"}
    # Each at its violation's default sample rate; the COCO model shared by bikes (1 s) and vending (2 s) at the faster.
    assert {k: v["every_s"] for k, v in models.items()} == {"yolov8n_int8": 1.0, "fire_smoke": 0.5, "bin_embedding": 10.0}
    for name, m in models.items():
        assert m["runs_total"] > 0, name  # every model ran on the live stream (the embedding is due every 10 s: from the first frame)
        assert m["runtime"] == "onnxruntime CPU" and m["graph"].startswith("shipped"), (name, m)
    assert models["yolov8n_int8"]["precision"] == "int8-dynamic" and models["fire_smoke"]["precision"] == "fp32"
    assert models["yolov8n_int8"]["runs"] > 0 and models["fire_smoke"]["runs"] > models["yolov8n_int8"]["runs"]  # in the window: fire twice as often
    (cam,) = trial["per_camera"]
    assert cam["expected_samples_per_s"] == 2.0 and cam["frames_per_s"] > 5
    assert cam["models"]["fire_smoke"]["ms_per_run"] > 0
    assert data["models"]["baseline"] == models
    md = (out / "bench.md").read_text()
    assert "fire_smoke every 0.5 s" in md and "bin_embedding" in md and "CPU flags:" in md


@live
def test_pipeline_runs_each_violation_at_its_default_rate(report):
    data, out, _ = report
    assert data["settings"]["rate_forced"] is None and data["settings"]["sample_every_s"] == DEFAULT_EVERY_S
    (trial,) = data["pipeline"]["trials"]
    assert trial["sample_every_s"] == DEFAULT_EVERY_S  # what a district deploys: no rate forced on the judges
    models = trial["models"]
    # The same models at the same rates as the baseline: fire_smoke every 0.5 s for open burning.
    assert {k: v["every_s"] for k, v in models.items()} == {"yolov8n_int8": 1.0, "fire_smoke": 0.5, "bin_embedding": 10.0}
    assert {k: v["every_s"] for k, v in models.items()} == {k: v["every_s"] for k, v in data["baseline"]["trials"][0]["models"].items()}
    for name in ("yolov8n_int8", "fire_smoke"):  # the detectors on the runtime chosen by measurement
        assert models[name]["chosen_by"] == "measurement" and any(r["chosen"] for r in models[name]["selection"]), name
    (cam,) = trial["per_camera"]
    # The camera is sampled at its fastest judge's calm rate: open burning at gate_every_s (0.5 s by
    # default; epatrol/pacing.py): the sustain check expects 2 samples/s.
    assert cam["expected_samples_per_s"] == 2.0 and cam["samples_per_s"] > 0
    assert models["fire_smoke"]["calm_every_s"] == 0.5
    assert cam["fire_gated_fraction"] is None or 0.0 <= cam["fire_gated_fraction"] <= 1.0
    assert "fire_gated_fraction" in cam and "motion_gated_fraction" in cam
    if not trial["sustained"] and cam["samples_per_s"] * trial["window_s"] < 0.9 * 2.0 * trial["window_s"] - 1:
        assert any("samples/s" in why for why in trial["not_sustained_because"])
    md = (out / "bench.md").read_text()
    assert "open_burning every 0.5 s" in md and "Runtime chosen by measurement" in md
