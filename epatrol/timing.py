"""Per-stage cost: wall time and the calling thread's CPU time.

Inference runs on onnxruntime's own thread pool, so its CPU cost is not in the calling
thread's clock: the wall time is the figure to read for it."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimes:
    def __init__(self) -> None:
        self.wall_s: dict[str, float] = defaultdict(float)
        self.cpu_s: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - wall, time.thread_time() - cpu)

    def add(self, stage: str, wall_s: float, cpu_s: float, calls: int = 1) -> None:
        self.wall_s[stage] += wall_s
        self.cpu_s[stage] += cpu_s
        self.calls[stage] += calls

    def per_call_ms(self) -> dict[str, dict[str, float]]:
        return {
            k: {"wall_ms": 1000 * self.wall_s[k] / n, "cpu_ms": 1000 * self.cpu_s[k] / n, "calls": n}
            for k, n in self.calls.items()
            if n
        }

    def summary(self) -> str:
        return ", ".join(
            f"{k} {v['wall_ms']:.1f} ms wall / {v['cpu_ms']:.1f} ms cpu x{v['calls']}"
            for k, v in sorted(self.per_call_ms().items())
        )
