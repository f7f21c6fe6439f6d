"""`epatrol bench`: how many live cameras this box patrols, measured on the real pipeline.

Starts simulated cameras on the real RTSP server (GStreamer, tests/rtsp_server.py) from footage
built out of ../shared/media (benchmarks/footage.py: 1080p and 720p H.264, 25 fps, 2 s GOP),
then, each trial in a fresh process (benchmarks/trial.py):

1. bounds: decoding alone (as the pipeline decodes, and every frame / keyframes only for
   comparison) and inference alone (the models flat out), each as the cameras it would allow;
2. the pipeline as deployed (every violation at its configuration default sample_every_s, the
   models on the runtime chosen by measurement, as `epatrol run` loads them): the largest N
   cameras it sustains, searched (grow until a trial fails, then bisect);
3. the baseline a user would otherwise write (OpenCV VideoCapture decoding every frame, every
   model the violations need on the shipped ONNX files, plain onnxruntime, each at its
   violation's default sample rate; benchmarks/baseline_trial.py), its largest N searched the
   same way.

--rate R forces one patrol rate (R samples/s) on every violation in both trials instead of the
defaults (for comparisons with earlier runs).

A trial with N cameras is sustained when every camera, over the measured window, judged at least
90% of its expected sample rate (less one sample: the pipeline samples each camera at its fastest
judge's rate, the baseline at its models' own), received the stream at its frame rate (did not fall behind), dropped no
sample, kept the sample lag (ingest -> judged) p95 under --lag-bound-s, and lost no evidence
(every event has its clip and snapshot, no storage fault).

Writes bench.json, bench.md (tables) and bench.png (cameras vs lag and CPU) into --out."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from benchmarks import footage as footage_mod  # noqa: E402
from benchmarks.machine import machine  # noqa: E402
from benchmarks.options import MODES, add_arguments  # noqa: E402
from benchmarks.procstat import process_cpu_s  # noqa: E402
from benchmarks.progress import Progress  # noqa: E402
from benchmarks.report import write_markdown, write_plot  # noqa: E402
from benchmarks.summary import combine, summarise  # noqa: E402
from benchmarks.workload import (  # noqa: E402
    camera_every_s,
    model_intervals,
    paced,
    violation_intervals,
)

FPS = 25.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="epatrol bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(ap)
    return ap.parse_args(argv)


# --------------------------------------------------------------------------- trials


class Bench:
    def __init__(self, args: argparse.Namespace, servers: dict[str, object], kinds_by_mount: dict[str, str], footage_mp4: list[str], progress: Progress) -> None:
        self.args = args
        self.servers = servers  # mount -> the RtspServer serving it
        self.mounts = list(kinds_by_mount)
        self.kinds = kinds_by_mount
        self.footage_mp4 = footage_mp4
        self.progress = progress
        self.work = Path(tempfile.mkdtemp(prefix="epatrol-bench-"))
        self.count = 0
        from epatrol.config import Violation

        self.violations = args.violations.split(",") if args.violations else sorted(v.value for v in Violation)  # the four built-ins
        try:  # seconds between samples of each violation: its default, or 1 / --rate for all
            self.intervals = violation_intervals(self.violations, args.rate)
        except (AttributeError, ValueError) as e:
            raise SystemExit(f"epatrol bench: unknown violations in {', '.join(self.violations)}: {e}") from None
        self.footage_kinds = list(dict.fromkeys(kinds_by_mount.values()))  # in the order of footage_mp4
        self.trial_s: list[float] = []  # durations, to plan what still fits the budget

    def spec(self, mode: str, n: int, **extra) -> dict:
        mounts = self.mounts[:n]
        fp = {"motion_gate": False, "zone_crops": False} if self.args.no_fast_path else {}
        return {
            "mode": mode,
            "urls": [self.servers[m].url(m) for m in mounts],
            "kinds": [self.kinds[m] for m in mounts],
            "rate": self.args.rate,
            "cores": os.cpu_count() or 1,
            "models_dir": str(self.args.shared / "models"),
            "detector": self.args.detector,
            "device": self.args.device,
            "workers": self.args.workers,
            "violations": self.violations,
            "fast_path": fp,
            "window_s": self.args.window_s,
            "warmup_s": self.args.warmup_s,
            "warmup_max_s": max(20.0, 1.0 * n),
            **extra,
        }

    def run(self, spec: dict, label: str) -> dict:
        """One trial in a child process; the progress bar moves while it runs."""
        self.count += 1
        d = self.work / f"{self.count:02d}-{spec['mode']}"
        d.mkdir()
        spec = dict(spec, storage=str(d / "data"))
        (d / "spec.json").write_text(json.dumps(spec))
        self.progress.label(label)
        started = time.monotonic()
        server_cpu0 = self.server_cpu_s()
        with open(d / "trial.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.trial", str(d / "spec.json"), str(d / "result.json")], cwd=REPO, stdout=log, stderr=log)
            while proc.poll() is None:
                time.sleep(0.5)
                self.progress.tick()
        took = time.monotonic() - started
        if spec["mode"] in ("pipeline", "baseline"):  # the bounds (the runtime measurement on a first run) say nothing of a search step
            self.trial_s.append(took)
        if proc.returncode != 0:
            tail = (d / "trial.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"trial {label} failed (exit {proc.returncode}); log {d / 'trial.log'}:\n{tail}")
        result = json.loads((d / "result.json").read_text())
        result["trial_s"] = round(took, 1)
        result["rtsp_server_cpu_percent"] = round(100 * (self.server_cpu_s() - server_cpu0) / took, 1)
        return result

    # -- sustained?

    def verdict(self, result: dict) -> list[str]:
        """Why this trial is not sustained (empty: sustained)."""
        a, why = self.args, []
        window = result["window_s"]
        for c in result["per_camera"]:
            cid = c["id"]
            # One sample of slack: a window holds one sample more or less depending on where it falls.
            # The pipeline samples at its fastest judge's rate, the baseline at its models' own rates.
            rate = c.get("expected_samples_per_s") or 1.0 / camera_every_s(paced(self.intervals))
            if c["samples_per_s"] * window < 0.9 * rate * window - 1:
                skipped = (c.get("media_s_per_s") or 1.0) > 1.05
                why.append(f"{cid}: {c['samples_per_s']} samples/s" + (f" (its camera skipped ahead: {c['media_s_per_s']} media s per s; RTSP server starved)" if skipped else ""))
            if c["packets_per_s"] < 0.95 * FPS:
                why.append(f"{cid}: stream behind ({c['packets_per_s']} frames/s)")
            if c["dropped_samples"]:
                why.append(f"{cid}: {c['dropped_samples']} dropped")
            if c["lag_p95_s"] is None or c["lag_p95_s"] > a.lag_bound_s:
                why.append(f"{cid}: lag p95 {c['lag_p95_s']} s")
            if c.get("evidence_lost"):
                why.append(f"{cid}: {c['evidence_lost']} evidence lost")
        return why

    def trial(self, mode: str, n: int) -> dict:
        result = self.run(self.spec(mode, n), f"{mode} N={n}")
        reasons = self.verdict(result)
        result["sustained"] = not reasons
        result["not_sustained_because"] = reasons[:6]
        self.progress.note(f"{mode} N={n}: {'sustained' if not reasons else 'NOT sustained (' + reasons[0] + ')'}")
        return result

    def search(self, mode: str, start: int, deadline: float) -> dict:
        """The largest N sustained: grow by half until a trial fails, then bisect; stops at the deadline."""
        trials: dict[int, dict] = {}
        best, worst = 0, self.args.max_cameras + 1  # largest sustained, smallest failed
        n = max(1, min(start, self.args.max_cameras))
        while True:
            trials[n] = self.trial(mode, n)
            if trials[n]["sustained"]:
                best = max(best, n)
            else:
                worst = min(worst, n)
            if worst - best <= 1:
                break
            if worst > self.args.max_cameras:
                nxt = min(self.args.max_cameras, max(n + 1, math.ceil(n * 1.5)))
            elif best == 0:
                nxt = max(1, min(n - 1, math.floor(n * 0.6)))
            else:
                nxt = (best + worst) // 2
            if nxt in trials or time.monotonic() + self.estimate(nxt) > deadline:
                break
            n = nxt
        return {"sustained_cameras": best, "first_failed": worst if worst <= self.args.max_cameras else None, "trials": [trials[k] for k in sorted(trials)]}

    def fixed(self, mode: str, counts: list[int]) -> dict:
        trials = [self.trial(mode, n) for n in counts]
        ok = [t["cameras"] for t in trials if t["sustained"]]
        bad = [t["cameras"] for t in trials if not t["sustained"]]
        return {"sustained_cameras": max(ok, default=0), "first_failed": min(bad, default=None), "trials": trials}

    def server_cpu_s(self) -> float:
        return sum(_safe_cpu(srv.pid) for srv in {id(v): v for v in self.servers.values()}.values())

    def estimate(self, n: int) -> float:
        base = max(self.trial_s[-3:], default=40.0)
        return base + 0.3 * n

    def bounds(self) -> dict:
        kinds = list(dict.fromkeys(self.kinds[m] for m in self.mounts))
        probe = min(len(self.mounts), 2 * len(kinds))  # two cameras of each kind
        every = camera_every_s(paced(self.intervals))
        decode = self.run(self.spec("decode", probe, decode_window_s=min(8.0, self.args.window_s), camera_every_s=every), "decode alone")
        inference = self.run(
            self.spec("inference", 0, footage_mp4=self.footage_mp4, footage_kinds=self.footage_kinds, model_names=self.model_names(),
                      model_every_s=model_intervals(paced(self.intervals), self.args.detector), inference_window_s=min(10.0, self.args.window_s), latency_runs=5),
            "inference alone",
        )
        dec = decode["modes"]["pipeline_sampler"]["bound_cameras"]
        inf = inference["bound_cameras"]
        # On CPU both compete for the same cores: their costs add up. On a GPU they overlap.
        combined_as = "shared cores: 1/(1/decode + 1/inference)" if inference["on_cpu"] else "min"
        return {"decode": decode, "inference": inference, "decode_bound_cameras": dec, "inference_bound_cameras": inf,
                "combined_bound_cameras": round(combine(dec, inf, combined_as), 1), "combined_as": combined_as}

    def model_names(self) -> list[str]:
        from benchmarks.pipeline_trial import pipeline_config
        from epatrol.config import parse_config
        from epatrol.judges import required_models

        try:
            cfg = parse_config(pipeline_config(dict(self.spec("pipeline", 1), storage=str(self.work / "probe"))))
            return sorted(required_models(cfg))
        except Exception as e:  # a judge that cannot be built here (a missing model or parameter file)
            raise SystemExit(f"epatrol bench: the violations {', '.join(self.violations)} cannot be set up: {e}; choose others with --violations") from None


def _safe_cpu(pid: int | None) -> float:
    try:
        return process_cpu_s(pid) if pid else 0.0
    except OSError:
        return 0.0


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> dict:
    from rtsp import RtspServer, rtsp_unavailable_reason

    reason = rtsp_unavailable_reason()
    if reason:
        raise SystemExit(f"epatrol bench: {reason}")
    only = set(args.only.split(","))
    if only - set(MODES):
        raise SystemExit(f"epatrol bench: --only takes {', '.join(MODES)}, got {args.only}")
    kinds = [k.strip() for k in args.footage.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in footage_mod.KINDS]
    if unknown or not kinds:
        raise SystemExit(f"epatrol bench: unknown footage {unknown or args.footage!r}; choose from {', '.join(footage_mod.KINDS)}")
    if args.rate is not None and args.rate <= 0:
        raise SystemExit(f"epatrol bench: --rate must be > 0 samples/s, got {args.rate:g}")
    counts = [int(x) for x in args.cameras.split(",")] if args.cameras else None
    if counts:  # no search: serve just the cameras asked for
        args.max_cameras = max(counts)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema set-up chatter of each probe database
    started = time.monotonic()
    deadline = started + args.budget_s
    progress = Progress(args.budget_s, enabled=not args.quiet)
    progress.label("building footage")
    units = {k: footage_mod.build(k, args.footage_cache, args.shared) for k in kinds}
    progress.tick()
    mounts = {f"/cam{i:02d}": kinds[i % len(kinds)] for i in range(args.max_cameras)}
    # Several servers started a moment apart: each server's cameras share one clock, so their
    # keyframes (and samples) are in phase; real cameras are not, so the phases are spread.
    groups = [list(mounts)[i :: args.servers] for i in range(args.servers) if list(mounts)[i :: args.servers]]
    servers: dict[str, RtspServer] = {}
    try:
        for i, group in enumerate(groups):
            if i:
                time.sleep(2.0 / len(groups))  # spread over one 2 s GOP
            srv = RtspServer({m: units[mounts[m]] for m in group}).start()
            servers.update({m: srv for m in group})
    except BaseException:
        for srv in set(servers.values()):
            srv.close()
        raise
    bench = Bench(args, servers, mounts, [str(units[k].with_suffix(".mp4")) for k in kinds], progress)
    report: dict = {
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "epatrol bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
        "machine": machine(),
        "settings": {
            # Each camera is sampled (and judged) at its fastest violation's rate.
            "samples_per_s_per_camera": round(1.0 / camera_every_s(paced(bench.intervals)), 3), "rate_forced": args.rate,
            "sample_every_s": bench.intervals, "window_s": args.window_s, "lag_bound_s": args.lag_bound_s, "footage": kinds,
            "violations": bench.violations, "detector": args.detector, "device": args.device, "fast_path": not args.no_fast_path,
            "footage_detail": {k: f"{w}x{h} H.264 25 fps, 2 s GOP" for k, (w, h) in footage_mod.KINDS.items() if k in kinds},
        },
    }
    try:
        if "bounds" in only:
            report["bounds"] = bench.bounds()
        bound = report.get("bounds", {}).get("combined_bound_cameras")
        if "pipeline" in only:
            left = deadline - time.monotonic()
            share = 0.6 if "baseline" in only else 1.0
            start = max(1, round(0.8 * bound)) if bound else 2
            report["pipeline"] = bench.fixed("pipeline", counts) if counts else bench.search("pipeline", start, time.monotonic() + share * left)
        if "baseline" in only:
            start = 2
            if "bounds" in report:
                every = report["bounds"]["decode"]["modes"]["every_frame"]["bound_cameras"] or 1
                start = max(1, round(0.8 / (1 / every + 1 / report["bounds"]["inference_bound_cameras"])))
            report["baseline"] = bench.fixed("baseline", counts) if counts else bench.search("baseline", start, deadline)
    finally:
        for srv in set(servers.values()):
            srv.close()
        progress.close()
    summarise(report)
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    shutil.rmtree(bench.work, ignore_errors=True)  # the trials' clips and databases (kept when a trial fails)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(report, indent=2))
    write_markdown(report, args.out / "bench.md")
    plot = write_plot(report, args.out / "bench.png")
    print((args.out / "bench.md").read_text())
    print(f"wrote {args.out / 'bench.json'}, {args.out / 'bench.md'}" + (f", {plot}" if plot else " (no plot: pip install -e .[bench] for matplotlib)"))
    return report


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
