"""Edge -> centre store-and-forward on a real nats-server (JetStream) and a real PostgreSQL.

Two edge boxes start from the real pipeline's evidence (the `patrol` fixture: the parked bike
on real footage, its clip and snapshot), each under its own box id, and add more events with
real clip bytes while the link is cut. The centre ingests with the real consumer, in-process
or as an `epatrol centre` subprocess that is SIGKILLed mid-ingest.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import nats
import pytest
import yaml
from nats_server import NatsServer, nats_binary
from sqlalchemy import func, select
from waiting import wait_for

from epatrol.centre.config import CentreConfig
from epatrol.centre.ingest import CentreIngest
from epatrol.centre.records import (
    CentreCamera,
    CentreEvent,
    CentreEvidence,
    CentreInspection,
    request_inspection,
)
from epatrol.centre.store import CentreStore
from epatrol.common import messages as m
from epatrol.common.hashing import sha256_file
from epatrol.common.times import utcnow
from epatrol.config import Uplink
from epatrol.evidence.recording.paths import clip_rel_path, resolve, snapshot_rel_path
from epatrol.evidence.review.decisions import decide
from epatrol.migrations import open_centre_store, open_database
from epatrol.uplink import outbox
from epatrol.uplink.inspect import ZoneInspector
from epatrol.uplink.sender import UplinkSender

pytestmark = pytest.mark.skipif(nats_binary() is None, reason="nats-server not installed (Debian package nats-server)")

REPO = Path(__file__).resolve().parents[1]
CAMERA = "wall-street-1"
LOCATIONS = {CAMERA: {"street": "解放路街道", "grid": "网格-07"}}


# -- the parts -----------------------------------------------------------------------------


class Box:
    """An edge box: a copy of the real patrol's evidence (database + files) under its own id."""

    def __init__(self, box_id: str, patrol, workdir: Path, nats_url: str, inspector=None) -> None:
        self.id, self.root = box_id, workdir / box_id
        src = Path(patrol.cfg.storage.root)
        self.root.mkdir(parents=True)
        for top in ("clips", "snapshots"):
            shutil.copytree(src / top, self.root / top)
        with sqlite3.connect(src / "epatrol.db") as a, sqlite3.connect(self.root / "epatrol.db") as b:
            a.backup(b)  # a consistent copy of a WAL database
        self.db = open_database(f"sqlite:///{self.root / 'epatrol.db'}")
        cfg = Uplink(box_id=box_id, servers=[nats_url], locations=LOCATIONS, poll_s=0.2, retry_initial_s=0.2, retry_max_s=1.0)
        self.sender = UplinkSender(cfg, self.db, self.root, inspector)
        self.real = [e.id for e in self.db.list_events()]

    def add_event(self, clip_src: Path, snap_src: Path) -> int:
        """A violation recorded while the box runs: same shape as the recorder's, real media bytes."""
        now = utcnow()
        eid = self.db.open_event(CAMERA, "wall-footway", "parked_bikes", now - timedelta(seconds=30), now,
                                 "yolov8n_int8", "0" * 64, [{"label": "bicycle", "conf": 0.8}], {"parked": 1})
        for kind, src, rel in (("snapshot", snap_src, snapshot_rel_path(CAMERA, eid, "parked_bikes", now)),
                               ("clip", clip_src, clip_rel_path(CAMERA, eid, "parked_bikes", now))):
            dst = resolve(self.root, rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            # Each event's clip differs from the others (as real clips do): the event id appended.
            dst.write_bytes(src.read_bytes() + f"event {self.id}/{eid}".encode())
            self.db.add_file(eid, kind, rel, sha256_file(dst), dst.stat().st_size, now)
        self.db.close_event(eid, now, "zone clear")
        return eid

    def files(self) -> dict[tuple[int, str], str]:
        return {(f.event_id, f.kind): f.sha256 for f in self.db.all_files()}

    def close(self) -> None:
        self.sender.stop(drain_s=0)
        self.db.close()


def media_of(patrol) -> tuple[Path, Path]:
    ev = next(e for e in patrol.db.list_events() if e.clip)
    root = Path(patrol.cfg.storage.root)
    return resolve(root, ev.clip), resolve(root, ev.snapshot)


def centre_cfg(database_url: str, nats_url: str, **nats_opts) -> CentreConfig:
    return CentreConfig(database_url=database_url, nats={"servers": [nats_url], "batch": 8, "ack_wait_s": 2, **nats_opts})


class CentreThread:
    def __init__(self, cfg: CentreConfig, store: CentreStore) -> None:
        self.ingest = CentreIngest(cfg, store)
        self.thread = threading.Thread(target=self.ingest.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.ingest.stop()
        self.thread.join(30)


def centre_rows(store: CentreStore) -> tuple[dict, dict]:
    """(box, edge event) -> event row facts; (box, edge event, kind) -> (sha256, state)."""
    with store.read() as s:
        events = {(e.box_id, e.edge_event_id): (e.ended is not None, e.review_state) for e in s.scalars(select(CentreEvent))}
        files = {
            (box, eid, f.kind): (f.sha256, f.state)
            for f, box, eid in s.execute(select(CentreEvidence, CentreEvent.box_id, CentreEvent.edge_event_id).join(CentreEvent))
        }
    return events, files


def stream_keys(nats_url: str) -> Counter:
    """Every Nats-Msg-Id stored in the EPATROL_UP stream, read back with an ordered consumer."""

    async def read() -> Counter:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        info = await js.stream_info(m.UP_STREAM)
        keys: Counter = Counter()
        sub = await js.subscribe("epatrol.*.up", ordered_consumer=True)
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=10)
            keys[msg.headers["Nats-Msg-Id"]] += 1
        await nc.close()
        return keys

    return asyncio.run(read())


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture
def centre_store(postgres, request):
    store = open_centre_store(postgres.create_database(f"centre_{request.node.name[:40].lower()}"))
    yield store
    store.close()


# -- the tests -----------------------------------------------------------------------------


def test_two_boxes_keep_everything_while_the_link_is_cut_and_deliver_it_once(patrol, tmp_path, nats_server, centre_store):
    clip, snap = media_of(patrol)
    boxes = [Box("box-a", patrol, tmp_path, nats_server.url), Box("box-b", patrol, tmp_path, nats_server.url)]
    centre = CentreThread(centre_cfg(centre_store.engine.url.render_as_string(hide_password=False), nats_server.url), centre_store)
    try:
        for box in boxes:
            box.sender.start()
        for box in boxes:
            assert box.sender.drain(60), f"{box.id} did not send its recorded events"
        wait_for(lambda: len(centre_rows(centre_store)[0]) == sum(len(b.real) for b in boxes), 60, "the recorded events at the centre")

        # More violations; the link is cut while they are being sent (SIGKILL: no goodbye to anyone).
        before = {box.id: [box.add_event(clip, snap) for _ in range(8)] for box in boxes}
        acked_before = outbox.backlog(boxes[0].db)["acked"]
        wait_for(lambda: outbox.backlog(boxes[0].db)["acked"] >= acked_before + 3, 60, "box-a to be mid-way", every_s=0.02)
        nats_server.kill()
        cut_mid_way = {box.id: outbox.backlog(box.db)["queued"] for box in boxes}
        wait_for(lambda: not any(b.sender.connected.is_set() for b in boxes), 30, "the boxes to notice the cut")
        during = {box.id: before[box.id] + [box.add_event(clip, snap) for _ in range(6)] for box in boxes}
        decide(boxes[0].db, during["box-a"][0], "confirm", by="li")  # an officer's decision, made offline
        for box in boxes:
            wait_for(lambda: outbox.backlog(box.db)["queued"] >= 18, 30, f"{box.id} to queue what happened offline")
            assert box.sender.stats["link_errors"] >= 1
        queued_offline = {box.id: outbox.backlog(box.db)["queued"] for box in boxes}

        nats_server.start()  # the link is back: same port, same JetStream store
        for box in boxes:
            assert box.sender.drain(90), f"{box.id} did not deliver its backlog: {dict(box.sender.stats)}"

        expected_events = {(b.id, eid) for b in boxes for eid in b.real + during[b.id]}
        expected_files = {(b.id, eid, kind): sha for b in boxes for (eid, kind), sha in b.files().items()}

        def all_arrived():
            events, files = centre_rows(centre_store)
            done = set(events) == expected_events and {k for k, (_, st) in files.items() if st == "verified"} == set(expected_files)
            return (events, files) if done else None

        events, files = wait_for(all_arrived, 90, "every event and file verified at the centre")
    finally:
        centre.stop()
        for box in boxes:
            box.close()

    assert all(files[k][0] == sha for k, sha in expected_files.items())  # the centre's bytes hash as the box recorded
    assert events[("box-a", during["box-a"][0])] == (True, "confirmed")
    with centre_store.read() as s:
        assert s.scalar(select(func.count()).select_from(CentreEvent)) == len(expected_events)
        assert s.scalar(select(func.count()).select_from(CentreEvidence)) == len(expected_files)
        cams = {(c.box_id, c.camera_id): (c.street, c.grid) for c in s.scalars(select(CentreCamera))}
    assert cams[("box-a", CAMERA)] == ("解放路街道", "网格-07")

    keys = stream_keys(nats_server.url)
    sent = sum(b.sender.stats["sent"] for b in boxes)
    dup_acks = sum(b.sender.stats["duplicates"] for b in boxes)
    stats = centre.ingest.stats
    print(f"\nlink cut with {cut_mid_way} rows still queued, {queued_offline} queued before it came back; events {len(expected_events)}, files {len(expected_files)}; "
          f"messages sent {sent}, duplicate PubAcks {dup_acks}, stored in stream {sum(keys.values())} "
          f"(distinct keys {len(keys)}, duplicated {sum(n - 1 for n in keys.values())}); centre delivered {stats['delivered']}, "
          f"redelivered {stats['redelivered']}; events lost {len(expected_events - set(events))}, "
          f"files lost {len(set(expected_files) - set(files))}, duplicate rows 0 (unique keys)")
    assert all(n == 1 for n in keys.values()), "a message was stored twice in the stream"
    assert len(keys) == sent


def test_centre_killed_mid_ingest_loses_and_duplicates_nothing(patrol, tmp_path, nats_server, centre_store):
    clip, snap = media_of(patrol)
    boxes = [Box("box-a", patrol, tmp_path, nats_server.url), Box("box-b", patrol, tmp_path, nats_server.url)]
    for box in boxes:
        for _ in range(25):
            box.add_event(clip, snap)
        box.sender.start()
    for box in boxes:
        assert box.sender.drain(120), f"{box.id} did not send: {dict(box.sender.stats)}"
    expected_events = {(b.id, e.id) for b in boxes for e in b.db.list_events(limit=10_000)}
    expected_files = {(b.id, eid, kind): sha for b in boxes for (eid, kind), sha in b.files().items()}
    for box in boxes:
        box.close()

    url = centre_store.engine.url.render_as_string(hide_password=False)
    config = tmp_path / "centre.yaml"
    config.write_text(yaml.safe_dump({"database_url": url, "nats": {"servers": [nats_server.url], "batch": 4, "ack_wait_s": 2}}))
    cmd = [sys.executable, "-m", "epatrol", "centre", "-c", str(config), "--no-app"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: len(centre_rows(centre_store)[1]) >= 4, 60, "the centre to start ingesting", every_s=0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill_events, at_kill_files = centre_rows(centre_store)
    assert len(at_kill_files) < len(expected_files), "the centre finished before it was killed; nothing was tested"

    second = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def all_arrived():
            events, files = centre_rows(centre_store)
            return (events, files) if set(events) == expected_events and all(
                files.get(k, ("", ""))[1] == "verified" for k in expected_files) else None

        events, files = wait_for(all_arrived, 120, "every event and file after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out
    assert set(files) == set(expected_files) and all(files[k][0] == sha for k, sha in expected_files.items())
    with centre_store.read() as s:
        assert s.scalar(select(func.count()).select_from(CentreEvidence)) == len(expected_files)
    print(f"\ncentre SIGKILLed with {len(at_kill_events)}/{len(expected_events)} events and {len(at_kill_files)}/"
          f"{len(expected_files)} files in; after the restart {len(events)} events, {len(files)} files, "
          f"lost 0, duplicated 0 (unique keys; the restart's log: {out.strip().splitlines()[-1] if out.strip() else ''})")


def test_a_file_changed_on_the_box_is_flagged_corrupt_at_the_centre(patrol, tmp_path, nats_server, centre_store, caplog):
    clip, snap = media_of(patrol)
    box = Box("box-c", patrol, tmp_path, nats_server.url)
    good = box.add_event(clip, snap)
    bad = box.add_event(clip, snap)
    bad_clip = next(f for f in box.db.all_files() if f.event_id == bad and f.kind == "clip")
    path = resolve(box.root, bad_clip.path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped after the box hashed it
    path.write_bytes(bytes(data))
    centre = CentreThread(centre_cfg(centre_store.engine.url.render_as_string(hide_password=False), nats_server.url), centre_store)
    try:
        box.sender.start()
        assert box.sender.drain(60)
        wait_for(lambda: sum(1 for _, st in centre_rows(centre_store)[1].values() if st != "pending") == len(box.files()), 60,
                 "every file checked at the centre")
    finally:
        centre.stop()
        box.close()
    _, files = centre_rows(centre_store)
    assert files[("box-c", bad, "clip")][1] == "corrupt"
    assert files[("box-c", bad, "snapshot")][1] == "verified"
    assert files[("box-c", good, "clip")][1] == "verified"
    with centre_store.read() as s:
        row = s.scalar(select(CentreEvidence).where(CentreEvidence.state == "corrupt"))
    assert bad_clip.sha256 in row.problem and row.verified_at is None
    assert centre.ingest.stats["files_corrupt"] == 1
    assert any("corrupt" in r.getMessage() for r in caplog.records)


def test_reinspection_request_reaches_the_box_and_the_answer_comes_back(patrol, tmp_path, nats_server, centre_store):
    class Finished:  # the patrol's workers, stopped at the end of the footage (their judges and last samples kept)
        def worker(self, camera_id):
            return patrol.workers.get(camera_id)

    box = Box("box-d", patrol, tmp_path, nats_server.url, inspector=ZoneInspector(Finished(), stale_after=timedelta(days=1)))
    centre = CentreThread(centre_cfg(centre_store.engine.url.render_as_string(hide_password=False), nats_server.url), centre_store)
    try:
        box.sender.start()
        wait_for(lambda: len(centre_rows(centre_store)[0]) == len(box.real), 60, "the box's events at the centre")
        with centre_store.write() as s:
            clean = request_inspection(s, "box-d", CAMERA, "wall-footway", "parked_bikes", case_id=7).request_id
            unknown = request_inspection(s, "box-d", "no-such-camera", "wall-footway", "parked_bikes").request_id

        def answered():
            with centre_store.read() as s:
                rows = {r.request_id: r for r in s.scalars(select(CentreInspection))}
            return rows if all(r.answered_at and (r.snapshot_state in (None, "verified")) for r in rows.values()) else None

        rows = wait_for(answered, 60, "both re-inspections answered")
    finally:
        centre.stop()
        box.close()
    # The bike left before the footage ended and the episode closed: the zone is clean now.
    assert rows[clean].state == "clean" and rows[clean].case_id == 7
    assert rows[clean].snapshot_state == "verified" and len(rows[clean].snapshot_sha256) == 64
    assert rows[clean].observed_at is not None
    assert rows[unknown].state == "unavailable" and "no-such-camera" in rows[unknown].details["reason"]


def test_a_malformed_message_is_refused_naming_the_field():
    good = {"v": 1, "box": "box-a", "seq": 3, "key": "k", "kind": "file", "event": {
        "id": 1, "camera": {"id": "c", "name": "C", "site": "school"}, "zone": "z", "violation": "parked_bikes",
        "started_at": "2026-01-01T00:00:00+00:00", "alerted_at": "2026-01-01T00:00:20+00:00", "review_state": "pending",
        "clip_state": "complete", "model_name": "m", "model_sha256": "0" * 64},
        "file": {"kind": "clip", "sha256": "a" * 64, "size_bytes": 5, "object_key": "box-a/1/clip-" + "a" * 64}}
    assert m.parse(good).file.size_bytes == 5
    for broken, field in (
        ({**good, "box": "a.b"}, "message.box"),
        ({**good, "event": {**good["event"], "started_at": "2026-01-01T00:00:00"}}, "event.started_at"),
        ({**good, "file": {**good["file"], "sha256": "XYZ"}}, "file.sha256"),
        ({**good, "kind": "telemetry"}, "message.kind"),
    ):
        with pytest.raises(m.BadMessage, match=field.replace(".", r"\.")):
            m.parse(json.loads(json.dumps(broken)))


def test_a_configured_uplink_starts_with_the_box_and_sends(patrol, tmp_path, nats_server):
    from epatrol.config import ConfigError, parse_config
    from epatrol.uplink.service import start_uplink

    box = Box("box-e", patrol, tmp_path, nats_server.url)
    raw = {**yaml.safe_load((Path(patrol.cfg.storage.root) / "config.yaml").read_text()), "storage": {"root": str(box.root)}}
    assert start_uplink(parse_config(raw), box.db) is None  # no `uplink` section: nothing starts
    raw["uplink"] = {"box_id": "box-e", "servers": [nats_server.url], "poll_s": 0.2}
    sender = start_uplink(parse_config(raw), box.db)
    try:
        assert sender.drain(60)
        assert sender.stats["sent"] == outbox.backlog(box.db)["acked"] > 0
        assert outbox.prune(box.db, timedelta(0)) == sender.stats["sent"]  # acknowledged rows can go
        assert outbox.backlog(box.db) == {"queued": 0, "acked": 0, "duplicates": 0} and outbox.caught_up(box.db)
    finally:
        sender.stop(drain_s=0)
        box.close()
    with pytest.raises(ConfigError, match=r"uplink\.box_id"):
        parse_config({**raw, "uplink": {**raw["uplink"], "box_id": "box e/1"}})


def _tls_files(d: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    import ipaddress
    from datetime import datetime, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.now(timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("epatrol test CA")).issuer_name(name("epatrol test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - timedelta(days=1))
          .not_valid_after(now + timedelta(days=1)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    d.mkdir(parents=True, exist_ok=True)
    paths = d / "ca.pem", d / "server.pem", d / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def test_the_link_can_require_tls_and_a_password(patrol, tmp_path, centre_store):
    ca, cert, key = _tls_files(tmp_path / "tls")
    server = NatsServer(tmp_path / "nats", extra_args=("--tls", "--tlscert", str(cert), "--tlskey", str(key),
                                                       "--user", "box", "--pass", "s3cret")).start()
    url = f"tls://box:s3cret@127.0.0.1:{server.port}"
    try:
        box = Box("box-f", patrol, tmp_path, url)
        stranger_db = open_database(f"sqlite:///{tmp_path / 'stranger.db'}")
        box.sender = UplinkSender(Uplink(box_id="box-f", servers=[url], tls_ca=ca, poll_s=0.2, retry_initial_s=0.2), box.db, box.root)
        stranger = UplinkSender(Uplink(box_id="box-g", servers=[f"tls://127.0.0.1:{server.port}"], tls_ca=ca,
                                       retry_initial_s=0.2, retry_max_s=0.5), stranger_db, tmp_path)
        cfg = centre_cfg(centre_store.engine.url.render_as_string(hide_password=False), url)
        centre = CentreThread(cfg.model_copy(update={"nats": cfg.nats.model_copy(update={"tls_ca": ca})}), centre_store)
        try:
            stranger.start()  # no password: refused, counted, never connected
            box.sender.start()
            assert box.sender.drain(60)
            wait_for(lambda: set(centre_rows(centre_store)[0]) == {("box-f", e) for e in box.real}, 60, "the events over TLS")
            wait_for(lambda: stranger.stats["link_errors"] >= 2, 30, "the stranger to be refused")
            assert stranger.stats["connects"] == 0
        finally:
            stranger.stop(drain_s=0)
            stranger_db.close()
            centre.stop()
            box.close()
    finally:
        server.stop()


def test_a_second_database_cannot_send_under_a_box_id_already_in_use(patrol, tmp_path, nats_server):
    clip, snap = media_of(patrol)
    first = Box("box-h", patrol, tmp_path, nats_server.url)
    # Same box id, a fresh database (a second box misconfigured, or this box's database replaced).
    root = tmp_path / "fresh"
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    db.upsert_camera(CAMERA, "解放路 1", "business", "rtsp://10.0.0.7/stream")
    now = utcnow()
    eid = db.open_event(CAMERA, "wall-footway", "parked_bikes", now, now, "yolov8n_int8", "0" * 64, [], {})
    rel = clip_rel_path(CAMERA, eid, "parked_bikes", now)
    resolve(root, rel).parent.mkdir(parents=True)
    shutil.copyfile(clip, resolve(root, rel))
    db.add_file(eid, "clip", rel, sha256_file(resolve(root, rel)), resolve(root, rel).stat().st_size, now)
    other = UplinkSender(Uplink(box_id="box-h", servers=[nats_server.url], poll_s=0.2, retry_initial_s=0.2, retry_max_s=0.5), db, root)
    try:
        first.sender.start()
        assert first.sender.drain(60)
        other.start()
        wait_for(lambda: other.stats["box_id_taken"] >= 1, 30, "the second database to be refused")
        assert other.stats["sent"] == 0
        # It keeps everything for when the id is sorted out: the outbox grows offline after each refusal.
        wait_for(lambda: outbox.backlog(db)["queued"] > 0, 10, "the refused box's outbox to hold its events")
        # The operator says the new database is the box now: it claims the id and sends what it kept.
        config = tmp_path / "centre.yaml"
        config.write_text(yaml.safe_dump({"database_url": "sqlite:///unused.db", "nats": {"servers": [nats_server.url]}}))
        first.sender.stop(drain_s=0)
        done = subprocess.run([sys.executable, "-m", "epatrol", "centre-release-box", "-c", str(config), "box-h"],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 0 and "released" in done.stdout, done.stderr
        assert other.drain(60)
    finally:
        other.stop(drain_s=0)
        db.close()
        first.close()
