"""The baseline trial: what a user would otherwise write by hand, on N live cameras.

One thread per camera: OpenCV VideoCapture reads (decodes) every frame; every model the
benchmarked violations need runs inline on the frames it is due on, each at its violation's
sample rate from the configuration defaults unless --rate forces one for all (a model two
violations share runs once per sample, at the faster rate): the COCO detector for parked bikes and street vending, fire_smoke for open
burning, the bin embedding (BinEmbedder.embed) on each bin zone's crop for overflowing bins. No
motion gate, no zone crops for the detectors, no sampler: the shipped ONNX files on plain
onnxruntime (default session options, one session per model shared by the camera threads), on the
CPU unless --device cuda. Run by benchmarks/trial.py."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.procstat import process_cpu_s, rss_mb, thread_cpu_s
from benchmarks.runtimes import (
    SHIPPED,
    describe_embedder,
    graph_precision,
    onnxruntime_label,
)
from benchmarks.scenes import FPS, ZONES, zone_crop_box
from benchmarks.stats import percentile, rounded, trial_figures
from benchmarks.workload import (
    BIN_EMBEDDING,
    default_confidences,
    model_intervals,
    violation_intervals,
)


class ShippedModel:
    """A shipped ONNX detector as a user runs it: its file on onnxruntime with the default session
    options, and the model family's pre- and post-processing."""

    def __init__(self, name: str, models_dir: Path, device: str) -> None:
        import onnxruntime as ort

        from epatrol.models.manifest import (
            get_spec,
            resolve_models_dir,
            verify_model_file,
        )

        self.spec = get_spec(name)
        path = verify_model_file(self.spec, resolve_models_dir(models_dir))
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), providers=providers)
        self.output = self.session.get_outputs()[0].name
        self.description = {
            "runtime": onnxruntime_label(self.session.get_providers()[0]),
            "precision": graph_precision(str(path)),
            "graph": SHIPPED,
            "provider": self.session.get_providers()[0],
            "batch_size": self.session.get_inputs()[0].shape[0] if isinstance(self.session.get_inputs()[0].shape[0], int) else None,
        }

    def detect(self, frame: np.ndarray, conf: float):
        from epatrol.models import fastestdet, yolo

        spec = self.spec
        if spec.family == "fastestdet":
            tensor, geometry = fastestdet.preprocess(frame, spec.input_size)
            out = self.session.run([self.output], {spec.input_name: tensor})[0]
            return fastestdet.decode(out, geometry, spec.input_size, spec.class_names, conf, 0.45)
        tensor, geometry = yolo.preprocess(frame, spec.input_size, rgb=spec.channel_order == "rgb", use_letterbox=spec.letterbox)
        out = self.session.run([self.output], {spec.input_name: tensor})[0]
        return yolo.decode(out, geometry, spec.class_names, conf, 0.45)


def baseline_schedule(spec: dict) -> dict[str, float]:
    """Seconds between runs of each model the baseline runs: its violations' configuration
    defaults, or one forced rate for all (spec["rate"], --rate)."""
    return model_intervals(violation_intervals(spec["violations"], spec.get("rate")), spec["detector"])


def slot_of(frame_index: int, every_s: float) -> int:
    """The sampling slot frame `frame_index` falls in: a model runs on the first frame of each slot."""
    return int(frame_index / (every_s * FPS) + 1e-9)


def expected_samples_per_s(schedule: dict[str, float]) -> float:
    """Frames per second that some model is due on, at the stream's frame rate."""
    frames = int(100 * FPS)
    last = {m: -1 for m in schedule}
    hits = 0
    for n in range(frames):
        slots = {m: slot_of(n, every) for m, every in schedule.items()}
        if any(slots[m] > last[m] for m in schedule):
            hits += 1
        last = slots
    return hits / 100.0


def run_baseline(spec: dict) -> dict:
    """One thread per camera: cap.read() every frame, each model inline on the frames it is due on."""
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    import cv2

    from epatrol.config import Violations

    models_dir = Path(spec["models_dir"])
    schedule = baseline_schedule(spec)
    conf = default_confidences(spec["violations"], spec["detector"])
    detectors = {name: ShippedModel(name, models_dir, spec["device"]) for name in schedule if name != BIN_EMBEDDING}
    embedder = None
    if BIN_EMBEDDING in schedule:
        from epatrol.detectors.bins.bin_classifier import BinEmbedder
        from epatrol.models.manifest import resolve_models_dir

        # The shipped graph on onnxruntime CPU (runtime "reference"), onnxruntime's default threading, as a user leaves it.
        embedder = BinEmbedder(resolve_models_dir(models_dir), threads=None)
    margin = Violations().overflowing_bins.margin
    descriptions = {name: d.description for name, d in detectors.items()}
    if embedder is not None:
        descriptions[BIN_EMBEDDING] = describe_embedder(embedder, models_dir)
    stop = threading.Event()
    measuring = threading.Event()
    state = [
        {"frames": 0, "samples": 0, "read_s": 0.0, "lags": [], "native_id": None, "opened": False,
         "runs": {m: 0 for m in schedule}, "run_s": {m: 0.0 for m in schedule}, "runs_total": {m: 0 for m in schedule}}
        for _ in spec["urls"]
    ]  # fmt: skip

    def run_model(name: str, frame: np.ndarray, kind: str) -> int:
        """One due model on one frame; the runs it took (the embedding runs once per bin zone)."""
        if name != BIN_EMBEDDING:
            detectors[name].detect(frame, conf[name])
            return 1
        h, w = frame.shape[:2]
        bin_zones = [ZONES[kind]]  # the bench gives each camera one zone, watched for every violation
        for polygon in bin_zones:
            x0, y0, x1, y1 = zone_crop_box(polygon, w, h, margin)
            embedder.embed(frame[y0:y1, x0:x1])
        return len(bin_zones)

    def camera(i: int, url: str, kind: str) -> None:
        st = state[i]
        st["native_id"] = threading.get_native_id()
        cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        st["opened"] = cap.isOpened()
        last = {m: -1 for m in schedule}
        n = -1
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
            ran = False
            for name, every in schedule.items():
                slot = slot_of(n, every)
                if slot <= last[name]:
                    continue
                last[name] = slot
                t_model = time.perf_counter()
                runs = run_model(name, frame, kind)
                st["runs_total"][name] += runs
                if m:
                    st["runs"][name] += runs
                    st["run_s"][name] += time.perf_counter() - t_model
                ran = True
            if ran and m:
                st["samples"] += 1
                st["lags"].append(time.perf_counter() - got)
        cap.release()

    rss_base = rss_mb()
    threads = [threading.Thread(target=camera, args=(i, u, k), daemon=True) for i, (u, k) in enumerate(zip(spec["urls"], spec["kinds"]))]
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
    # onnxruntime's intra-op pools work for every camera: their CPU is shared out evenly.
    pool_cpu = (cpu1 - cpu0) - sum(cpu_threads1[i] - cpu_threads0[i] for i in cpu_threads0)
    expected = expected_samples_per_s(schedule)
    cameras = []
    for i, st in enumerate(state):
        runs = sum(st["runs"].values())
        cameras.append(
            {
                "id": f"cam-{i:02d}",
                "footage": spec["kinds"][i],
                "cpu_percent": rounded(100 * ((cpu_threads1[i] - cpu_threads0[i]) + pool_cpu / len(state)) / window, 1),
                "memory_mb": rounded((rss_end - rss_base) / len(state), 1),
                "decode_ms": rounded(1000 * st["read_s"] / st["frames"] if st["frames"] else None, 2),
                "inference_ms": rounded(1000 * sum(st["run_s"].values()) / runs if runs else None, 2),
                "inference_runs": runs,
                "models": {name: {"runs": st["runs"][name], "ms_per_run": rounded(1000 * st["run_s"][name] / st["runs"][name] if st["runs"][name] else None, 2)} for name in schedule},
                "samples_per_s": rounded(st["samples"] / window, 3),
                "expected_samples_per_s": rounded(expected, 3),
                "frames_per_s": rounded(st["frames"] / window, 2),
                "packets_per_s": rounded(st["frames"] / window, 2),
                "dropped_samples": 0,
                "lag_p50_s": rounded(percentile(st["lags"], 50)),
                "lag_p95_s": rounded(percentile(st["lags"], 95)),
            }
        )
    models = {
        name: {
            **descriptions[name],
            "every_s": every,
            "runs": sum(st["runs"][name] for st in state),  # in the measured window, all cameras
            "runs_total": sum(st["runs_total"][name] for st in state),  # the whole trial, warm-up included
        }
        for name, every in schedule.items()
    }
    return trial_figures("baseline", cameras, window, warmup_s, cpu1 - cpu0, rss_end, rss_base, models=models)
