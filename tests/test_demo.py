"""`epatrol demo` as a newcomer runs it, from the repo: footage built from ../shared, one file camera
per violation through the real models, the evidence in its SQLite database, then the review page
served with a demo officer. One run does both (the demo takes about a minute on 2 cores); its
footage goes to the session's footage folder, where the vending and patrol tests find the same files."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from rtsp import footage_dir
from servers import free_port, wait_listening
from waiting import wait_for

from epatrol.common.hashing import sha256_file
from epatrol.config import load_config
from epatrol.evidence.export.verify import verify_files
from epatrol.evidence.store.db import Database
from epatrol.judges import build_judges, models_for

REPO = Path(__file__).resolve().parents[1]
FOUR = {"street_vending", "parked_bikes", "overflowing_bins", "open_burning"}
SIGN_IN = re.compile(r"review page: (http://127\.0\.0\.1:\d+)/\s+sign in as (\S+) with password (\S+)")


def start_demo(shared: Path, storage: Path, footage: Path, *options: str) -> tuple[subprocess.Popen, list[str], threading.Thread]:
    """`epatrol demo` as a subprocess; its output lines collect in the list as they come."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "epatrol", "demo", "--shared", str(shared), "--storage", str(storage), "--footage", str(footage), *options],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    return proc, lines, reader


def test_demo_records_all_four_violations_then_serves_them_to_its_officer(tmp_path, tmp_path_factory, shared_dir):
    storage, port = tmp_path / "demo", free_port()
    proc, lines, reader = start_demo(shared_dir, storage, footage_dir(tmp_path_factory), "--serve", "--port", str(port))

    def signed_in_line():
        found = next((m for m in map(SIGN_IN.search, lines) if m), None)
        if found is None and proc.poll() is not None:
            reader.join(5)
            raise AssertionError(f"epatrol demo exited with {proc.returncode} before serving:\n{''.join(lines[-40:])}")
        return found

    def stacks(why: str) -> str:
        """`why`, then the demo's last output with every thread's stack (SIGUSR1): where it is stuck."""
        proc.send_signal(signal.SIGUSR1)
        time.sleep(3)
        return f"{why}; its last output, then its threads' stacks:\n{''.join(lines[-120:])}"

    try:
        try:
            found = wait_for(signed_in_line, 420, "the demo's sign-in line", every_s=0.5)
        except AssertionError as e:
            if proc.poll() is None:
                raise AssertionError(stacks(str(e))) from None
            raise
        base, username, password = found.groups()
        assert base == f"http://127.0.0.1:{port}"
        out = "".join(lines)
        assert "demo 1/3" in out and "demo 2/3" in out and "demo 3/3" in out  # progress is printed

        # The evidence: one event per violation on its camera, none on the hard negative, every
        # clip and snapshot on disk hashing to what its row recorded.
        cfg = load_config(storage / "demo-config.yaml")
        for camera in cfg.cameras:  # the models loaded before the cameras start are those their judges run
            assert models_for(camera, cfg) == {j.model for j in build_judges(camera, cfg)}, camera.id
        with Database(cfg.database_url) as db:
            events = db.list_events()
            assert verify_files(db, storage) == []
        assert {e.violation for e in events} == FOUR, [(e.camera_id, e.violation) for e in events]
        assert not [e for e in events if e.camera_id == "campus-road-1"]
        for ev in events:
            assert ev.clip_state == "complete" and ev.clip and ev.snapshot, ev
            assert sha256_file(storage / ev.clip) == ev.clip_sha256
            assert sha256_file(storage / ev.snapshot) == ev.snapshot_sha256

        # The review page over that database (`epatrol serve`'s code), signed in as printed.
        wait_listening(proc, port, 60, "epatrol demo --serve", lambda: "".join(lines[-40:]))
        with httpx.Client(base_url=base, timeout=30) as http:
            assert "epatrol" in http.get("/").text
            login = http.post("/api/auth/login", json={"username": username, "password": password})
            assert login.status_code == 200, login.text
            http.headers["Authorization"] = f"Bearer {login.json()['token']}"
            listed = http.get("/api/events").json()
            assert listed["total"] == len(events)
            assert {e["violation"] for e in listed["items"]} == FOUR
            snap = next(e for e in listed["items"] if e["violation"] == "street_vending")
            assert hashlib.sha256(http.get(snap["snapshot_url"]).content).hexdigest() == snap["snapshot_sha256"]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C, as the demo says
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                report = stacks("epatrol demo did not stop within 60 s of Ctrl-C")
                proc.kill()
                raise AssertionError(report) from None
    assert proc.returncode == 0, "".join(lines[-40:])


def test_ctrl_c_stops_the_demo_with_its_clips_closed(tmp_path, tmp_path_factory, shared_dir):
    """Ctrl-C while the cameras play: the clips in progress are closed and hash as recorded, the
    demo says it was stopped (exit 130), and no traceback is printed."""
    storage = tmp_path / "demo"
    proc, lines, reader = start_demo(shared_dir, storage, footage_dir(tmp_path_factory), "--no-serve")
    try:
        wait_for(lambda: any(re.search(r"event \d+: \w+ in zone", line) for line in lines) or proc.poll() is not None, 300, "the demo's first event")
        assert proc.poll() is None, "".join(lines[-40:])
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, "".join(lines[-40:])
    finally:
        proc.kill()
    reader.join(5)
    out = "".join(lines)
    assert "epatrol demo: stopped by Ctrl-C" in out and "Traceback" not in out, out[-3000:]
    cfg = load_config(storage / "demo-config.yaml")
    with Database(cfg.database_url) as db:
        events = db.list_events()
        assert events and all(e.clip_state == "complete" for e in events), [(e.id, e.clip_state) for e in events]
        assert verify_files(db, storage) == []
