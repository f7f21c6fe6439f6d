"""Integrity verification and the storage layout's path safety."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from epatrol.common.hashing import sha256_bytes, sha256_file
from epatrol.evidence.export.verify import verify_files
from epatrol.evidence.recording.paths import (
    check_rel_path,
    clip_rel_path,
    resolve,
    snapshot_rel_path,
)
from epatrol.migrations import open_database

T0 = datetime(2024, 5, 1, 23, 30, 0, tzinfo=timezone.utc)


def test_layout() -> None:
    assert clip_rel_path("cam-1", 42, "illegal_parking", T0) == "clips/cam-1/2024-05-01/42-illegal_parking.mp4"
    # The date is the UTC day, whatever zone the time is given in.
    local = T0.astimezone(timezone(timedelta(hours=6)))  # 2024-05-02 05:30 +06:00
    assert snapshot_rel_path("cam-1", 42, "open_burning", local) == "snapshots/cam-1/2024-05-01/42-open_burning.jpg"
    for cam in ("../x", "a/b", "", ".hidden", "a b", "a\\b"):
        with pytest.raises(ValueError):
            clip_rel_path(cam, 1, "v", T0)
    with pytest.raises(ValueError):
        clip_rel_path("cam", 1, "../v", T0)
    with pytest.raises(ValueError):
        clip_rel_path("cam", 0, "v", T0)
    with pytest.raises(ValueError):
        clip_rel_path("cam", 1, "v", T0.replace(tzinfo=None))


def test_resolve_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    assert resolve(root, "clips/cam/2024-05-01/1-x.mp4") == root.resolve() / "clips/cam/2024-05-01/1-x.mp4"
    for bad in ("../x", "clips/../../x", "..", "/etc/passwd", "clips\\..\\..\\x", "", ".", "a/\x00"):
        with pytest.raises(ValueError):
            resolve(root, bad)
        with pytest.raises(ValueError):
            check_rel_path(bad)
    # A symlink under the root that points outside it is refused too.
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "clips").symlink_to(outside)
    with pytest.raises(ValueError):
        resolve(root, "clips/x.mp4")


def test_hashing(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks and a ragged end
    p = tmp_path / "blob"
    p.write_bytes(data)
    assert sha256_file(p) == sha256_bytes(data)
    assert sha256_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_verify_reports_changed_and_missing(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    db = open_database(f"sqlite:///{tmp_path / 'e.db'}")
    db.upsert_camera("cam1", "Gate", "Site", "rtsp://x/s")
    files = {}
    for i, kind in enumerate(("clip", "snapshot", "clip", "snapshot")):
        eid = db.open_event("cam1", "z", "illegal_parking", T0, T0, "m", "0" * 64, [], {})
        rel = (clip_rel_path if kind == "clip" else snapshot_rel_path)("cam1", eid, "illegal_parking", T0)
        path = resolve(root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000 + i))
        db.add_file(eid, kind, rel, sha256_file(path), path.stat().st_size, T0)
        files[eid] = (kind, path)
    assert verify_files(db, root) == []

    (e_changed, (k_changed, changed)), (e_missing, (k_missing, missing)) = list(files.items())[1:3]
    expected_changed = sha256_file(changed)
    data = bytearray(changed.read_bytes())
    data[500] ^= 0x01  # one bit, same size
    changed.write_bytes(bytes(data))
    expected_missing = sha256_file(missing)
    missing.unlink()

    problems = verify_files(db, root)
    assert [(p.event_id, p.kind, p.reason) for p in problems] == [
        (e_changed, k_changed, "changed"),
        (e_missing, k_missing, "missing"),
    ]
    assert problems[0].path == changed.resolve() and problems[0].path.is_absolute()
    assert problems[0].expected == expected_changed and problems[0].actual == sha256_file(changed)
    assert problems[1].path == missing.resolve()
    assert problems[1].expected == expected_missing and problems[1].actual is None

    # A row tampered to point outside the root is reported, not followed.
    with db.engine.begin() as c:
        c.execute(text("UPDATE evidence_files SET path = '../../etc/passwd' WHERE event_id = :e"), {"e": e_missing})
    reasons = {p.event_id: p.reason for p in verify_files(db, root)}
    assert reasons == {e_changed: "changed", e_missing: "bad-path"}
    db.close()
