"""Small figures helpers the trials share: percentiles, rounding for the report, timing one call."""

from __future__ import annotations

import time

import numpy as np


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def rounded(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def timed(fn) -> float:
    """Seconds one call of fn takes."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def trial_figures(mode: str, cameras: list[dict], window: float, warmup_s: float, cpu_s: float, rss_mb: float, rss_base_mb: float, **more) -> dict:
    """The figures every trial reports, in the order the report reads them."""
    return {
        "mode": mode,
        "cameras": len(cameras),
        "window_s": rounded(window, 2),
        "warmup_s": rounded(warmup_s, 1),
        "process_cpu_percent": rounded(100 * cpu_s / window, 1),
        "rss_mb": rounded(rss_mb, 1),
        "rss_base_mb": rounded(rss_base_mb, 1),
        **more,
        "per_camera": cameras,
    }
