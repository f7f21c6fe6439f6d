"""Which runtime and precision run a model on this machine: measured, never assumed.

The shipped file on onnxruntime is the reference. Every other way this machine can run the same
weights (the float-folded graph on onnxruntime, OpenVINO at fp32 and, where the CPU has it, bf16,
onnxruntime's CUDA provider where a GPU is) is a candidate. A candidate is accepted only if, on a
fixed set of real frames, its detections agree with the reference's (AGREEMENT below); the
fastest accepted one runs. A speed ranking differs between an Intel CPU with AMX and an AMD EPYC,
which is why it is measured where it runs. The choice is cached per model file, machine and
runtime versions (runtime-choice.json in the cache folder), so a box measures once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import derive
from .detections import Detections
from .manifest import ModelError, ModelSpec
from .runners import (
    ONNXRUNTIME,
    OPENVINO,
    Candidate,
    Runner,
    open_runner,
    openvino_cpu_precisions,
)

log = logging.getLogger(__name__)

CONFIDENCE = 0.25  # detections compared at the COCO judges' usual floor
IOU_MIN = 0.9  # same object: boxes overlap at least this much
SCORE_TOLERANCE = 0.08  # |score - reference score|; detections within this of the floor may come and go
TIMED_RUNS = 2  # per frame, after one warm-up run (median of 12 runs with 6 frames)
CACHE_FILE = "runtime-choice.json"
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")

Detect = Callable[[Runner, np.ndarray], Detections]


@dataclass
class Row:
    candidate: str  # its label
    key: str
    ms: float | None  # median per run, one thread
    accepted: bool
    reason: str  # why rejected, or "reference" / "agrees"


@dataclass
class Choice:
    model: str
    model_sha256: str
    chosen: str  # key of the chosen candidate
    label: str
    machine: dict
    frames: int
    rows: list[Row] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def machine() -> dict:
    """What the ranking depends on: the CPU, its flags, the core count and the runtime versions."""
    import onnxruntime as ort

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    versions = {"onnxruntime": ort.__version__}
    try:
        import openvino

        versions["openvino"] = openvino.__version__
    except ImportError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "flags": [f for f in CPU_FLAGS if f in flags], "runtimes": versions}


def reference(shipped: Path, device: str, int8: bool) -> Candidate:
    """The shipped file on onnxruntime, on the device asked for ('auto': CUDA when usable)."""
    where = {"cpu": "CPU", "cuda": "CUDA", "auto": "auto"}[device]
    return Candidate(ONNXRUNTIME, where, "int8-dynamic" if int8 else "fp32", derive.SHIPPED, shipped)


def candidates(shipped: Path, device: str, float_graph: Path | None, bf16: bool = True) -> list[Candidate]:
    """The reference first, then every other way installed here; float_graph: the derived graph of
    an int8 file; bf16: offer bf16 (ModelSpec.reduced_precision)."""
    import onnxruntime as ort

    int8 = float_graph is not None
    graph, graph_name = (float_graph, derive.FLOAT_FOLDED) if int8 else (shipped, derive.SHIPPED)
    found = [reference(shipped, device, int8)]
    if int8:
        found.append(Candidate(ONNXRUNTIME, "CPU", "fp32", graph_name, graph))
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        found.append(Candidate(ONNXRUNTIME, "CUDA", "fp32", graph_name, graph))
    if device in ("auto", "cpu"):
        precisions = openvino_cpu_precisions()
        if "FP32" in precisions:
            found.append(Candidate(OPENVINO, "CPU", "fp32", graph_name, graph))
        if "BF16" in precisions and bf16:
            found.append(Candidate(OPENVINO, "CPU", "bf16", graph_name, graph))
    return found


def disagreement(reference: Detections, other: Detections) -> str | None:
    """Why other's detections differ from reference's (None: they agree); see AGREEMENT in the module doc."""
    for a, b, who in ((reference, other, "reference"), (other, reference, "candidate")):
        for i in range(len(a)):
            score = float(a.confidence[i])
            if score < CONFIDENCE + SCORE_TOLERANCE:
                continue  # a borderline box may fall either side of the floor
            same = np.flatnonzero(b.class_id == a.class_id[i])
            ious = _iou(a.xyxy[i], b.xyxy[same]) if len(same) else np.zeros(0)
            best = int(np.argmax(ious)) if len(ious) else -1
            name = a.class_names[a.class_id[i]]
            if best < 0 or ious[best] < IOU_MIN:
                return f"{who}'s {name} {score:.2f} has no match (best IoU {ious[best] if best >= 0 else 0:.2f} < {IOU_MIN})"
            if abs(float(b.confidence[same[best]]) - score) > SCORE_TOLERANCE:
                return f"{who}'s {name} scores {score:.2f} against {float(b.confidence[same[best]]):.2f} (> {SCORE_TOLERANCE})"
    return None


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def time_runner(runner: Runner, tensors: Sequence[np.ndarray]) -> float:
    """Median ms of one run, each frame run once to warm up then TIMED_RUNS times."""
    times = []
    for tensor in tensors:
        runner.run(tensor)
        for _ in range(TIMED_RUNS):
            start = time.perf_counter()
            runner.run(tensor)
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def choose(
    spec: ModelSpec,
    found: list[Candidate],
    frames: Sequence[np.ndarray],
    detect: Detect,
    tensor_of: Callable[[np.ndarray], np.ndarray],
    cache: Path,
    threads: int | None,
    remeasure: bool = False,
) -> tuple[Choice, Candidate]:
    """Measure every candidate on frames (or read this machine's earlier measurement unless
    remeasure); returns the choice and the chosen candidate."""
    info = machine()
    key = _cache_key(spec, found, frames, threads, info)
    cached = None if remeasure else _read_cache(cache).get(key)
    if cached is not None:
        choice = Choice(**{**cached, "rows": [Row(**r) for r in cached["rows"]]})
        chosen = next((c for c in found if c.key() == choice.chosen), None)
        if chosen is not None:
            return choice, chosen
    choice, chosen = _measure(spec, found, frames, detect, tensor_of, threads, info)
    _write_cache(cache, key, choice)
    return choice, chosen


def _measure(spec, found, frames, detect, tensor_of, threads, info) -> tuple[Choice, Candidate]:
    tensors = [tensor_of(f) for f in frames]
    reference = open_runner(found[0], threads)
    expected = [detect(reference, f) for f in frames]
    rows = [Row(found[0].label, found[0].key(), time_runner(reference, tensors), True, "reference")]
    best, best_ms = reference, rows[0].ms
    for candidate in found[1:]:
        try:
            runner = open_runner(candidate, threads)
        except ModelError as exc:
            rows.append(Row(candidate.label, candidate.key(), None, False, f"does not open: {exc}"))
            continue
        reason = next((f"frame {i}: {r}" for i, f in enumerate(frames) if (r := disagreement(expected[i], detect(runner, f)))), None)
        ms = time_runner(runner, tensors)
        rows.append(Row(candidate.label, candidate.key(), ms, reason is None, reason or "agrees"))
        if reason is None and ms < best_ms:
            best, best_ms = runner, ms
    choice = Choice(spec.name, spec.sha256, best.candidate.key(), best.candidate.label, info, len(frames), rows)
    log.info("model %s runs on %s (%.1f ms; reference %.1f ms)", spec.name, best.candidate.label, best_ms, rows[0].ms)
    return choice, best.candidate


def _cache_key(spec, found, frames, threads, info) -> str:
    digest = hashlib.sha256()
    for part in (spec.sha256, json.dumps(info, sort_keys=True), str(threads), *(c.key() for c in found)):
        digest.update(part.encode())
    for frame in frames:
        digest.update(hashlib.sha256(np.ascontiguousarray(frame).data).digest())
    return digest.hexdigest()


def _read_cache(cache: Path) -> dict:
    try:
        return json.loads((cache / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(cache: Path, key: str, choice: Choice) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        known = _read_cache(cache)
        known[key] = choice.to_json()
        tmp = cache / (CACHE_FILE + ".partial")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        os.replace(tmp, cache / CACHE_FILE)
    except OSError as exc:  # a read-only or full cache only costs a new measurement next start
        log.warning("runtime choice not cached in %s: %s", cache, exc)
