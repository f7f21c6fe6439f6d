"""Runners: one graph on one runtime at one precision, behind the same run(tensor) -> output.

onnxruntime (CPU and CUDA providers) and OpenVINO (the `openvino` package, CPU plugin at
fp32 or bf16) are what epatrol can choose from; selection.py measures them and picks. Both are
safe to call from several camera threads: onnxruntime's run() is, and OpenVINO lends each call
one of a fixed set of infer requests, made and warmed one at a time at load (requests whose first
runs overlapped are reported to deadlock on machines with few cores; a demo hung that way in CI).
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .manifest import ModelError
from .session import create_session, session_provider

ONNXRUNTIME = "onnxruntime"
OPENVINO = "openvino"


@dataclass(frozen=True)
class Candidate:
    """A way to run a model: what the bench table lists and each event records."""

    runtime: str  # ONNXRUNTIME | OPENVINO
    device: str  # "CPU", "CUDA", or "auto" (onnxruntime: CUDA when usable, else CPU)
    precision: str  # "int8-dynamic", "fp32", "bf16", "fp16"
    graph: str  # derive.SHIPPED | derive.FLOAT_FOLDED
    path: Path

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.device} {self.precision} ({self.graph})"

    def key(self) -> str:
        return f"{self.runtime}/{self.device}/{self.precision}/{self.graph}"


class Runner(Protocol):
    candidate: Candidate
    provider: str  # what actually runs it (onnxruntime may drop from CUDA to CPU)
    device: str  # "CPU" or "CUDA": where it actually runs
    inputs: list[tuple[str, tuple]]
    input_name: str
    input_shape: tuple  # ints for fixed axes, str/None for dynamic ones
    metadata: dict[str, str]

    def run(self, tensor: np.ndarray) -> np.ndarray: ...


class OnnxRuntimeRunner:
    def __init__(self, candidate: Candidate, threads: int | None) -> None:
        device = {"CPU": "cpu", "CUDA": "cuda", "auto": "auto"}.get(candidate.device)
        if device is None:
            raise ModelError(f"onnxruntime device {candidate.device!r} is not supported here")
        self.session = create_session(candidate.path, threads, device)  # type: ignore[arg-type]
        self.candidate = candidate
        self.provider = session_provider(self.session)
        self.device = "CUDA" if self.provider == "CUDAExecutionProvider" else "CPU"
        first = self.session.get_inputs()[0]
        self.input_name, self.input_shape = first.name, tuple(first.shape)
        self.inputs = [(i.name, tuple(i.shape)) for i in self.session.get_inputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self._output = self.session.get_outputs()[0].name

    def run(self, tensor: np.ndarray) -> np.ndarray:
        return self.session.run([self._output], {self.input_name: tensor})[0]


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def openvino_cpu_precisions() -> set[str]:
    """What the OpenVINO CPU plugin says this CPU runs natively ("FP32", "BF16", ...); empty without it."""
    if not openvino_available():
        return set()
    import openvino as ov

    return set(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


class OpenVinoRunner:
    """streams = runs at once (one per camera thread that infers), threads = cores they share."""

    def __init__(self, candidate: Candidate, threads: int | None, streams: int = 1) -> None:
        import openvino as ov

        hint = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}.get(candidate.precision)
        if hint is None:
            raise ModelError(f"OpenVINO cannot run precision {candidate.precision!r}")
        config: dict[str, object] = {"INFERENCE_PRECISION_HINT": hint, "NUM_STREAMS": max(1, streams)}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads * max(1, streams)
        core = ov.Core()
        try:
            model = core.read_model(str(candidate.path))
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises plain RuntimeError with its own text
            raise ModelError(f"OpenVINO cannot compile {candidate.path}: {exc}") from exc
        self.candidate = candidate
        self.provider = f"OpenVINO CPU {candidate.precision}"
        self.device = "CPU"
        first = model.inputs[0]
        self.input_name = first.get_any_name()
        self.input_shape = tuple(d.get_length() if d.is_static else None for d in first.get_partial_shape())
        self.inputs = [(i.get_any_name(), ()) for i in model.inputs]
        self.metadata = {}  # class names are checked on the shipped graph, which onnxruntime reads
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        warm = np.zeros(self.input_shape, first.get_element_type().to_dtype()) if None not in self.input_shape else None
        for _ in range(max(1, streams)):  # one per run at once; a caller beyond that waits its turn
            request = self._compiled.create_infer_request()
            if warm is not None:
                request.infer({0: warm})  # its first run (shape specialisation) alone, here
            self._requests.put(request)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        request = self._requests.get()
        try:
            result = request.infer({0: tensor})
            return np.array(result[0])  # a copy: the request reuses its output buffer on the next call
        finally:
            self._requests.put(request)


def open_runner(candidate: Candidate, threads: int | None, streams: int = 1) -> Runner:
    if candidate.runtime == ONNXRUNTIME:
        return OnnxRuntimeRunner(candidate, threads)
    if candidate.runtime == OPENVINO:
        if not openvino_available():
            raise ModelError("runtime 'openvino' is not installed (pip install openvino)")
        return OpenVinoRunner(candidate, threads, streams)
    raise ModelError(f"unknown runtime {candidate.runtime!r}")


def check_input_shape(name: str, runner: Runner, input_size: tuple[int, int]) -> None:
    """Fail at load time, not on the first frame, when the graph's input is not 1x3xHxW as the
    manifest says. Dynamic axes come back as strings/None: only the fixed ones are compared."""
    shape = runner.input_shape
    w, h = input_size
    if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape, (1, 3, h, w))):
        raise ModelError(f"model {name!r}: input shape {shape} does not match 1x3x{h}x{w}")
