"""The HTTP API over a real evidence database filled by the real pipeline: sign-in and roles,
events, clips with HTTP Range, review decisions, cases, export, audit, and bad input."""

from __future__ import annotations

import io
import zipfile

import pytest
from api_client import sign_in
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi.testclient import TestClient

from epatrol.api.app import create_app
from epatrol.api.auth import SESSION_COOKIE
from epatrol.common.hashing import sha256_bytes
from epatrol.evidence.export.export_check import verify_export
from epatrol.evidence.export.signing import fingerprint
from epatrol.evidence.review import users

PASSWORDS = {"api-admin": "admin-pass-1", "api-officer": "officer-pass-1", "api-viewer": "viewer-pass-1"}


@pytest.fixture(scope="module")
def app(patrol):
    cfg, db = patrol.cfg, patrol.db
    for name, password in PASSWORDS.items():
        users.create_user(db, name, password, name.removeprefix("api-"))
    return create_app(cfg, db)


def _login(app, username: str) -> TestClient:
    """A client signed in by bearer token (its cookie jar is cleared, so only the header counts)."""
    return sign_in(TestClient(app), username, PASSWORDS[username])


@pytest.fixture(scope="module")
def admin(app) -> TestClient:
    return _login(app, "api-admin")


@pytest.fixture(scope="module")
def officer(app) -> TestClient:
    return _login(app, "api-officer")


@pytest.fixture(scope="module")
def viewer(app) -> TestClient:
    return _login(app, "api-viewer")


@pytest.fixture(scope="module")
def anon(app) -> TestClient:
    return TestClient(app)


@pytest.fixture(scope="module")
def event(viewer) -> dict:
    return viewer.get("/api/events", params={"camera": "wall-street-1"}).json()["items"][0]


# -- sign-in -------------------------------------------------------------------------------


def test_login_sets_a_strict_httponly_cookie_that_streams_clips(app, event) -> None:
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": "api-viewer", "password": PASSWORDS["api-viewer"]})
    body = r.json()
    assert body["user"] == {"username": "api-viewer", "role": "viewer"} and len(body["token"]) >= 40
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={body['token']}" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Path=/" in cookie
    # The cookie alone (as a <video src> would send it) is enough.
    assert c.get(f"/api/events/{event['id']}/clip", headers={"Range": "bytes=0-99"}).status_code == 206
    assert c.get("/api/auth/me").json() == {"username": "api-viewer", "role": "viewer"}
    # Logout revokes the token and clears the cookie; signed in by the cookie, it must say where
    # it comes from (tests/test_web_security.py), as a browser does.
    assert c.post("/api/auth/logout").status_code == 403
    assert c.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204
    assert c.get("/api/auth/me").status_code == 401
    bearer = TestClient(app, headers={"Authorization": f"Bearer {body['token']}"})
    assert bearer.get("/api/auth/me").status_code == 401


def test_wrong_password_is_401_and_audited(anon, admin, officer) -> None:
    for body in ({"username": "api-officer", "password": "nope-nope"}, {"username": "ghost", "password": "whatever1"}):
        r = anon.post("/api/auth/login", json=body)
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    failed = admin.get("/api/audit", params={"action": "login.failed"}).json()
    assert {"api-officer", "ghost"} <= {e["target"] for e in failed["items"]}
    logins = admin.get("/api/audit", params={"action": "login", "username": "api-officer"}).json()
    assert logins["total"] >= 1 and logins["items"][0]["client"]


PROTECTED = [
    ("get", "/api/auth/me", None),
    ("get", "/api/events", None),
    ("get", "/api/events/1", None),
    ("get", "/api/events/1/clip", None),
    ("get", "/api/events/1/snapshot", None),
    ("post", "/api/events/1/review", {"decision": "confirm"}),
    ("get", "/api/cases", None),
    ("post", "/api/cases", {"title": "x"}),
    ("get", "/api/cases/1", None),
    ("post", "/api/cases/1/events", {"event_id": 1}),
    ("post", "/api/cases/1/notes", {"text": "x"}),
    ("post", "/api/cases/1/close", None),
    ("get", "/api/cases/1/export", None),
    ("get", "/api/cameras", None),
    ("get", "/api/users", None),
    ("post", "/api/users", {"username": "x1", "password": "12345678", "role": "viewer"}),
    ("get", "/api/audit", None),
    ("post", "/api/auth/logout", None),
]


@pytest.mark.parametrize("method, url, body", PROTECTED)
def test_no_token_is_401(anon, method, url, body) -> None:
    r = anon.request(method, url, json=body)
    assert r.status_code == 401 and "sign in" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    bad = anon.request(method, url, json=body, headers={"Authorization": "Bearer not-a-real-token"})
    assert bad.status_code == 401 and "sign in again" in bad.json()["detail"]


@pytest.mark.parametrize(
    "who, method, url, body",
    [
        ("viewer", "post", "/api/events/1/review", {"decision": "confirm"}),
        ("viewer", "post", "/api/cases", {"title": "x"}),
        ("viewer", "post", "/api/cases/1/events", {"event_id": 1}),
        ("viewer", "post", "/api/cases/1/notes", {"text": "x"}),
        ("viewer", "post", "/api/cases/1/close", None),
        ("viewer", "get", "/api/cases/1/export", None),
        ("viewer", "get", "/api/users", None),
        ("officer", "get", "/api/users", None),
        ("officer", "post", "/api/users", {"username": "x1", "password": "12345678", "role": "admin"}),
        ("officer", "patch", "/api/users/api-officer", {"role": "admin"}),
        ("officer", "get", "/api/audit", None),
    ],
)
def test_role_lacking_permission_is_403(request, who, method, url, body) -> None:
    client = request.getfixturevalue(who)
    r = client.request(method, url, json=body)
    assert r.status_code == 403, r.text
    assert "needs the" in r.json()["detail"] and who in r.json()["detail"]


def test_health_and_schema_need_no_sign_in(anon) -> None:
    r = anon.get("/healthz").json()
    assert r["status"] == "ok" and "wall-street-1" in r["cameras"]
    schema = anon.get("/openapi.json").json()
    assert {"token", "session"} <= set(schema["components"]["securitySchemes"])
    assert "/api/cases/{case_id}/export" in schema["paths"]
    assert "epatrol" in anon.get("/").text


# -- events, clips, cameras ------------------------------------------------------------------


def test_events_page_shape_and_filters(viewer, event) -> None:
    page = viewer.get("/api/events").json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert page["total"] == 1 and (page["limit"], page["offset"]) == (50, 0)
    assert [e["violation"] for e in page["items"]] == ["parked_bikes"]
    e = page["items"][0]
    assert e["clip_url"] == f"/api/events/{e['id']}/clip" and e["snapshot_url"] == f"/api/events/{e['id']}/snapshot"
    assert e["started_at"].endswith("+00:00") and e["started_at_local"][-6] in "+-"
    assert e["review_state"] in ("pending", "confirmed") and isinstance(e["case_ids"], list)
    assert not e["clip"].startswith("/")  # storage-relative: no server paths leak
    hit, miss = {"total": 1}, {"total": 0}

    def total(**params) -> dict:
        return {"total": viewer.get("/api/events", params=params).json()["total"]}

    assert total(camera="wall-street-1") == hit and total(camera="campus-road-1") == miss
    assert total(violation="parked_bikes") == hit and total(violation="open_burning") == miss
    assert total(site="business") == hit and total(site="school") == miss
    assert total(zone="wall-footway") == hit and total(zone="road-and-footway") == miss
    assert total(since=e["started_at"]) == hit and total(until=e["started_at"]) == miss
    assert total(since="2000-01-01T00:00:00+08:00", until="2100-01-01T00:00:00Z") == hit
    assert viewer.get("/api/events", params={"limit": 1, "offset": 1}).json()["items"] == []
    one = viewer.get(f"/api/events/{event['id']}").json()
    assert one["clip_sha256"] == event["clip_sha256"]
    assert [x["kind"] for x in one["ledger"]][:1] == ["event.open"]
    assert "file.add" in [x["kind"] for x in one["ledger"]]


def test_clip_served_whole_and_by_range_and_audited(viewer, admin, event) -> None:
    def views() -> int:
        return admin.get("/api/audit", params={"action": "clip.view", "username": "api-viewer"}).json()["total"]

    before = views()
    whole = viewer.get(event["clip_url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes" and "inline" in whole.headers["content-disposition"]
    assert sha256_bytes(whole.content) == event["clip_sha256"]
    part = viewer.get(event["clip_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert viewer.get(event["clip_url"], headers={"Range": f"bytes={len(whole.content) + 10}-"}).status_code == 416
    assert views() == before + 1  # the seek (a range not from byte 0) is not a new viewing
    download = viewer.get(event["clip_url"], params={"download": "true"})
    assert "attachment" in download.headers["content-disposition"]
    assert admin.get("/api/audit", params={"action": "clip.download"}).json()["items"][0]["target"] == f"event:{event['id']}"
    snap = viewer.get(event["snapshot_url"])
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    assert sha256_bytes(snap.content) == event["snapshot_sha256"]


def test_cameras_and_their_status(viewer) -> None:
    cams = {c["id"]: c for c in viewer.get("/api/cameras").json()}
    assert {"wall-street-1", "campus-road-1", "broken-1", "missing-1"} <= set(cams)
    wall = cams["wall-street-1"]
    assert (wall["configured"], wall["enabled"], wall["source"], wall["events"]) == (True, True, "file", 1)
    assert wall["zones"] == [{"name": "wall-footway", "violations": ["parked_bikes"]}] and wall["last_event_at"]
    assert cams["campus-road-1"]["events"] == 0 and cams["campus-road-1"]["last_event_at"] is None
    assert viewer.get("/api/cameras/wall-street-1").json() == wall
    assert viewer.get("/api/cameras/nope").status_code == 404


# -- review, cases, export -------------------------------------------------------------------


def test_review_case_and_export(officer, viewer, admin, event) -> None:
    eid = event["id"]
    r = officer.post(f"/api/events/{eid}/review", json={"decision": "dismiss"})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    r = officer.post(f"/api/events/{eid}/review", json={"decision": "confirm", "note": "bike blocks the tactile paving"})
    assert r.status_code == 201, r.text
    decision = r.json()
    assert (decision["decision"], decision["by"], decision["note"]) == ("confirm", "api-officer", "bike blocks the tactile paving")
    assert decision["at"].endswith("+00:00") and decision["at_local"]
    detail = viewer.get(f"/api/events/{eid}").json()
    assert detail["review_state"] == "confirmed" and detail["review"] == decision and detail["reviews"][-1] == decision
    assert "review.decide" in [x["kind"] for x in detail["ledger"]]
    assert eid in [e["id"] for e in viewer.get("/api/events", params={"review_state": "confirmed"}).json()["items"]]
    assert eid not in [e["id"] for e in viewer.get("/api/events", params={"review_state": "pending"}).json()["items"]]

    case = officer.post("/api/cases", json={"title": "Wall street, parked bikes", "note": "from the morning patrol"})
    assert case.status_code == 201
    cid = case.json()["id"]
    assert case.json()["status"] == "open" and case.json()["notes"][0]["by"] == "api-officer"
    added = officer.post(f"/api/cases/{cid}/events", json={"event_id": eid})
    assert added.status_code == 200 and added.json()["event_ids"] == [eid]
    assert added.json()["events"][0]["case_ids"][-1] == cid
    again = officer.post(f"/api/cases/{cid}/events", json={"event_id": eid})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert officer.post(f"/api/cases/{cid}/notes", json={"text": "owner found"}).status_code == 201
    dismiss = officer.post(f"/api/events/{eid}/review", json={"decision": "dismiss", "reason": "oops"})
    assert dismiss.status_code == 409 and f"case {cid}" in dismiss.json()["detail"]

    export = officer.get(f"/api/cases/{cid}/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    assert f"case-{cid}-" in export.headers["content-disposition"]
    zf = zipfile.ZipFile(io.BytesIO(export.content))
    assert sorted(zf.namelist()) == sorted(["case.json", f"clips/{eid}.mp4", f"snapshots/{eid}.jpg", f"events/{eid}.json",
                                            "manifest.json", "manifest.sig", "summary.txt"])  # signed by default
    assert sha256_bytes(zf.read(f"clips/{eid}.mp4")) == event["clip_sha256"]

    closed = officer.post(f"/api/cases/{cid}/close", json={"note": "penalty notice issued"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["closed_by"] == "api-officer"
    assert officer.post(f"/api/cases/{cid}/notes", json={"text": "late"}).status_code == 409
    assert officer.post(f"/api/cases/{cid}/close").status_code == 409
    listed = viewer.get("/api/cases", params={"status": "closed"}).json()
    assert cid in [c["id"] for c in listed["items"]] and listed["items"][0]["note_count"] >= 3

    actions = {e["action"] for e in admin.get("/api/audit", params={"username": "api-officer", "limit": 200}).json()["items"]}
    assert {"login", "review.decide", "case.create", "case.add_event", "case.note", "case.export", "case.close"} <= actions


def test_exported_zip_verifies(officer, viewer, anon, tmp_path, event) -> None:
    cid = officer.post("/api/cases", json={"title": "export check"}).json()["id"]
    assert officer.post(f"/api/events/{event['id']}/review", json={"decision": "confirm"}).status_code == 201
    assert officer.post(f"/api/cases/{cid}/events", json={"event_id": event["id"]}).status_code == 200
    path = tmp_path / "case.zip"
    path.write_bytes(officer.get(f"/api/cases/{cid}/export").content)
    # Signed by default, with the box's own key; anyone signed in may fetch its public half.
    key = viewer.get("/api/system/export-key").json()
    assert anon.get("/api/system/export-key").status_code == 401
    public = load_pem_public_key(key["public_key_pem"].encode())
    assert key["algorithm"] == "Ed25519" and key["sha256"] == fingerprint(public)
    report = verify_export(path, public)
    assert report.ok, report.problems
    assert report.files_checked == 5 and report.signed and report.signature_ok


# -- users -----------------------------------------------------------------------------------


def test_admin_manages_users(admin, app) -> None:
    r = admin.post("/api/users", json={"username": "api-new", "password": "fresh-pass-1", "role": "viewer"})
    assert r.status_code == 201 and r.json()["role"] == "viewer" and "password" not in r.json()
    assert admin.post("/api/users", json={"username": "api-new", "password": "fresh-pass-1", "role": "viewer"}).status_code == 409
    weak = admin.post("/api/users", json={"username": "api-weak", "password": "api-weak", "role": "viewer"})
    assert weak.status_code == 422 and weak.json()["detail"]
    assert admin.patch("/api/users/api-new", json={"role": "officer"}).json()["role"] == "officer"
    assert admin.get("/api/users/api-new").json()["role"] == "officer"
    assert "api-new" in [u["username"] for u in admin.get("/api/users").json()]
    assert admin.patch("/api/users/ghost", json={"disabled": True}).status_code == 404
    assert admin.patch("/api/users/api-new", json={"disabled": True}).json()["disabled"] is True
    login = TestClient(app).post("/api/auth/login", json={"username": "api-new", "password": "fresh-pass-1"})
    assert login.status_code == 401


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, status",
    [
        ("/api/events/999999", 404),
        ("/api/events/999999/clip", 404),
        ("/api/events/999999/snapshot", 404),
        ("/api/cases/999999", 404),
        ("/api/cases/999999/export", 404),
        ("/api/cameras/no-such-camera", 404),
        ("/api/users/no-such-user", 404),
        ("/api/events/abc", 422),
        ("/api/events/0", 422),
        ("/api/events/99999999999999999999999", 422),
        ("/api/events/1/passwd", 404),
        ("/api/events/1/..%2F..%2F..%2Fetc%2Fpasswd", 404),
        ("/api/events/..%2F..%2Fetc%2Fpasswd/clip", 404),
        ("/api/events/%2E%2E/clip", 422),
        ("/api/events?limit=100000", 422),
        ("/api/events?limit=201", 422),
        ("/api/events?limit=0", 422),
        ("/api/events?offset=-1", 422),
        ("/api/events?offset=99999999999999999999", 422),
        ("/api/events?review_state=maybe", 422),
        ("/api/events?since=yesterday", 422),
        ("/api/events?since=2024-05-01T08:00:00", 422),  # no offset: ambiguous
        ("/api/events?since=0001-01-01T00:00:00%2B01:00", 422),  # before year 1 in UTC
        ("/api/audit?limit=1000", 422),
        ("/api/cases?status=lost", 422),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(admin, url, status) -> None:
    r = admin.get(url)
    assert r.status_code == status, r.text
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/events/1/review", b'{"decision": "confirm",'),
        ("/api/events/1/review", b"not json at all"),
        ("/api/cases", b'{"title": "x", "title": }'),
        ("/api/auth/login", b"\xff\xfe garbage"),
    ],
)
def test_malformed_json_is_422_with_a_message(officer, url, body) -> None:
    r = officer.post(url, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert "JSON" in r.json()["detail"] or "body" in r.json()["detail"]


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/events/1/review", {"decision": "approve"}),
        ("/api/events/1/review", {"decision": "confirm", "extra": 1}),
        ("/api/events/1/review", {"decision": "dismiss", "reason": "x" * 501}),
        ("/api/cases", {"title": ""}),
        ("/api/cases", {"title": "a\u0000b"}),
        ("/api/cases", ["not", "an", "object"]),
        ("/api/cases/1/events", {"event_id": "../../etc/passwd"}),
        ("/api/cases/1/events", {"event_id": 2**40}),
        ("/api/auth/login", {"username": "x"}),
    ],
)
def test_invalid_bodies_are_422_with_a_message(officer, url, body) -> None:
    r = officer.post(url, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] and isinstance(r.json()["errors"], list)
