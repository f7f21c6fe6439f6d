"""One benchmark trial, in a fresh process (so CPU and memory are the trial's own):

    python -m benchmarks.trial SPEC.json RESULT.json

SPEC["mode"] is one of
  pipeline   the real pipeline (Supervisor: every camera's worker, shared models, judges, evidence)
  baseline   what a user would otherwise write: OpenCV VideoCapture reading every frame, the same
             ONNX model on every Nth frame, one thread per camera
  decode     decoding alone, as the pipeline does it (and, for comparison, every frame / keyframes only)
  inference  inference alone: the models as fast as they go on real frames, one run per core
The orchestrator (benchmarks/bench.py) writes SPEC and reads RESULT."""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.procstat import process_cpu_s, rss_mb, thread_cpu_s  # noqa: E402

FPS = 25.0
ZONES = {  # normalised polygons that fit the footage (benchmarks/footage.py)
    "quiet_720p": [[0.30, 0.45], [1.00, 0.45], [1.00, 1.00], [0.30, 1.00]],  # the footway the bicycle stands on
    "busy_1080p": [[0.00, 0.35], [1.00, 0.35], [1.00, 1.00], [0.00, 1.00]],  # road and footway
}


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


# --------------------------------------------------------------------------- pipeline


def pipeline_config(spec: dict) -> dict:
    """The epatrol configuration of a pipeline trial: every camera watches one zone for every
    violation asked for, all judges at the patrol rate; short dwell and post-roll so events and
    their clips happen inside the measured window."""
    from epatrol.config import Violations

    interval = 1.0 / spec["rate"]
    violations: dict[str, dict] = {}
    for name, field in Violations.model_fields.items():
        section = field.annotation
        if name in spec["violations"] and "sample_every_s" in getattr(section, "model_fields", {}):
            violations[name] = {"sample_every_s": interval}
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
        "violations": violations,
        "evidence": {"pre_s": 3.0, "post_s": 2.0},
        "streams": {"open_timeout_s": 30.0, "read_timeout_s": 15.0, "reconnect_initial_s": 1.0, "reconnect_max_s": 2.0},
    }


def _worker_snapshot(worker, native_id: int | None, health_by_id: dict) -> dict:
    st, feed_t = worker.stats, worker.feed.times
    h = health_by_id.get(worker.camera.id)
    return {
        "judged": st.judged,
        "submitted": st.samples,
        "gated": st.gated,
        "packets": st.packets,
        "decode_wall": feed_t.wall_s.get("decode", 0.0),
        "decode_cpu": feed_t.cpu_s.get("decode", 0.0),
        "infer_wall": st.times.wall_s.get("inference", 0.0),
        "infer_cpu": st.times.cpu_s.get("inference", 0.0),
        "infer_calls": st.times.calls.get("inference", 0),
        "thread_cpu": thread_cpu_s(native_id) if native_id else 0.0,
        "media_s": _newest_media_s(worker),
        "dropped": h.dropped_samples if h else 0,
        "lags": list(st.lags_s),
    }


def _newest_media_s(worker) -> float | None:
    """Media time of the newest packet in the camera's pre-roll ring (None when it is empty)."""
    packets = worker.feed.ring.snapshot()
    return packets[-1].time_s if packets else None


def run_pipeline(spec: dict) -> dict:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from epatrol.config import parse_config
    from epatrol.evidence.db import Database
    from epatrol.evidence.schema import Event, EvidenceFile
    from epatrol.health import HealthBoard
    from epatrol.models.detector import load_detector
    from epatrol.pipeline import required_models
    from epatrol.supervisor import Supervisor

    cfg = parse_config(pipeline_config(spec))
    m = cfg.models
    detectors = {name: load_detector(name, m.dir, m.threads, m.device) for name in sorted(required_models(cfg))}
    db = Database(cfg.database_url)
    health = HealthBoard()
    for d in detectors.values():  # the first run allocates the session's buffers: not a camera's memory
        d.detect(np.zeros((1080, 1920, 3), np.uint8))
    rss_base = rss_mb()
    sup = Supervisor(cfg, detectors, db, health=health)
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
        return time.monotonic(), process_cpu_s(), {cid: _worker_snapshot(r.worker, r.thread.native_id, hb) for cid, r in running.items()}

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
        lags = b["lags"][len(b["lags"]) - judged :] if judged > 0 else []
        mine = [e for e in ev_rows if e["camera"] == cid]
        latencies = [e["event_to_clip_s"] for e in mine if e["event_to_clip_s"] is not None]
        cpu = (b["thread_cpu"] - a["thread_cpu"]) + (b["infer_cpu"] - a["infer_cpu"])
        cameras.append(
            {
                "id": cid,
                "footage": kinds[cid],
                "cpu_percent": _r(100 * cpu / window, 1),
                "memory_mb": _r((rss_end - rss_base) / len(s0), 1),
                "decode_ms": _r(1000 * (b["decode_wall"] - a["decode_wall"]) / submitted if submitted else None, 2),
                "decode_cpu_ms": _r(1000 * (b["decode_cpu"] - a["decode_cpu"]) / submitted if submitted else None, 2),
                "inference_ms": _r(1000 * (b["infer_wall"] - a["infer_wall"]) / runs if runs else None, 2),
                "inference_runs": runs,
                "gated_fraction": _r((b["gated"] - a["gated"]) / (runs + b["gated"] - a["gated"]) if runs + b["gated"] - a["gated"] else None, 3),
                "samples_per_s": _r(judged / window, 3),
                "packets_per_s": _r((b["packets"] - a["packets"]) / window, 2),
                # > 1: the simulated camera skipped ahead (its server was starved of CPU and re-anchored).
                "media_s_per_s": _r((b["media_s"] - a["media_s"]) / window if a["media_s"] is not None and b["media_s"] is not None else None, 3),
                "dropped_samples": b["dropped"] - a["dropped"],
                "lag_p50_s": _r(_pct(lags, 50)),
                "lag_p95_s": _r(_pct(lags, 95)),
                "events": len(mine),
                "event_to_clip_s": _r(statistics.mean(latencies) if latencies else None, 2),
                "evidence_lost": sum(1 for e in mine if e["clip_state"] != "complete" or not e["snapshot"]) + sum(faults.get(cid, {}).values()),
            }
        )
    return {
        "mode": "pipeline",
        "cameras": len(cameras),
        "window_s": _r(window, 2),
        "warmup_s": _r(warmup_s, 1),
        "process_cpu_percent": _r(100 * (cpu1 - cpu0) / window, 1),
        "rss_mb": _r(rss_end, 1),
        "rss_base_mb": _r(rss_base, 1),
        "models": {name: {"provider": d.provider, "batch_size": d.batch_size} for name, d in detectors.items()},
        "per_camera": cameras,
    }


# --------------------------------------------------------------------------- baseline


def run_baseline(spec: dict) -> dict:
    """One thread per camera: cap.read() every frame, the detector on every Nth, inline."""
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    import cv2

    from epatrol.models.detector import load_detector

    # What a user writes: one session, onnxruntime's default threading, shared by the threads.
    detector = load_detector(spec["detector"], Path(spec["models_dir"]), None, spec["device"])
    every = max(1, round(FPS / spec["rate"]))
    stop = threading.Event()
    measuring = threading.Event()
    state = [{"frames": 0, "samples": 0, "read_s": 0.0, "infer_s": 0.0, "lags": [], "native_id": None, "opened": False} for _ in spec["urls"]]

    def camera(i: int, url: str) -> None:
        st = state[i]
        st["native_id"] = threading.get_native_id()
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        st["opened"] = cap.isOpened()
        n = 0
        while not stop.is_set() and cap.isOpened():
            t = time.perf_counter()
            ok, frame = cap.read()
            got = time.perf_counter()
            if not ok:
                break
            n += 1
            m = measuring.is_set()
            if m:
                st["frames"] += 1
                st["read_s"] += got - t
            if n % every == 0:
                detector.detect(frame, conf=0.3)
                done = time.perf_counter()
                if m:
                    st["samples"] += 1
                    st["infer_s"] += done - got
                    st["lags"].append(done - got)
        cap.release()

    rss_base = rss_mb()
    threads = [threading.Thread(target=camera, args=(i, u), daemon=True) for i, u in enumerate(spec["urls"])]
    started = time.monotonic()
    for t in threads:
        t.start()
    deadline = started + spec["warmup_max_s"]
    while time.monotonic() < deadline and not all(s["opened"] for s in state):
        time.sleep(0.2)
    time.sleep(spec["warmup_s"])
    warmup_s = time.monotonic() - started
    cpu_threads0 = {i: thread_cpu_s(s["native_id"]) if s["native_id"] else 0.0 for i, s in enumerate(state)}
    cpu0, t0 = process_cpu_s(), time.monotonic()
    measuring.set()
    time.sleep(spec["window_s"])
    measuring.clear()
    cpu1, t1 = process_cpu_s(), time.monotonic()
    cpu_threads1 = {i: thread_cpu_s(s["native_id"]) if s["native_id"] else 0.0 for i, s in enumerate(state)}
    rss_end = rss_mb()
    stop.set()
    for t in threads:
        t.join(10)
    window = t1 - t0
    # onnxruntime's intra-op pool works for every camera: its CPU is shared out evenly.
    pool_cpu = (cpu1 - cpu0) - sum(cpu_threads1[i] - cpu_threads0[i] for i in cpu_threads0)
    cameras = []
    for i, st in enumerate(state):
        cameras.append(
            {
                "id": f"cam-{i:02d}",
                "footage": spec["kinds"][i],
                "cpu_percent": _r(100 * ((cpu_threads1[i] - cpu_threads0[i]) + pool_cpu / len(state)) / window, 1),
                "memory_mb": _r((rss_end - rss_base) / len(state), 1),
                "decode_ms": _r(1000 * st["read_s"] / st["frames"] if st["frames"] else None, 2),
                "inference_ms": _r(1000 * st["infer_s"] / st["samples"] if st["samples"] else None, 2),
                "inference_runs": st["samples"],
                "samples_per_s": _r(st["samples"] / window, 3),
                "frames_per_s": _r(st["frames"] / window, 2),
                "packets_per_s": _r(st["frames"] / window, 2),
                "dropped_samples": 0,
                "lag_p50_s": _r(_pct(st["lags"], 50)),
                "lag_p95_s": _r(_pct(st["lags"], 95)),
            }
        )
    return {
        "mode": "baseline",
        "cameras": len(cameras),
        "window_s": _r(window, 2),
        "warmup_s": _r(warmup_s, 1),
        "process_cpu_percent": _r(100 * (cpu1 - cpu0) / window, 1),
        "rss_mb": _r(rss_end, 1),
        "rss_base_mb": _r(rss_base, 1),
        "per_camera": cameras,
    }


# --------------------------------------------------------------------------- decode alone


def _decode_feed(url: str, interval_s: float, stop: threading.Event, counts: dict) -> None:
    """The pipeline's decoding: CameraFeed with its sampler (keyframes when the rate allows)."""
    from epatrol.streams.feed import CameraFeed, PacketIn

    feed = CameraFeed("probe", url, sample_every_s=interval_s, preroll_s=1.0, stop=stop)
    for item in feed:
        if isinstance(item, PacketIn):
            counts["packets"] += 1
            counts["samples"] += item.sample is not None
    counts["decoded"] = feed.times.calls.get("decode", 0)


def _decode_every_frame(url: str, stop: threading.Event, counts: dict) -> None:
    """Every frame decoded and converted to BGR (what a decode-everything reader pays)."""
    import av

    with av.open(url, options={"rtsp_transport": "tcp", "timeout": "15000000"}) as c:
        for pkt in c.demux(video=0):
            if stop.is_set():
                break
            counts["packets"] += 1
            for frame in pkt.decode():
                frame.to_ndarray(format="bgr24")
                counts["decoded"] += 1


def run_decode(spec: dict) -> dict:
    modes = {
        "pipeline_sampler": lambda u, s, c: _decode_feed(u, 1.0 / spec["rate"], s, c),
        "keyframes_only": lambda u, s, c: _decode_feed(u, 2.0, s, c),  # one sample per 2 s GOP
        "every_frame": _decode_every_frame,
    }
    out = {"mode": "decode", "cameras": len(spec["urls"]), "modes": {}}
    for name, fn in modes.items():
        stop = threading.Event()
        counts = [{"packets": 0, "samples": 0, "decoded": 0} for _ in spec["urls"]]
        threads = [threading.Thread(target=fn, args=(u, stop, c), daemon=True) for u, c in zip(spec["urls"], counts)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + spec["warmup_max_s"]
        while time.monotonic() < deadline and not all(c["packets"] > 0 for c in counts):
            time.sleep(0.1)
        time.sleep(min(spec["warmup_s"], 3.0))
        p0, cpu0, t0 = sum(c["packets"] for c in counts), process_cpu_s(), time.monotonic()
        time.sleep(spec["decode_window_s"])
        p1, cpu1, t1 = sum(c["packets"] for c in counts), process_cpu_s(), time.monotonic()
        stop.set()
        for t in threads:
            t.join(10)
        window = t1 - t0
        per_cam_cpu = (cpu1 - cpu0) / window / len(counts)  # cores one camera keeps busy
        out["modes"][name] = {
            "cpu_percent_per_camera": _r(100 * per_cam_cpu, 1),
            "packets_per_s_per_camera": _r((p1 - p0) / window / len(counts), 2),
            "bound_cameras": _r(spec["cores"] / per_cam_cpu if per_cam_cpu > 0 else None, 1),
        }
    return out


# --------------------------------------------------------------------------- inference alone


def _sample_frames(paths: list[str]) -> list[np.ndarray]:
    import av

    frames = []
    for p in paths:
        with av.open(p) as c:
            frames.append(next(f.to_ndarray(format="bgr24") for f in c.decode(video=0)))
    return frames


def run_inference(spec: dict) -> dict:
    """Camera-samples per second the models sustain when nothing else runs (one run per core,
    one single-threaded run each, as the pipeline is configured), and per-run figures."""
    from epatrol.detectors.crops import to_pixels
    from epatrol.models.detector import load_detector
    from epatrol.models.service import InferenceService
    from epatrol.streams.motion import MotionGate

    frames = _sample_frames(spec["footage_mp4"])
    workers = spec.get("workers") or spec["cores"]
    detectors = {name: load_detector(name, Path(spec["models_dir"]), 1, spec["device"]) for name in spec["model_names"]}
    services = {name: InferenceService(d, workers) for name, d in detectors.items()}
    for d in detectors.values():
        d.detect(frames[0])  # first run allocates
    # Per-run latency of each model alone, and on a quarter-frame crop (the zone-crop figure).
    per_model = {}
    for name, d in detectors.items():
        frame = frames[0]
        h, w = frame.shape[:2]
        roi = to_pixels((0.5, 0.0, 1.0, 0.5), w, h)
        full = [_timed(lambda: d.detect(frame)) for _ in range(spec["latency_runs"])]
        crop = [_timed(lambda: d.detect(frame, roi=roi)) for _ in range(spec["latency_runs"])]
        per_model[name] = {"ms_full_frame": _r(1000 * statistics.median(full), 1), "ms_quarter_crop": _r(1000 * statistics.median(crop), 1),
                           "batch_size": d.batch_size, "provider": d.provider}
    gate = MotionGate()
    gate_ms = [_timed(lambda: gate.should_infer(frames[0], 0.0)) for _ in range(20)]
    # Throughput: keep every worker busy; a camera-sample is one run of each model.
    deadline = time.monotonic() + spec["inference_window_s"]
    done = 0
    inflight = []
    cpu0, t0 = process_cpu_s(), time.monotonic()
    i = 0
    while time.monotonic() < deadline:
        while len(inflight) < 2 * workers:
            frame = frames[i % len(frames)]
            i += 1
            inflight.append([s.submit(frame, 0.3) for s in services.values()])
        first = inflight.pop(0)
        for f in first:
            f.result()
        done += 1
    for fs in inflight:
        for f in fs:
            f.result()
    done += len(inflight)
    t1, cpu1 = time.monotonic(), process_cpu_s()
    for s in services.values():
        s.close()
    window = t1 - t0
    rate = done / window
    cpu_per_sample = (cpu1 - cpu0) / done
    on_cpu = all(d.provider == "CPUExecutionProvider" for d in detectors.values())
    # On CPU the bound is the cores over the CPU one camera-sample costs (like decoding's, and
    # unmoved by other load on the box); on a GPU it is the throughput reached.
    by_cpu = spec["cores"] / (cpu_per_sample * spec["rate"])
    return {
        "mode": "inference",
        "workers": workers,
        "camera_samples_per_s": _r(rate, 2),
        "cpu_percent": _r(100 * (cpu1 - cpu0) / window, 1),
        "cpu_ms_per_camera_sample": _r(1000 * cpu_per_sample, 1),
        "bound_cameras_by_throughput": _r(rate / spec["rate"], 1),
        "bound_cameras_by_cpu": _r(by_cpu, 1),
        "bound_cameras": _r(by_cpu if on_cpu else rate / spec["rate"], 1),
        "per_model": per_model,
        "motion_gate_ms_1080p": _r(1000 * statistics.median(gate_ms), 2),
    }


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m benchmarks.trial SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run = {"pipeline": run_pipeline, "baseline": run_baseline, "decode": run_decode, "inference": run_inference}[spec["mode"]]
    result = run(spec)
    Path(argv[1]).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
