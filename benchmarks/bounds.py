"""The bound trials: what the box allows when one stage runs alone. Run by benchmarks/trial.py.

  decode     decoding alone, as the pipeline does it (and, for comparison, every frame / keyframes only)
  inference  inference alone: each model as fast as it goes on real frames (one run per core, on the
             runtime the pipeline runs it on), and what a camera costs at each model's own rate"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.procstat import process_cpu_s
from benchmarks.runtimes import describe_detector, runs_on_cpu
from benchmarks.stats import rounded, timed
from benchmarks.workload import BIN_EMBEDDING, inference_bound, inference_cost_ms

# --------------------------------------------------------------------------- decode alone


def decode_with_sampler(url: str, interval_s: float, stop: threading.Event, counts: dict) -> None:
    """The pipeline's decoding: CameraFeed with its sampler (keyframes when the rate allows)."""
    from epatrol.streams.feed import CameraFeed, PacketIn

    feed = CameraFeed("probe", url, sample_every_s=interval_s, preroll_s=1.0, stop=stop)
    for item in feed:
        if isinstance(item, PacketIn):
            counts["packets"] += 1
            counts["samples"] += item.sample is not None
    counts["decoded"] = feed.times.calls.get("decode", 0)


def decode_every_frame(url: str, stop: threading.Event, counts: dict) -> None:
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
        "pipeline_sampler": lambda u, s, c: decode_with_sampler(u, spec["camera_every_s"], s, c),  # as the cameras are sampled
        "keyframes_only": lambda u, s, c: decode_with_sampler(u, 2.0, s, c),  # one sample per 2 s GOP
        "every_frame": decode_every_frame,
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
            "cpu_percent_per_camera": rounded(100 * per_cam_cpu, 1),
            "packets_per_s_per_camera": rounded((p1 - p0) / window / len(counts), 2),
            "bound_cameras": rounded(spec["cores"] / per_cam_cpu if per_cam_cpu > 0 else None, 1),
        }
    return out


# --------------------------------------------------------------------------- inference alone


def first_frames(paths: list[str]) -> list[np.ndarray]:
    import av

    frames = []
    for p in paths:
        with av.open(p) as c:
            frames.append(next(f.to_ndarray(format="bgr24") for f in c.decode(video=0)))
    return frames


def run_inference(spec: dict) -> dict:
    """Each model as fast as it goes when nothing else runs (one run per worker, as the pipeline is
    configured, and loaded as the pipeline loads it: the runtime chosen by measurement), and what a
    camera costs: each model's ms per run x its runs per camera-second (spec["model_every_s"])."""
    from benchmarks.pipeline_trial import pipeline_config
    from epatrol.config import Models
    from epatrol.detectors.crops import to_pixels
    from epatrol.models.detector import load_detectors
    from epatrol.models.service import InferenceService
    from epatrol.streams.motion import MotionGate

    frames = first_frames(spec["footage_mp4"])
    workers = spec.get("workers") or spec["cores"]
    every = spec["model_every_s"]
    # The pipeline trial's models section, loaded the same way: the runtimes the pipeline runs.
    detectors = load_detectors(spec["model_names"], Models(**pipeline_config(spec)["models"]))
    for d in detectors.values():
        d.detect(frames[0])  # first run allocates
    # Per-run latency of each model alone, and on a quarter-frame crop (the zone-crop figure).
    per_model = {}
    for name, d in detectors.items():
        frame = frames[0]
        h, w = frame.shape[:2]
        roi = to_pixels((0.5, 0.0, 1.0, 0.5), w, h)
        full = [timed(lambda: d.detect(frame)) for _ in range(spec["latency_runs"])]
        crop = [timed(lambda: d.detect(frame, roi=roi)) for _ in range(spec["latency_runs"])]
        per_model[name] = {"ms_full_frame": rounded(1000 * statistics.median(full), 1), "ms_quarter_crop": rounded(1000 * statistics.median(crop), 1),
                           **describe_detector(d, spec["models_dir"])}
    # Throughput, model by model: every worker busy on it for its share of the window.
    share = max(1.0, spec["inference_window_s"] / max(1, len(detectors)))
    for name, d in detectors.items():
        service = InferenceService(d, workers)
        try:
            per_model[name].update(throughput(service, frames, workers, share))
        finally:
            service.close()
    if BIN_EMBEDDING in every:
        per_model[BIN_EMBEDDING] = embedding_cost(frames[0], spec)
    for name, m in per_model.items():
        m["every_s"] = every.get(name)
        m["runs_per_camera_s"] = rounded(1.0 / every[name], 3) if every.get(name) else None
    gate = MotionGate()
    gate_ms = [timed(lambda: gate.should_infer(frames[0], 0.0)) for _ in range(20)]
    on_cpu = all(runs_on_cpu(m) for m in per_model.values())
    cost = inference_cost_ms(per_model)
    by_cpu = inference_bound(per_model, spec["cores"], on_cpu=True)
    by_throughput = inference_bound(per_model, spec["cores"], on_cpu=False)
    return {
        "mode": "inference",
        "workers": workers,
        "cores": spec["cores"],
        "cpu_ms_per_camera_s": rounded(cost, 1),  # sum of each model's CPU ms per run x its runs per camera-second
        "camera_s_per_s": rounded(by_throughput, 2),  # camera-seconds of inference the models keep up with, taking turns
        "bound_cameras_by_throughput": rounded(by_throughput, 1),
        "bound_cameras_by_cpu": rounded(by_cpu, 1),
        "bound_cameras": rounded(by_cpu if on_cpu else by_throughput, 1),
        "on_cpu": on_cpu,
        "per_model": per_model,
        "motion_gate_ms_1080p": rounded(1000 * statistics.median(gate_ms), 2),
    }


def throughput(service, frames: list[np.ndarray], workers: int, window_s: float) -> dict:
    """Runs per second and CPU ms per run of one model with 2 x workers runs in flight."""
    deadline = time.monotonic() + window_s
    done, inflight, i = 0, [], 0
    cpu0, t0 = process_cpu_s(), time.monotonic()
    while time.monotonic() < deadline:
        while len(inflight) < 2 * workers:
            inflight.append(service.submit(frames[i % len(frames)], 0.3))
            i += 1
        inflight.pop(0).result()
        done += 1
    for f in inflight:
        f.result()
    done += len(inflight)
    t1, cpu1 = time.monotonic(), process_cpu_s()
    return {
        "runs_per_s_at_once": rounded(done / (t1 - t0), 2),
        "cpu_ms_per_run": rounded(1000 * (cpu1 - cpu0) / done, 1),
        "cpu_percent_at_once": rounded(100 * (cpu1 - cpu0) / (t1 - t0), 1),
    }


def embedding_cost(frame: np.ndarray, spec: dict) -> dict:
    """The bin embedding on a zone's crop, as the bin judge runs it (the embedder the judges share),
    one run at a time: its ms and CPU ms per run."""
    from benchmarks.runtimes import describe_embedder
    from benchmarks.scenes import ZONES, zone_crop_box
    from epatrol.config import Violations
    from epatrol.detectors.bins.bin_classifier import shared_embedder
    from epatrol.models.manifest import resolve_models_dir

    embedder = shared_embedder(resolve_models_dir(Path(spec["models_dir"])))
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = zone_crop_box(ZONES[spec["footage_kinds"][0]], w, h, Violations().overflowing_bins.margin)  # frame is of that footage
    crop = frame[y0:y1, x0:x1]
    embedder.embed(crop)  # first run allocates
    runs = max(3, spec["latency_runs"])
    cpu0, t0 = process_cpu_s(), time.perf_counter()
    for _ in range(runs):
        embedder.embed(crop)
    wall, cpu = time.perf_counter() - t0, process_cpu_s() - cpu0
    return {
        "ms_full_frame": rounded(1000 * wall / runs, 1),  # on the zone's crop
        "ms_quarter_crop": None,
        "runs_per_s_at_once": rounded(runs / wall, 2),  # one at a time: a lower bound of its throughput
        "cpu_ms_per_run": rounded(1000 * cpu / runs, 1),
        **describe_embedder(embedder, spec["models_dir"]),
    }
