"""The pipeline trial: the real pipeline (Supervisor: every camera's worker, shared models,
judges, evidence) on N live cameras, measured over a window. Run by benchmarks/trial.py.

As a district deploys it: every violation at its configuration default sample_every_s (unless the
bench forces one rate on all, --rate), the models loaded as `epatrol run` loads them
(load_detectors: runtime "auto", the fastest runtime measured here that agrees with the shipped
graph), the motion gate and the fire gate on."""

from __future__ import annotations

import statistics
import time

import numpy as np

from benchmarks.procstat import process_cpu_s, rss_mb, thread_cpu_s
from benchmarks.runtimes import describe_detector, describe_embedder
from benchmarks.scenes import ZONES
from benchmarks.stats import percentile, rounded, trial_figures
from benchmarks.workload import (
    BIN_EMBEDDING,
    FIRE_MODEL,
    camera_every_s,
    model_intervals,
    paced,
)


def pipeline_config(spec: dict) -> dict:
    """The epatrol configuration of a pipeline trial: every camera watches one zone for every
    violation asked for, each judge at its default sample_every_s (or all at spec["rate"] when one
    is forced); short dwell and post-roll so events and their clips happen inside the measured
    window. The models section leaves models.runtime at its default ("auto"), as deployed."""
    from epatrol.config import Violations

    violations: dict[str, dict] = {name: {} for name in Violations.model_fields if name in spec["violations"]}
    if spec.get("rate") is not None:
        for name, section in violations.items():
            if "sample_every_s" in getattr(Violations.model_fields[name].annotation, "model_fields", {}):
                section["sample_every_s"] = 1.0 / spec["rate"]
    if "parked_bikes" in violations:
        violations["parked_bikes"].update(dwell_s=3.0, end_after_s=30.0)
    cameras = [
        {
            "id": f"cam-{i:02d}",
            "name": f"bench {i} {kind}",
            "url": url,
            "zones": [{"name": "zone", "polygon": ZONES[kind], "violations": spec["violations"]}],
        }
        for i, (url, kind) in enumerate(zip(spec["urls"], spec["kinds"]))
    ]
    return {
        "storage": {"root": spec["storage"]},
        "models": {"dir": spec["models_dir"], "detector": spec["detector"], "threads": 1, "workers": spec.get("workers"), "device": spec["device"]},
        "fast_path": spec["fast_path"],
        "cameras": cameras,
        "violations": {k: v for k, v in violations.items() if v},
        "evidence": {"pre_s": 3.0, "post_s": 2.0},
        "streams": {"open_timeout_s": 30.0, "read_timeout_s": 15.0, "reconnect_initial_s": 1.0, "reconnect_max_s": 2.0},
    }


def worker_snapshot(worker, native_id: int | None, health_by_id: dict) -> dict:
    """One camera worker's counters now (the window's figures are differences of two snapshots)."""
    st, feed_t = worker.stats, worker.feed.times
    h = health_by_id.get(worker.camera.id)
    return {
        "judged": st.judged,
        "submitted": st.samples,
        "gated": st.gated,
        "fire_gated": getattr(st, "fire_gated", None),  # the fire gate's skips (None: this pipeline has no fire gate)
        "packets": st.packets,
        "decode_wall": feed_t.wall_s.get("decode", 0.0),
        "decode_cpu": feed_t.cpu_s.get("decode", 0.0),
        "infer_wall": st.times.wall_s.get("inference", 0.0),
        "infer_cpu": st.times.cpu_s.get("inference", 0.0),
        "infer_calls": st.times.calls.get("inference", 0),
        "thread_cpu": thread_cpu_s(native_id) if native_id else 0.0,
        "media_s": newest_media_s(worker),
        "dropped": h.dropped_samples if h else 0,
        "lags": list(st.lags_s),
    }


def newest_media_s(worker) -> float | None:
    """Media time of the newest packet in the camera's pre-roll ring (None when it is empty)."""
    packets = worker.feed.ring.snapshot()
    return packets[-1].time_s if packets else None


def trial_intervals(cfg, spec: dict) -> dict[str, float]:
    """Each benchmarked violation's sample_every_s in the trial's configuration."""
    return {v: float(getattr(cfg.violations, v).sample_every_s) for v in spec["violations"]}


def pipeline_models(cfg, detectors: dict, spec: dict) -> dict:
    """What the pipeline ran each model on (runtime / precision / graph, chosen by measurement)
    and how often."""
    every = model_intervals(trial_intervals(cfg, spec), cfg.models.detector)
    calm = model_intervals(paced(trial_intervals(cfg, spec)), cfg.models.detector)  # while the fire gate sees nothing
    models = {name: {**describe_detector(d, cfg.models.dir), "every_s": every.get(name), "calm_every_s": calm.get(name)} for name, d in detectors.items()}
    if BIN_EMBEDDING in every:
        from epatrol.detectors.bins.bin_classifier import shared_embedder
        from epatrol.models.manifest import resolve_models_dir

        embedder = shared_embedder(resolve_models_dir(cfg.models.dir))  # the instance the judges use
        models[BIN_EMBEDDING] = {**describe_embedder(embedder, cfg.models.dir), "every_s": every[BIN_EMBEDDING]}
    return models


def run_pipeline(spec: dict) -> dict:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from epatrol.config import parse_config
    from epatrol.evidence.store.schema import Event, EvidenceFile
    from epatrol.health import HealthBoard
    from epatrol.judges import required_models
    from epatrol.migrations import open_database
    from epatrol.models.detector import load_detectors
    from epatrol.supervisor import Supervisor

    cfg = parse_config(pipeline_config(spec))
    detectors = load_detectors(required_models(cfg), cfg.models)  # exactly as `epatrol run` loads them
    intervals = trial_intervals(cfg, spec)
    every_s = camera_every_s(paced(intervals))  # each camera is sampled, and judged, this often while nothing burns
    fire_every_s = intervals.get("open_burning")
    db = open_database(cfg.database_url)
    health = HealthBoard()
    for d in detectors.values():  # the first run allocates the session's buffers: not a camera's memory
        d.detect(np.zeros((1080, 1920, 3), np.uint8))
    rss_base = rss_mb()
    sup = Supervisor(cfg, detectors, db, health=health)
    models = pipeline_models(cfg, detectors, spec)
    started = time.monotonic()
    sup.start()
    running = dict(sup._running)  # the benchmark reads each worker's counters and thread id
    # Warm-up: every camera connected and judging (or give up waiting and measure what there is).
    deadline = started + spec["warmup_max_s"]
    while time.monotonic() < deadline and min(r.worker.stats.judged for r in running.values()) < 2:
        time.sleep(0.2)
    time.sleep(spec["warmup_s"])
    warmup_s = time.monotonic() - started

    def snap() -> tuple[float, float, dict]:
        hb = {c.camera_id: c for c in health.snapshot()}
        return time.monotonic(), process_cpu_s(), {cid: worker_snapshot(r.worker, r.thread.native_id, hb) for cid, r in running.items()}

    t0, cpu0, s0 = snap()
    time.sleep(spec["window_s"])
    t1, cpu1, s1 = snap()
    rss_end = rss_mb()
    window = t1 - t0
    hb = {c.camera_id: c for c in health.snapshot()}
    sup.shutdown()
    faults = {cid: {"clips_failed": h.clips_failed, **dict(h.storage_faults)} for cid, h in hb.items()}

    with Session(db.engine) as s:
        events = s.scalars(select(Event)).all()
        clips = {f.event_id: f for f in s.scalars(select(EvidenceFile).where(EvidenceFile.kind == "clip"))}
        snapshots = {f.event_id for f in s.scalars(select(EvidenceFile).where(EvidenceFile.kind == "snapshot"))}
        ev_rows = [
            {
                "camera": e.camera_id,
                "clip_state": e.clip_state,
                "snapshot": e.id in snapshots,
                "event_to_clip_s": (clips[e.id].created_at - e.alerted_at).total_seconds() if e.id in clips else None,
            }
            for e in events
        ]
    db.close()

    cameras = []
    kinds = dict(zip([c.id for c in cfg.cameras], spec["kinds"]))
    for cid, a in s0.items():
        b = s1[cid]
        judged = b["judged"] - a["judged"]
        submitted = b["submitted"] - a["submitted"]
        runs = b["infer_calls"] - a["infer_calls"]
        gated = b["gated"] - a["gated"]
        fire = b["fire_gated"] - a["fire_gated"] if b["fire_gated"] is not None and a["fire_gated"] is not None else None
        # The fire judge is due at every sample (pacing keeps the camera's interval >= its own); the
        # motion gate sees what the fire gate let through.
        fire_due = judged if fire_every_s and FIRE_MODEL in detectors else 0
        motion = gated - (fire or 0)
        lags = b["lags"][len(b["lags"]) - judged :] if judged > 0 else []
        mine = [e for e in ev_rows if e["camera"] == cid]
        latencies = [e["event_to_clip_s"] for e in mine if e["event_to_clip_s"] is not None]
        cpu = (b["thread_cpu"] - a["thread_cpu"]) + (b["infer_cpu"] - a["infer_cpu"])
        cameras.append(
            {
                "id": cid,
                "footage": kinds[cid],
                "cpu_percent": rounded(100 * cpu / window, 1),
                "memory_mb": rounded((rss_end - rss_base) / len(s0), 1),
                "decode_ms": rounded(1000 * (b["decode_wall"] - a["decode_wall"]) / submitted if submitted else None, 2),
                "decode_cpu_ms": rounded(1000 * (b["decode_cpu"] - a["decode_cpu"]) / submitted if submitted else None, 2),
                "inference_ms": rounded(1000 * (b["infer_wall"] - a["infer_wall"]) / runs if runs else None, 2),
                "inference_runs": runs,
                "gated_fraction": rounded(gated / (runs + gated) if runs + gated else None, 3),  # by either gate
                "motion_gated_fraction": rounded(motion / (runs + motion) if runs + motion else None, 3),
                "fire_gated_fraction": rounded(min(1.0, fire / fire_due) if fire is not None and fire_due else None, 3),
                "samples_per_s": rounded(judged / window, 3),
                "expected_samples_per_s": rounded(1.0 / every_s, 3),
                "packets_per_s": rounded((b["packets"] - a["packets"]) / window, 2),
                # > 1: the simulated camera skipped ahead (its server was starved of CPU and re-anchored).
                "media_s_per_s": rounded((b["media_s"] - a["media_s"]) / window if a["media_s"] is not None and b["media_s"] is not None else None, 3),
                "dropped_samples": b["dropped"] - a["dropped"],
                "lag_p50_s": rounded(percentile(lags, 50)),
                "lag_p95_s": rounded(percentile(lags, 95)),
                "events": len(mine),
                "event_to_clip_s": rounded(statistics.mean(latencies) if latencies else None, 2),
                "evidence_lost": sum(1 for e in mine if e["clip_state"] != "complete" or not e["snapshot"]) + sum(faults.get(cid, {}).values()),
            }
        )
    return trial_figures("pipeline", cameras, window, warmup_s, cpu1 - cpu0, rss_end, rss_base, sample_every_s=intervals, models=models)
