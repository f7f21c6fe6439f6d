"""Soak run (not in CI): N live RTSP cameras through a real `epatrol run` process for a long time,
with the camera server killed and restarted now and then. Reports memory growth, CPU, reconnects,
time from camera recovery to the first new sample, and events.

    .venv/bin/python benchmarks/soak.py --cameras 4 --minutes 60 --out soak.json

Needs the GStreamer RTSP server of the tests (Debian python3-gi, gir1.2-gst-rtsp-server-1.0)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402
from rtsp import RtspServer, free_port  # noqa: E402

from sample_videos.build import build_all  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _health(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        return json.loads(r.read())["health"]


def _config(workdir: Path, urls: list[str], shared: Path, idle: bool) -> Path:
    zone = {"name": "wall-footway", "polygon": [[0.3, 0.45], [1, 0.45], [1, 1], [0.3, 1]], "violations": ["parked_bikes"]}
    cfg = {
        "storage": {"root": str(workdir / "data")},
        "models": {"dir": str(shared / "models"), "threads": 2},
        "cameras": [
            {"id": f"soak-{i}", "name": f"soak {i}", "url": u, "site": "other", "zones": [zone]} for i, u in enumerate(urls)
        ],
        "violations": {"parked_bikes": {"dwell_s": 60, "sample_every_s": 1.0, "end_after_s": 30}},
        "evidence": {"pre_s": 5, "post_s": 5},
    }
    if idle:  # stream and buffer, but analyse one frame a minute: the cost of a quiet camera
        cfg["violations"]["parked_bikes"]["sample_every_s"] = 60.0
    path = workdir / "soak.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--outage-every-min", type=float, default=10, help="kill the RTSP server this often (0: never)")
    ap.add_argument("--outage-s", type=float, default=20)
    ap.add_argument("--idle", action="store_true", help="sample once a minute (measures an idle camera)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=Path("soak.json"))
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="epatrol-soak-"))
    footage = build_all(workdir / "footage", args.shared)
    mounts = {f"/cam{i}": footage["parked_bike.mp4"] for i in range(args.cameras)}
    server = RtspServer(mounts).start()
    api_port = free_port()
    config = _config(workdir, [server.url(m) for m in mounts], args.shared, args.idle)
    log = open(workdir / "epatrol.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "epatrol", "--log-format", "json", "run", "-c", str(config), "--serve", f"127.0.0.1:{api_port}"],
        stdout=log, stderr=log,
    )
    samples: list[dict] = []
    recoveries: list[float] = []
    start = time.monotonic()
    next_outage = args.outage_every_min * 60 if args.outage_every_min else float("inf")
    try:
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(10)
            t = time.monotonic() - start
            try:
                cams = _health(api_port)
            except OSError:
                continue
            samples.append({"t_s": round(t), "rss_mb": round(_rss_mb(proc.pid), 1), "cpu_s": round(_cpu_s(proc.pid), 1),
                            "samples": sum(c["samples"] for c in cams), "reconnects": sum(c["reconnects"] for c in cams),
                            "online": sum(c["online"] for c in cams)})
            print(json.dumps(samples[-1]), flush=True)
            if t >= next_outage:
                next_outage += args.outage_every_min * 60
                server.kill()
                time.sleep(args.outage_s)
                before = {c["camera_id"]: c["samples"] for c in _health(api_port)}
                server.start()
                back = time.monotonic()
                pending = set(before)
                while pending and time.monotonic() - back < 120:
                    for c in _health(api_port):
                        if c["camera_id"] in pending and c["samples"] > before[c["camera_id"]]:
                            recoveries.append(time.monotonic() - back)
                            pending.discard(c["camera_id"])
                    time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        server.close()
    first = next((s for s in samples if s["t_s"] >= 60), samples[0])  # after warm-up
    last = samples[-1]
    hours = max(1e-9, (last["t_s"] - first["t_s"]) / 3600)
    report = {
        "cameras": args.cameras,
        "minutes": args.minutes,
        "idle": args.idle,
        "exit_code": code,
        "rss_mb_start": first["rss_mb"],
        "rss_mb_end": last["rss_mb"],
        "rss_growth_mb_per_hour": round((last["rss_mb"] - first["rss_mb"]) / hours, 1),
        "cpu_percent_of_one_core": round(100 * (last["cpu_s"] - first["cpu_s"]) / (last["t_s"] - first["t_s"]), 1),
        "reconnects": last["reconnects"],
        "recovery_to_first_sample_s": sorted(round(r, 1) for r in recoveries),
        "samples": last["samples"],
        "events": int(subprocess.run([sys.executable, "-m", "epatrol", "events", "-c", str(config), "--json"],
                                     capture_output=True, text=True).stdout.count("\n")),
        "timeline": samples,
        "workdir": str(workdir),
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "timeline"}, indent=2))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
