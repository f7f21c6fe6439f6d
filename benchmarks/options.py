"""The options of `epatrol bench` (light: the CLI builds its parser from them on every start)."""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = ("bounds", "pipeline", "baseline")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--out", type=Path, default=Path("build/bench"), help="where bench.json, bench.md and bench.png go (default build/bench)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder with media/ and models/")
    ap.add_argument("--footage-cache", type=Path, default=REPO / "build" / "bench-footage", help="built footage is kept here between runs")
    ap.add_argument("--budget-s", type=float, default=480.0, help="time for the whole run (footage build included); the searches stop when it is spent (default 480)")
    ap.add_argument("--window-s", type=float, default=15.0, help="measured window of each trial (default 15)")
    ap.add_argument("--warmup-s", type=float, default=4.0, help="settling time after every camera judges its first samples")
    ap.add_argument("--rate", type=float, default=None, help="force one patrol rate (samples per second) on every violation in both the pipeline and the baseline (default: each violation at its configuration default sample_every_s, as deployed)")
    ap.add_argument("--lag-bound-s", type=float, default=2.0, help="sample lag p95 above this is falling behind (default 2)")
    ap.add_argument("--footage", default="busy_1080p,quiet_720p", help="camera kinds, assigned in turn (busy_1080p, quiet_720p)")
    ap.add_argument("--violations", default=None, help="comma list (default: every implemented violation)")
    ap.add_argument("--detector", default="yolov8n_int8", help="the COCO model (default yolov8n_int8)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--workers", type=int, default=None, help="models.workers (default: one per core)")
    ap.add_argument("--no-fast-path", action="store_true", help="motion gate and zone crops off (the fast path's own figure)")
    ap.add_argument("--max-cameras", type=int, default=48)
    ap.add_argument("--servers", type=int, default=4, help="RTSP server processes started apart, so the cameras' keyframes are not all in phase (default 4)")
    ap.add_argument("--cameras", default=None, help="comma list of N to run instead of searching (e.g. 1,2)")
    ap.add_argument("--only", default=",".join(MODES), help=f"comma list of {', '.join(MODES)}")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
