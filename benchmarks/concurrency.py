"""Threads or processes for many cameras on one box? Runs K file cameras (real footage, the real
pipeline, 1 sample/s) both ways and reports wall time, CPU and resident memory.

    .venv/bin/python benchmarks/concurrency.py --cameras 4 --out concurrency.json

(a) one `epatrol run` with K cameras (threads, one shared onnxruntime session), one inference at
    a time on all cores; (b) the same with one single-threaded inference per core at a time;
(c) K `epatrol run` processes with one camera each, side by side."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sample_videos.build import build_all  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _config(path: Path, storage: Path, video: Path, ids: list[str], shared: Path, threads: int, workers: int = 1) -> Path:
    zone = {"name": "road", "polygon": [[0, 0.35], [1, 0.35], [1, 1], [0, 1]], "violations": ["parked_bikes"]}
    cfg = {
        "storage": {"root": str(storage)},
        "models": {"dir": str(shared / "models"), "threads": threads, "workers": workers},
        "cameras": [{"id": i, "name": i, "url": str(video), "zones": [zone]} for i in ids],
        "violations": {"parked_bikes": {"sample_every_s": 1.0}},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(configs: list[Path]) -> dict:
    """Start one process per config; poll RSS and CPU until all exit."""
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "epatrol", "run", "-c", str(c), "--stats", str(c.with_suffix(".json"))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in configs]
    peak_rss, cpu = 0.0, {p.pid: 0.0 for p in procs}
    while any(p.poll() is None for p in procs):
        rss = 0.0
        for p in procs:
            try:
                rss += int(open(f"/proc/{p.pid}/statm").read().split()[1]) * PAGE / 2**20
                f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
                cpu[p.pid] = (int(f[11]) + int(f[12])) / TICKS
            except (OSError, IndexError):
                pass
        peak_rss = max(peak_rss, rss)
        time.sleep(0.2)
    wall = time.monotonic() - start
    samples = sum(sum(c["samples"] for c in json.loads(cfg.with_suffix(".json").read_text()).values()) for cfg in configs)
    return {"wall_s": round(wall, 1), "cpu_s": round(sum(cpu.values()), 1), "peak_rss_mb": round(peak_rss),
            "samples": samples, "samples_per_s": round(samples / wall, 2), "exit_codes": [p.returncode for p in procs]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=Path("concurrency.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="epatrol-conc-"))
    video = build_all(work / "footage", args.shared)["campus_walkers.mp4"]
    ids = [f"cam-{i}" for i in range(args.cameras)]
    cores = os.cpu_count() or 1
    report = {
        "cameras": args.cameras,
        "cpu_count": cores,
        # one session, one inference at a time using every core (intra-op parallelism)
        "threads_intra_op": _run([_config(work / "t1.yaml", work / "t1", video, ids, args.shared, threads=cores)]),
        # one session, one inference per core at a time (inter-request parallelism)
        "threads_per_core": _run([_config(work / "t2.yaml", work / "t2", video, ids, args.shared, threads=1, workers=cores)]),
        # one process per camera, one thread each
        "processes": _run([_config(work / f"p{i}.yaml", work / f"p{i}", video, [i], args.shared, threads=1) for i in ids]),
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
