"""`epatrol demo`: build the sample footage from ../shared (sample_videos/demo_footage.py), run the
sample configuration (sample_videos/demo.yaml: one file camera per violation) on it with the
default models and an embedded SQLite database, and print what each violation recorded. cli.py
then serves the review page over that database (`epatrol serve`'s code) with a demo officer."""

from __future__ import annotations

import gc
import runpy
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

import epatrol
from epatrol.config import Config, parse_config

REPO = Path(epatrol.__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"
MARKER = ".epatrol-demo"
CONFIG_NAME = "demo-config.yaml"
DEMO_OFFICER = "demo-officer"
VIOLATIONS = ("street_vending", "parked_bikes", "overflowing_bins", "open_burning")


def demo_config(storage: Path) -> Path:
    """The configuration a demo run wrote into its storage folder (for `events`, `verify`, `serve`)."""
    return storage.resolve() / CONFIG_NAME


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served on, or None: checked before the demo's minute of work."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            return f"cannot serve on {host}:{port} ({e.strerror}): choose another --port"
    return None


def _clean_storage(storage: Path) -> str | None:
    if storage.exists() and any(storage.iterdir()) and not (storage / MARKER).exists():
        return f"{storage} is not empty and not a demo folder: choose another --storage"
    shutil.rmtree(storage, ignore_errors=True)  # a demo starts from nothing each time
    storage.mkdir(parents=True)
    (storage / MARKER).write_text("created by epatrol demo; deleted by the next demo run\n")
    return None


def _config(shared: Path, storage: Path, footage: Path) -> Config:
    raw = yaml.safe_load((SAMPLES / "demo.yaml").read_text(encoding="utf-8"))
    raw["storage"] = {"root": str(storage)}
    raw["models"]["dir"] = str(shared / "models")
    for camera in raw["cameras"]:
        camera["url"] = str(footage / camera["url"])
    return parse_config(raw, str(SAMPLES / "demo.yaml"), base=SAMPLES)


def run_demo(shared: Path | None, storage: Path, footage: Path | None = None, log_level: str = "info") -> int:
    """0 when every violation recorded an event; 1 naming those that did not; 2 on bad input; 130
    when Ctrl-C stopped it (its clips closed first)."""
    from epatrol.judges import required_models
    from epatrol.migrations import open_database
    from epatrol.models.detector import load_detectors
    from epatrol.supervisor import run_cameras

    if not (SAMPLES / "demo_footage.py").is_file():
        print(f"epatrol demo needs a source checkout ({SAMPLES / 'demo_footage.py'} not found)", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    shared = (shared or REPO.parent / "shared").resolve()
    footage = (footage or SAMPLES).resolve()
    print(f"demo 1/3: footage from {shared} in {footage}", flush=True)
    builder = runpy.run_path(str(SAMPLES / "demo_footage.py"))
    try:
        builder["build_demo_footage"](footage, shared, log=lambda line: print(f"  {line}", flush=True))
    except FileNotFoundError as e:  # a missing media file or data set, named
        print(f"epatrol demo: {e}", file=sys.stderr)
        return 2

    storage = storage.resolve()
    if problem := _clean_storage(storage):
        print(problem, file=sys.stderr)
        return 2
    cfg = _config(shared, storage, footage)
    effective = demo_config(storage)
    effective.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True, sort_keys=False), encoding="utf-8")

    detectors = load_detectors(required_models(cfg), cfg.models)
    db = open_database(cfg.database_url)
    used = ", ".join(f"{d.name} on {d.runs_on}" for d in detectors.values())
    print(f"demo 2/3: {len(cfg.cameras)} file cameras played as fast as they decode (under a minute on 2 cores); "
          f"detectors: {used}", flush=True)
    stop = threading.Event()
    with _ctrl_c_sets(stop):  # Ctrl-C: the clips in progress are closed, then the demo stops
        workers = run_cameras(cfg, detectors, db, stop)
    if stop.is_set():
        db.close()
        print(f"\nepatrol demo: stopped by Ctrl-C; what was recorded so far is under {storage}", file=sys.stderr)
        return 130
    for w in workers:
        print(f"  camera {w.camera.id}: {w.stats.samples} samples, {w.stats.events} events; {w.stats.times.summary()}")

    events = db.list_events()
    db.close()
    # The models' native sessions (OpenVINO, onnxruntime) are let go now, while the interpreter is
    # whole: left to reference cycles they were collected at exit, after serving, and the process
    # could die there with SIGSEGV instead of exiting 0 on Ctrl-C (seen in CI).
    del workers, detectors
    gc.collect()
    print(f"\ndemo 3/3: {len(events)} event(s) in {cfg.database_url} after {time.monotonic() - t0:.0f} s")
    for violation in VIOLATIONS:
        for ev in (e for e in reversed(events) if e.violation == violation):
            print(f"  #{ev.id} {violation:<16} {ev.camera_id} / {ev.zone}: clip {ev.clip or '-'} ({ev.clip_state}), snapshot {ev.snapshot or '-'}")
    print(f"\nevidence under {storage}; the configuration used: {effective}")
    print(f"full records: epatrol events -c {effective} --json    check hashes: epatrol verify -c {effective}")
    missing = [v for v in VIOLATIONS if not any(e.violation == v for e in events)]
    if missing:
        print(f"epatrol demo: no event for {', '.join(missing)}: the demo footage should show every violation", file=sys.stderr)
        return 1
    return 0


@contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread takes signals
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def create_demo_officer(cfg: Config) -> tuple[str, str]:
    """A fresh officer account (a random password) in the demo's database: (username, password)."""
    from epatrol.evidence.review.users import create_user
    from epatrol.migrations import open_database

    password = secrets.token_urlsafe(12)
    with open_database(cfg.database_url) as db:
        create_user(db, DEMO_OFFICER, password, "officer")
    return DEMO_OFFICER, password
