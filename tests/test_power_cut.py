"""Evidence through a power cut (issue 15). Clips are fragmented mp4 whose fragments are flushed
and fsync'd as they are written, so a clip cut off by `kill -9` or a power failure plays up to
the cut. At the next start recovery registers it in clip state `partial`, hashed and in the
ledger, and `epatrol verify` accounts for it.

The process test kills a real `epatrol run` (a real RTSP camera, real footage) with SIGKILL while
an event's clip is being recorded, then starts it again. The recovery test drives recover() over
real clips left in each state a stop can leave them in."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pytest
import yaml
from api_client import sign_in
from conftest import BIKE_ZONE, camera_entry, make_config
from fastapi.testclient import TestClient
from rtsp import RtspServer, rtsp_unavailable_reason
from sqlalchemy import select
from waiting import wait_for

from epatrol.api.app import create_app
from epatrol.common.hashing import sha256_file
from epatrol.config import parse_config
from epatrol.evidence.export.verify import partial_clips, verify_files, verify_ledger
from epatrol.evidence.recording.clip import ClipWriter, probe_clip
from epatrol.evidence.recording.paths import clip_rel_path
from epatrol.evidence.recording.recovery import INTERRUPTED, recover
from epatrol.evidence.review import users
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import LedgerEntry
from epatrol.migrations import open_database
from epatrol.streams.packets import EncodedPacket, StreamInfo

PRE_S = 2
FPS = 25  # the footage's rate (tests/rtsp.py builds it at 25 fps, 2 s GOP)
needs_rtsp = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


def _start(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "epatrol", "run", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
    )


def _verify(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epatrol", "verify", "-c", str(config)], capture_output=True, text=True, timeout=120)


def _decode(path: Path) -> tuple[int, float]:
    """Frames PyAV decodes from the clip, and the media seconds they cover."""
    times = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            times.append(frame.time)
    return len(times), (max(times) - min(times) + 1 / FPS) if times else 0.0


@needs_rtsp
def test_kill_9_mid_clip_leaves_a_partial_clip_that_plays(footage, tmp_path):
    with RtspServer({"/cam": footage["parked_bike.mp4"]}) as server:
        storage = tmp_path / "data"
        raw = make_config(
            storage,
            [camera_entry("live-1", server.url("/cam"), BIKE_ZONE)],
            violations={"parked_bikes": {"dwell_s": 4, "sample_every_s": 1.0, "end_after_s": 30}},
            evidence={"pre_s": PRE_S, "post_s": 60},  # the clip is still recording when the power goes
        )
        config = tmp_path / "epatrol.yaml"
        config.write_text(yaml.safe_dump(raw, allow_unicode=True))
        log = tmp_path / "run.log"
        proc = _start(config, log)
        try:
            db = open_database(f"sqlite:///{storage / 'epatrol.db'}")
            ev = wait_for(lambda: next((e for e in db.list_events() if e.clip_state == "recording"), None), 90,
                          "an event with its clip recording")
            part = wait_for(lambda: next(iter(storage.glob("clips/**/*.part")), None), 30, "the clip's .part file")
            started = time.monotonic()
            sizes = {part.stat().st_size}
            while time.monotonic() - started < 6:  # the fragments reach the file while it records
                sizes.add(part.stat().st_size)
                time.sleep(0.1)
            live_s = time.monotonic() - started
        finally:
            proc.kill()  # SIGKILL: no handler runs, the muxer never writes its trailer
            proc.wait()
        assert len(sizes) >= 4, f"the .part grew only {len(sizes) - 1} time(s) in {live_s:.1f} s: fragments are not flushed"
        cut_sha = sha256_file(part)  # what the cut left on disk, byte for byte
        killed = db.get_event(ev.id)
        assert killed.clip is None and killed.clip_state == "recording"  # nothing half-written registered
        verify = _verify(config)  # every registered file is intact; the .part is not registered yet
        assert verify.returncode == 0, verify.stdout + verify.stderr

        restart = _start(config, log)
        try:
            wait_for(lambda: "recovered partial clip" in log.read_text(), 60, "the recovery log line")
            restart.send_signal(signal.SIGTERM)
            assert restart.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            restart.kill()

    got = db.get_event(ev.id)
    assert got.clip_state == "partial" and got.ended_at is not None and got.end_reason == INTERRUPTED
    clip = storage / got.clip
    assert not part.exists() and clip == part.with_name(part.name.removesuffix(".part"))
    assert got.clip_sha256 == sha256_file(clip) == cut_sha  # registered exactly as the cut left it
    frames, seconds = _decode(clip)
    # The pre-roll and what was recorded live, less at most the fragment in progress (1 s) and some lag.
    assert seconds >= PRE_S + live_s - 2.5, (seconds, live_s)
    assert frames >= FPS * (PRE_S + live_s - 2.5), (frames, live_s)
    assert got.details["partial_clip"]["frames"] == frames
    print(f"\npartial clip: {frames} frames, {seconds:.1f} s (killed {live_s:.1f} s after the clip started)")

    with db.read_session() as s:
        kinds = [e.kind for e in s.scalars(select(LedgerEntry).where(LedgerEntry.event_id == ev.id).order_by(LedgerEntry.seq))]
    assert kinds[-3:] == ["file.add", "event.clip_state", "event.close"]  # the repair is in the hash chain
    verify = _verify(config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "partial clip(s)" in verify.stdout and str(ev.id) in verify.stdout


# -- recover() over each state a stop can leave a clip in --------------------------------------


@contextmanager
def _camera(path: Path):
    """The footage demuxed as streams/ delivers it; the source stays open for the StreamInfo's template."""
    c = av.open(str(path))
    try:
        s = c.streams.video[0]
        info = StreamInfo(camera_id="cam-1", codec=s.codec_context.name, width=s.width, height=s.height,
                          fps=float(s.average_rate), time_base=s.time_base, template=s)
        t0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
        packets = []
        for p in c.demux(s):
            if p.size:
                t = float(p.pts * p.time_base)
                packets.append(EncodedPacket(bytes(p), p.pts, p.dts, p.is_keyframe, t, t0 + timedelta(seconds=t)))
        yield info, packets
    finally:
        c.close()


def _event(db: Database, alert: datetime) -> tuple[int, str]:
    eid = db.open_event("cam-1", "wall-footway", "parked_bikes", alert - timedelta(seconds=20), alert, "yolov8n_int8",
                        "a" * 64, [], {"dwell_s": 20})
    return eid, clip_rel_path("cam-1", eid, "parked_bikes", alert)


def test_recovery_keeps_what_plays_and_drops_what_does_not(footage, tmp_path):
    root = tmp_path / "storage"
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    db.upsert_camera("cam-1", "wall", "business", "rtsp://10.0.0.5/1")
    alert = datetime(2026, 3, 1, 8, 0, 2, tzinfo=timezone.utc)
    (cut, cut_rel), (torn, torn_rel), (header, header_rel), (renamed, renamed_rel), (closed, closed_rel), (done, done_rel) = (
        _event(db, alert) for _ in range(6))
    with _camera(footage["parked_bike.mp4"]) as (info, packets):
        def record(rel: str, n: int, close: bool) -> Path:
            w = ClipWriter(root / rel, info, packets[:10])
            for p in packets[10:n]:
                w.add(p)
            if close:
                return w.close().path
            data = w.part_path.read_bytes()  # what a kill leaves: the muxer never finishes the file
            w.abort()
            w.part_path.write_bytes(data)
            return w.part_path

        cut_part = record(cut_rel, 120, close=False)  # 4.8 s recorded, the last fragment still in memory
        torn_part = record(torn_rel, 120, close=False)
        torn_part.write_bytes(torn_part.read_bytes()[:-3000])  # the power went mid-write: a torn fragment
        header_part = record(header_rel, 120, close=False)
        header_part.write_bytes(header_part.read_bytes()[:600])  # nothing but the start of the index
        renamed_clip = record(renamed_rel, 60, close=True)  # closed and renamed, not yet in the database
        closed_clip = record(closed_rel, 60, close=True)  # closed, not yet renamed
        closed_part = closed_clip.with_name(closed_clip.name + ".part")
        closed_clip.rename(closed_part)
        done_clip = record(done_rel, 60, close=True)  # registered, not yet marked complete
        db.add_file(done, "clip", done_rel, sha256_file(done_clip), done_clip.stat().st_size, alert)
    stray = root / "clips" / "cam-1" / "2026-03-01" / "999-parked_bikes.mp4.part"  # no event of ours
    stray.write_bytes(cut_part.read_bytes())
    sha = {p: sha256_file(p) for p in (cut_part, torn_part, renamed_clip, closed_part)}

    report = recover(db, root)

    assert sorted(report.partial_clips) == [cut, torn]
    assert sorted(report.completed_clips) == [renamed, closed, done]
    assert report.failed_clips == [header]
    assert sorted(report.discarded_parts) == sorted([header_part, stray])
    assert sorted(report.closed_events) == [cut, torn, header, renamed, closed, done]
    assert not list(root.glob("clips/**/*.part"))
    for eid, was in ((cut, cut_part), (torn, torn_part), (renamed, renamed_clip), (closed, closed_part)):
        ev = db.get_event(eid)
        final = root / ev.clip
        assert final == was.with_name(was.name.removesuffix(".part"))
        assert ev.clip_sha256 == sha256_file(final) == sha[was]  # hashed as found, never rewritten
    assert [db.get_event(e).clip_state for e in (cut, torn, header, renamed, closed, done)] == [
        "partial", "partial", "failed", "complete", "complete", "complete"]
    # The cut clip holds everything up to its last flushed fragment (fragments are at most 1 s).
    cut_probe = probe_clip(root / db.get_event(cut).clip)
    assert cut_probe.frames >= 95 and not cut_probe.finished and cut_probe.start_utc == packets[0].utc
    assert db.get_event(cut).details["partial_clip"]["frames"] == cut_probe.frames == _decode(root / db.get_event(cut).clip)[0]
    assert probe_clip(root / db.get_event(torn).clip).frames >= 70
    assert db.get_event(header).clip is None
    files = {f.event_id: f for f in _files(db)}
    assert files[cut].media_start_utc == packets[0].utc  # the clip's own record of its first packet
    assert abs((files[cut].media_end_utc - files[cut].media_start_utc).total_seconds() - cut_probe.seconds) < 1e-3
    assert verify_files(db, root) == [] and verify_ledger(db).problems == []
    assert partial_clips(db) == [cut, torn]
    assert recover(db, root).partial_clips == []  # a second start finds nothing to do

    # The review API lists the partial clip as such and serves it like any clip.
    users.create_user(db, "cut-viewer", "partial-clip-pass-1", "viewer")
    cfg = parse_config({"storage": {"root": str(root)}, "cameras": [{"id": "cam-1", "name": "wall", "url": "x.mp4"}]}, base=tmp_path)
    api = sign_in(TestClient(create_app(cfg, db)), "cut-viewer", "partial-clip-pass-1")
    listed = api.get(f"/api/events/{cut}")
    assert listed.status_code == 200 and listed.json()["clip_state"] == "partial", listed.text
    assert listed.json()["details"]["partial_clip"]["frames"] == cut_probe.frames
    served = api.get(f"/api/events/{cut}/clip")
    assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
    assert served.content == (root / db.get_event(cut).clip).read_bytes()

    # A partial clip is evidence like any other: one flipped bit and `verify` names it.
    clip = root / db.get_event(cut).clip
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 1
    clip.write_bytes(bytes(data))
    assert [(p.event_id, p.kind, p.reason) for p in verify_files(db, root)] == [(cut, "clip", "changed")]
    db.close()


def _files(db: Database):
    from epatrol.evidence.store.schema import EvidenceFile

    with db.read_session() as s:
        return list(s.scalars(select(EvidenceFile)))
