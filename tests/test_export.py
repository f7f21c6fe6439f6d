"""Case export and `epatrol verify-export` on real clips, real zips and real Ed25519 keys:
an intact package passes; a missing, extra or altered file, a re-written manifest, a wrong
key and path tricks in entry names are each named. Exports are signed by default (the box's
own key), and without a public key verify-export says the origin is unproven (exit 3)."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from epatrol.common.errors import Conflict, NotFound
from epatrol.common.hashing import sha256_bytes, sha256_file
from epatrol.common.times import local_zone
from epatrol.evidence.export.case_export import build_case_export
from epatrol.evidence.export.export_check import verify_export
from epatrol.evidence.export.signing import load_private_key, load_public_key
from epatrol.evidence.review import cases, decisions
from epatrol.migrations import open_database

SHANGHAI = local_zone("Asia/Shanghai")


@pytest.fixture(scope="module")
def store(patrol, tmp_path_factory):
    """A fresh evidence store holding a copy of the pipeline's real clip and snapshot, as one
    confirmed event in an open case."""
    cfg, pdb = patrol.cfg, patrol.db
    ev = pdb.list_events(camera_id="wall-street-1")[0]
    root = tmp_path_factory.mktemp("export-store")
    for rel in (ev.clip, ev.snapshot):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cfg.storage.root / rel, root / rel)
    db = open_database(f"sqlite:///{root / 'epatrol.db'}")
    db.upsert_camera(ev.camera_id, ev.camera_name, ev.site, "rtsp://10.0.0.5/s")
    eid = db.open_event(ev.camera_id, ev.zone, ev.violation, ev.started_at, ev.alerted_at, ev.model_name,
                        ev.model_sha256, ev.detections, ev.details)
    assert eid == ev.id  # same ids, so the stored paths name the right event
    db.add_file(eid, "snapshot", ev.snapshot, sha256_file(root / ev.snapshot), (root / ev.snapshot).stat().st_size, ev.alerted_at)
    db.add_file(eid, "clip", ev.clip, sha256_file(root / ev.clip), (root / ev.clip).stat().st_size,
                ev.alerted_at - timedelta(seconds=5), ev.alerted_at + timedelta(seconds=5))
    db.set_clip_state(eid, "complete")
    db.close_event(eid, ev.ended_at, ev.end_reason)
    decisions.decide(db, eid, "confirm", "officer1", note="blocks the tactile paving")
    case = cases.create_case(db, "Wall street", "officer1", note="opened")
    cases.add_event(db, case.id, eid, "officer1")
    yield db, root, case.id, ev
    db.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    key = Ed25519PrivateKey.generate()
    (d / "export.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (d / "export.pub.pem").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    other = Ed25519PrivateKey.generate().public_key()
    (d / "other.pub.pem").write_bytes(other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return d


@pytest.fixture(scope="module")
def package(store, keys, tmp_path_factory) -> Path:
    db, root, case_id, _ = store
    out = tmp_path_factory.mktemp("pkg") / "case.zip"
    build_case_export(db, case_id, root, out, exported_by="officer1", zone=SHANGHAI, signing_key=load_private_key(keys / "export.pem"))
    return out


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None) -> Path:
    """Copy a zip, replacing (or with None, dropping) some entries and adding others."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zout.writestr(info.filename, replace[info.filename])
            else:
                zout.writestr(info, zin.read(info.filename))
        for name, data in add.items():
            zout.writestr(name, data)
    return dst


def _reasons(path: Path, key=None) -> set[tuple[str, str]]:
    return {(p.reason, p.path) for p in verify_export(path, key).problems}


def test_package_contents(package: Path, store) -> None:
    _, root, case_id, ev = store
    with zipfile.ZipFile(package) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(["case.json", f"clips/{ev.id}.mp4", f"events/{ev.id}.json", "manifest.json", "manifest.sig", f"snapshots/{ev.id}.jpg",
                              "summary.txt"])
        assert zf.read(f"clips/{ev.id}.mp4") == (root / ev.clip).read_bytes()
        record = json.loads(zf.read(f"events/{ev.id}.json"))
        manifest = json.loads(zf.read("manifest.json"))
        case = json.loads(zf.read("case.json"))
    assert record["camera"] == {"id": "wall-street-1", "name": "测试 wall-street-1", "site": "business"}
    assert (record["zone"], record["violation"]) == ("wall-footway", "parked_bikes")
    assert record["timezone"] == "Asia/Shanghai"
    assert record["started"]["utc"] == ev.started_at.isoformat() and record["started"]["utc"].endswith("+00:00")
    assert record["started"]["local"] == ev.started_at.astimezone(SHANGHAI).isoformat() and record["started"]["local"].endswith("+08:00")
    assert record["model"] == {"name": "yolov8n_int8", "sha256": ev.model_sha256}
    assert record["detections"] == ev.detections and record["detections"][0]["label"] == "bicycle"
    assert record["clip"]["sha256"] == ev.clip_sha256 and record["clip"]["path"] == f"clips/{ev.id}.mp4"
    assert [r["decision"] for r in record["reviews"]] == ["confirm"] and record["reviews"][0]["by"] == "officer1"
    assert [x["kind"] for x in record["ledger"]][0] == "event.open"
    assert case["case"]["id"] == case_id and case["events"] == [ev.id] and case["exported"]["by"] == "officer1"
    assert case["notes"][0]["text"] == "opened" and case["ledger_head"]["seq"] > 0
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(names) - {"manifest.json", "manifest.sig"}
    assert listed[f"clips/{ev.id}.mp4"]["sha256"] == ev.clip_sha256
    assert manifest["signature"]["algorithm"] == "Ed25519"
    with zipfile.ZipFile(package) as zf:
        for name, f in listed.items():
            assert sha256_bytes(zf.read(name)) == f["sha256"] and len(zf.read(name)) == f["size"]


def test_intact_package_verifies_with_its_key(package: Path, keys) -> None:
    report = verify_export(package, load_public_key(keys / "export.pub.pem"))
    assert report.ok and report.signed and report.signature_ok and report.files_checked == 5 and report.origin_proven
    without_key = verify_export(package)  # files checked, signature not: the origin stays unproven
    assert without_key.ok and not without_key.origin_proven


def test_wrong_key_is_a_bad_signature(package: Path, keys) -> None:
    assert _reasons(package, load_public_key(keys / "other.pub.pem")) == {("bad-signature", "manifest.sig")}


def test_altered_missing_and_extra_files_are_named(package: Path, store, tmp_path: Path) -> None:
    ev = store[3]
    clip = f"clips/{ev.id}.mp4"
    with zipfile.ZipFile(package) as zf:
        data = bytearray(zf.read(clip))
    data[len(data) // 2] ^= 0x01  # one bit
    altered = _rewrite(package, tmp_path / "altered.zip", {clip: bytes(data)})
    assert _reasons(altered) == {("altered", clip), ("inconsistent", clip)}
    missing = _rewrite(package, tmp_path / "missing.zip", {f"snapshots/{ev.id}.jpg": None})
    assert ("missing", f"snapshots/{ev.id}.jpg") in _reasons(missing)
    extra = _rewrite(package, tmp_path / "extra.zip", add={"clips/99.mp4": b"planted"})
    assert _reasons(extra) == {("extra", "clips/99.mp4")}


def test_rewritten_manifest_fails_only_the_signature(package: Path, store, keys, tmp_path: Path) -> None:
    """Whoever alters a clip and recomputes the manifest gets past the hashes, not the key."""
    ev = store[3]
    clip = f"clips/{ev.id}.mp4"
    with zipfile.ZipFile(package) as zf:
        data = zf.read(clip)[:-10]
        manifest = json.loads(zf.read("manifest.json"))
        record = json.loads(zf.read(f"events/{ev.id}.json"))
    record["clip"]["sha256"] = sha256_bytes(data)
    new_record = json.dumps(record).encode()
    for f in manifest["files"]:
        if f["path"] == clip:
            f.update(sha256=sha256_bytes(data), size=len(data))
        if f["path"] == f"events/{ev.id}.json":
            f.update(sha256=sha256_bytes(new_record), size=len(new_record))
    forged = _rewrite(package, tmp_path / "forged.zip", {clip: data, f"events/{ev.id}.json": new_record, "manifest.json": json.dumps(manifest).encode()})
    assert verify_export(forged).ok
    assert _reasons(forged, load_public_key(keys / "export.pub.pem")) == {("bad-signature", "manifest.sig")}
    unsigned = _rewrite(forged, tmp_path / "unsigned.zip", {"manifest.sig": None})
    assert _reasons(unsigned, load_public_key(keys / "export.pub.pem")) == {("unsigned", "manifest.sig")}


@pytest.mark.parametrize("name", ["../evil.sh", "/etc/cron.d/evil", "clips/../../evil", "C:/evil.bat", "clips\\..\\evil", "a//b"])
def test_path_tricks_refuse_the_archive(package: Path, tmp_path: Path, name: str) -> None:
    bad = _rewrite(package, tmp_path / "tricks.zip", add={name: b"x"})
    problems = verify_export(bad).problems
    assert problems and all(p.reason == "unsafe" for p in problems)
    assert any(p.path == name for p in problems) and "refused" in str(problems[0])


def test_symlinks_and_duplicates_refuse_the_archive(package: Path, tmp_path: Path) -> None:
    link = zipfile.ZipInfo("clips/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    dst = tmp_path / "link.zip"
    shutil.copyfile(package, dst)
    with zipfile.ZipFile(dst, "a") as zf:
        zf.writestr(link, "/etc/passwd")
    assert _reasons(dst) == {("unsafe", "clips/link")}
    dup = tmp_path / "dup.zip"
    shutil.copyfile(package, dup)
    with zipfile.ZipFile(dup, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("case.json", b"{}")
    assert _reasons(dup) == {("unsafe", "case.json")}


def test_manifest_with_path_tricks_is_refused(package: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["files"].append({"path": "../../etc/passwd", "sha256": "0" * 64, "size": 1})
    bad = _rewrite(package, tmp_path / "m.zip", {"manifest.json": json.dumps(manifest).encode()})
    assert ("unsafe", "../../etc/passwd") in _reasons(bad)


def test_not_a_package(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert _reasons(junk) == {("unreadable", "")}
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    assert _reasons(empty) == {("missing", "manifest.json")}


def test_export_refuses_tampered_or_missing_evidence(store, tmp_path: Path) -> None:
    db, root, case_id, ev = store
    snap = root / ev.snapshot
    original = snap.read_bytes()
    try:
        snap.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(Conflict, match=f"snapshot of event {ev.id} no longer matches"):
            build_case_export(db, case_id, root, tmp_path / "x.zip", exported_by="officer1")
        assert not (tmp_path / "x.zip").exists()
        snap.unlink()
        with pytest.raises(Conflict, match="missing from storage"):
            build_case_export(db, case_id, root, tmp_path / "x.zip", exported_by="officer1")
    finally:
        snap.write_bytes(original)
    with pytest.raises(NotFound):
        build_case_export(db, 999, root, tmp_path / "x.zip", exported_by="officer1")


def test_cli_verify_export(package: Path, store, keys, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "epatrol", "verify-export", *args], capture_output=True, text=True, timeout=120)

    ok = run(str(package), "--public-key", str(keys / "export.pub.pem"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intact, 5 files" in ok.stdout and "signature valid" in ok.stdout
    unproven = run(str(package))  # intact, but without the key nothing proves who made it
    assert unproven.returncode == 3 and "signature not checked" in unproven.stdout and "ORIGIN UNPROVEN" in unproven.stdout
    assert run(str(package), "--unsigned-ok").returncode == 0
    clip = f"clips/{store[3].id}.mp4"
    bad = _rewrite(package, tmp_path / "bad.zip", {clip: b"replaced"}, {"notes.txt": b"hi"})
    out = run(str(bad), "--public-key", str(keys / "other.pub.pem"))
    assert out.returncode == 1
    assert f"ALTERED: {clip}" in out.stdout and "EXTRA: notes.txt" in out.stdout and "BAD-SIGNATURE: manifest.sig" in out.stdout
    tricks = _rewrite(package, tmp_path / "tricks.zip", add={"../../evil": b"x"})
    out = run(str(tricks))
    assert out.returncode == 1 and "UNSAFE: ../../evil" in out.stdout
    nokey = run(str(package), "--public-key", str(tmp_path / "absent.pem"))
    assert nokey.returncode == 2 and "absent.pem" in nokey.stderr


def test_api_export_is_signed_with_the_configured_key(store, keys, tmp_path: Path) -> None:
    """`decisions.signing_key` and `decisions.timezone` from the config reach the API's exports."""
    from fastapi.testclient import TestClient

    from epatrol.api.app import create_app
    from epatrol.config import ConfigError, parse_config
    from epatrol.evidence.review import users

    db, root, case_id, ev = store
    raw = {
        "storage": {"root": str(root)},
        "cameras": [{"id": "wall-street-1", "name": "x", "url": "x.mp4"}],
        "review": {"timezone": "Asia/Shanghai", "signing_key": "keys/export.pem"},
    }
    (tmp_path / "keys").mkdir()
    shutil.copyfile(keys / "export.pem", tmp_path / "keys" / "export.pem")
    cfg = parse_config(raw, base=tmp_path)  # the key path is relative to the config file
    users.create_user(db, "signer", "export-key-pass-1", "officer")
    client = TestClient(create_app(cfg, db))
    token = client.post("/api/auth/login", json={"username": "signer", "password": "export-key-pass-1"}).json()["token"]
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {token}"
    assert client.get(f"/api/events/{ev.id}").json()["started_at_local"].endswith("+08:00")
    out = tmp_path / "signed.zip"
    out.write_bytes(client.get(f"/api/cases/{case_id}/export").content)
    report = verify_export(out, load_public_key(keys / "export.pub.pem"))
    assert report.ok and report.signature_ok
    with pytest.raises(ConfigError, match="signing_key"):
        create_app(parse_config({**raw, "review": {"signing_key": "keys/missing.pem"}}, base=tmp_path), db)


def _forge(package: Path, ev, dst: Path, keep_signature: bool) -> Path:
    """What a forger can do without the private key: swap the clip, re-hash the event record and
    the manifest to match, and either leave the old signature or drop it."""
    clip, record_name = f"clips/{ev.id}.mp4", f"events/{ev.id}.json"
    with zipfile.ZipFile(package) as zf:
        data = zf.read(clip)[: len(zf.read(clip)) // 2]  # e.g. the half that suits the forger
        manifest = json.loads(zf.read("manifest.json"))
        record = json.loads(zf.read(record_name))
    record["clip"].update(sha256=sha256_bytes(data), size_bytes=len(data))
    new_record = json.dumps(record).encode()
    for f in manifest["files"]:
        if f["path"] == clip:
            f.update(sha256=sha256_bytes(data), size=len(data))
        if f["path"] == record_name:
            f.update(sha256=sha256_bytes(new_record), size=len(new_record))
    replace = {clip: data, record_name: new_record, "manifest.json": json.dumps(manifest).encode()}
    if not keep_signature:
        replace["manifest.sig"] = None
    return _rewrite(package, dst, replace)


def test_exports_are_signed_by_default_and_a_forgery_is_caught(store, tmp_path: Path) -> None:
    """Without `review.signing_key` the box makes its own key at first start (0600, under the
    storage root) and signs every export; `epatrol export-key` and the API show the public half.
    A forged export passes the hashes, so without the key verify-export says its origin is
    unproven (exit 3) unless told --unsigned-ok; with the key it fails."""
    from fastapi.testclient import TestClient

    from epatrol.api.app import create_app
    from epatrol.config import parse_config
    from epatrol.evidence.review import users

    db, root, case_id, ev = store
    raw = {"storage": {"root": str(root)}, "cameras": [{"id": "wall-street-1", "name": "x", "url": "x.mp4"}]}
    config = tmp_path / "epatrol.yaml"
    config.write_text(json.dumps(raw))  # JSON is YAML
    client = TestClient(create_app(parse_config(raw, base=tmp_path), db))
    private, public = root / "keys" / "export-signing.pem", root / "keys" / "export-signing.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and public.is_file()
    users.create_user(db, "default-signer", "default-sign-pass-1", "officer")
    token = client.post("/api/auth/login", json={"username": "default-signer", "password": "default-sign-pass-1"}).json()["token"]
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {token}"
    genuine = tmp_path / "genuine.zip"
    genuine.write_bytes(client.get(f"/api/cases/{case_id}/export").content)

    def epatrol(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "epatrol", *args], capture_output=True, text=True, timeout=120)

    shown = epatrol("export-key", "-c", str(config))
    assert shown.returncode == 0, shown.stderr
    printed = tmp_path / "printed.pub.pem"
    printed.write_text(shown.stdout)
    key = load_public_key(printed)
    assert key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == load_public_key(public).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    api_key = client.get("/api/system/export-key").json()
    assert f"sha256 {api_key['sha256']}" in shown.stdout and api_key["public_key_pem"] in shown.stdout
    assert json.loads(zipfile.ZipFile(genuine).read("manifest.json"))["signature"]["public_key_sha256"] == api_key["sha256"]

    ok = epatrol("verify-export", str(genuine), "--public-key", str(printed))
    assert ok.returncode == 0 and "signature valid" in ok.stdout, ok.stdout + ok.stderr

    forged = _forge(genuine, ev, tmp_path / "forged.zip", keep_signature=False)
    assert verify_export(forged).ok  # the hashes all agree: only a key tells it apart
    unproven = epatrol("verify-export", str(forged))
    assert unproven.returncode == 3, unproven.stdout + unproven.stderr
    assert "UNPROVEN" in unproven.stdout and "not signed" in unproven.stdout and "--unsigned-ok" in unproven.stderr
    assert epatrol("verify-export", str(forged), "--unsigned-ok").returncode == 0
    with_key = epatrol("verify-export", str(forged), "--public-key", str(printed))
    assert with_key.returncode == 1 and "UNSIGNED: manifest.sig" in with_key.stdout
    stale = _forge(genuine, ev, tmp_path / "stale.zip", keep_signature=True)
    with_key = epatrol("verify-export", str(stale), "--public-key", str(printed))
    assert with_key.returncode == 1 and "BAD-SIGNATURE: manifest.sig" in with_key.stdout

    # The key is made once: a second start and the command find the same one.
    create_app(parse_config(raw, base=tmp_path), db)
    assert load_public_key(public).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_verify_export_against_the_box_chain(package: Path, store, tmp_path: Path) -> None:
    """On the box, --box-config checks the export's ledger entries are entries of its own hash
    chain; another box's database (its own chain) says which entries are not its history."""
    db, root, _, ev = store
    own = tmp_path / "own.yaml"
    own.write_text(json.dumps({"storage": {"root": str(root)}, "cameras": [{"id": "c", "name": "c", "url": "x.mp4"}]}))
    other_root = tmp_path / "other-box"
    with open_database(f"sqlite:///{other_root / 'epatrol.db'}") as other:
        other.upsert_camera("c", "c", "business", "rtsp://10.0.0.9/s")
        other.open_event("c", "z", "parked_bikes", ev.started_at, ev.alerted_at, "m", "0" * 64, [], {})
    other_cfg = tmp_path / "other.yaml"
    other_cfg.write_text(json.dumps({"storage": {"root": str(other_root)}, "cameras": [{"id": "c", "name": "c", "url": "x.mp4"}]}))

    def verify(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "epatrol", "verify-export", str(package), "--unsigned-ok", *args],
                              capture_output=True, text=True, timeout=120)

    here = verify("--box-config", str(own))
    assert here.returncode == 0, here.stdout + here.stderr
    checked = int(re.search(r"its (\d+) ledger entries are entries of this box's hash chain", here.stdout).group(1))
    assert checked >= 4  # the head and the event's open, file, decision entries
    elsewhere = verify("--box-config", str(other_cfg))
    assert elsewhere.returncode == 1 and "NOT this box's history" in elsewhere.stdout
    assert "NOT-THIS-BOX: case.json: ledger entry" in elsewhere.stdout
