"""`epatrol demo`: build the sample footage from ../shared/media, run the sample configuration on it
with the default models and an embedded SQLite database, and print where the evidence went."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
import threading
from pathlib import Path

import yaml

import epatrol
from epatrol.config import parse_config

REPO = Path(epatrol.__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"
MARKER = ".epatrol-demo"


def run_demo(shared: Path | None, storage: Path, log_level: str = "info") -> int:
    from epatrol.judges import required_models
    from epatrol.migrations import open_database
    from epatrol.models.detector import load_detectors
    from epatrol.supervisor import run_cameras

    if not (SAMPLES / "build.py").is_file():
        print("epatrol demo needs a source checkout (sample_videos/build.py not found)", file=sys.stderr)
        return 2
    shared = (shared or REPO.parent / "shared").resolve()
    builder = runpy.run_path(str(SAMPLES / "build.py"))
    builder["build_all"](SAMPLES, shared)

    storage = storage.resolve()
    if storage.exists() and any(storage.iterdir()) and not (storage / MARKER).exists():
        print(f"{storage} is not empty and not a demo folder: choose another --storage", file=sys.stderr)
        return 2
    shutil.rmtree(storage, ignore_errors=True)  # a demo starts from nothing each time
    storage.mkdir(parents=True)
    (storage / MARKER).write_text("created by epatrol demo; deleted by the next demo run\n")

    raw = yaml.safe_load((SAMPLES / "demo.yaml").read_text(encoding="utf-8"))
    raw["storage"] = {"root": str(storage)}
    raw["models"]["dir"] = str(shared / "models")
    cfg = parse_config(raw, str(SAMPLES / "demo.yaml"), base=SAMPLES)

    effective = storage / "demo-config.yaml"
    effective.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8")

    detectors = load_detectors(required_models(cfg), cfg.models)
    db = open_database(cfg.database_url)
    used = ", ".join(f"{d.name} on {d.runs_on}" for d in detectors.values())
    print(f"demo: {len(cfg.cameras)} file cameras, detectors: {used}", flush=True)
    workers = run_cameras(cfg, detectors, db, threading.Event())

    from epatrol.evidence.store.records import event_record

    events = db.list_events()
    print(f"\n{len(events)} event(s) in {cfg.database_url}")
    for ev in events:
        print(json.dumps(event_record(ev, cfg.storage.root), ensure_ascii=False))
    for w in workers:
        print(f"camera {w.camera.id}: {w.stats.samples} samples, {w.stats.events} events; {w.stats.times.summary()}")
    print(f"\nevidence under {storage}; the configuration used: {effective}")
    print(f"list again: epatrol events -c {effective} --json    check hashes: epatrol verify -c {effective}")
    return 0
