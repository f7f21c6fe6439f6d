"""One detector shared by every camera, run off the cameras' threads.

Camera threads keep demuxing, buffering and writing clips while their samples wait here, so a
slow inference never stalls a live stream: it shows up as queue depth and dropped samples.

No batching across cameras: every model shipped today has a fixed batch of 1 in its graph
(ObjectDetector.batch_size), and on CPU one single-threaded run per core already keeps every
core busy (benchmarks/concurrency.py: 1.9x the samples/s of intra-op threads)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from epatrol.common.stacks import dump_stacks
from epatrol.models.detections import Detections
from epatrol.models.detector import ObjectDetector

log = logging.getLogger(__name__)

# An inference takes well under a second; one this late is stuck (a native deadlock, say), and a
# camera waiting on it would otherwise hang without a word. Its report says where every thread is.
STALL_REPORT_S = 120.0


@dataclass(frozen=True, slots=True)
class Inference:
    detections: Detections
    wall_s: float
    cpu_s: float  # of the calling thread only: onnxruntime's own pool works beside it


def nothing_found(class_names: tuple[str, ...]) -> Future[Inference]:
    """A finished inference with no detections: what a gate that skipped the model hands the judge."""
    done: Future[Inference] = Future()
    done.set_result(Inference(Detections.empty(class_names), 0.0, 0.0))
    return done


def inference_result(future: Future[Inference], what: str, on_stall: Callable[[float], None] | None = None) -> Inference:
    """future.result(), reporting each STALL_REPORT_S it waits: an error naming `what`, every
    thread's stack on stderr (where it is stuck), and on_stall(seconds waited). It keeps waiting:
    a late answer is still used."""
    waited = 0.0
    while True:
        try:
            return future.result(timeout=STALL_REPORT_S)
        except TimeoutError:
            if future.done():  # the inference itself raised TimeoutError
                raise
            waited += STALL_REPORT_S
            log.error("%s has not answered in %.0f s; every thread's stack follows on stderr", what, waited)
            dump_stacks()
            if on_stall is not None:
                on_stall(waited)


class InferenceService:
    def __init__(self, detector: ObjectDetector, workers: int = 1) -> None:
        self.detector = detector
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infer")

    @property
    def name(self) -> str:
        return self.detector.name

    @property
    def sha256(self) -> str:
        return self.detector.sha256

    @property
    def runs_on(self) -> str:
        return self.detector.runs_on

    def submit(self, frame: np.ndarray, conf: float, roi: tuple[int, int, int, int] | None = None) -> Future[Inference]:
        """roi: detect in that crop of the frame (pixels); boxes still come back in frame pixels."""
        return self._pool.submit(self._run, frame, conf, roi)

    def _run(self, frame: np.ndarray, conf: float, roi: tuple[int, int, int, int] | None) -> Inference:
        wall, cpu = time.perf_counter(), time.thread_time()
        detections = self.detector.detect(frame, conf=conf, roi=roi)
        return Inference(detections, time.perf_counter() - wall, time.thread_time() - cpu)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
