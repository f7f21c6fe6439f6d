"""Password guessing and account rules (issue 15) on the box's API and the centre's API, each the
real app through FastAPI's TestClient on a real SQLite database: the lockout per account and per
client address (429 with Retry-After, even for the right password; over after the lockout, on an
injected clock), its audit entries and settings; the password policy (each rule, box and centre);
the last active admin; a case with no events is not exported; "an officer", "a viewer"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from api_client import sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from epatrol.api.app import create_app
from epatrol.api.routes_auth import new_throttle
from epatrol.centre import accounts
from epatrol.centre.app import create_centre_app
from epatrol.centre.audit import CentreAuditEntry
from epatrol.centre.config import CentreConfig
from epatrol.common.errors import Conflict, Invalid, with_article
from epatrol.common.passwords import (
    MIN_PASSWORD_CHARS,
    check_password_policy,
    common_passwords,
)
from epatrol.common.throttle import LoginThrottle
from epatrol.config import parse_config
from epatrol.evidence.export.case_export import build_case_export
from epatrol.evidence.review import audit, cases, users
from epatrol.migrations import open_centre_store, open_database

BOX_PASSWORDS = {"boss": "Harbour-lights-42", "li": "Willow-bridge-17", "wu": "Quiet-river-stone-8"}
CENTRE_PASSWORDS = {"root": "Granite-tower-31", "disp": "Copper-kettle-64", "traf": "Amber-signal-29"}
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


class Seconds:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 10_000.0

    def __call__(self) -> float:
        return self.t


class FakeClock:
    """The centre's clock: aware UTC, moved by hand."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


def _login(app, username: str, password: str, client: str = "10.0.0.1"):
    return TestClient(app, client=(client, 50000)).post("/api/auth/login", json={"username": username, "password": password})


def _box_config(tmp_path, **review):
    raw = {"storage": {"root": str(tmp_path / "data")}, "cameras": [{"id": "cam", "name": "cam", "url": "cam.mp4"}]}
    if review:
        raw["review"] = review
    return parse_config(raw)


@pytest.fixture
def box(tmp_path):
    """The box's app with an admin, an officer and a viewer, its throttle on a hand-moved clock."""
    cfg = _box_config(tmp_path)
    db = open_database(cfg.database_url)
    for name, role in (("boss", "admin"), ("li", "officer"), ("wu", "viewer")):
        users.create_user(db, name, BOX_PASSWORDS[name], role)
    app = create_app(cfg, db)
    clock = Seconds()
    app.state.login_throttle = new_throttle(cfg.review, clock)
    yield app, db, clock
    db.close()


@pytest.fixture
def centre(tmp_path):
    """The centre's app with an admin, a dispatcher and a handler, on a fake clock."""
    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    cfg = CentreConfig(database_url="sqlite://")
    clock = FakeClock(T0)
    for name, role, bind in (("root", "admin", {}), ("disp", "dispatcher", {}), ("traf", "handler", {"department": "traffic"})):
        accounts.create_user(store, name, CENTRE_PASSWORDS[name], role, departments=cfg.workflow.departments, now=clock(), **bind)
    yield create_centre_app(cfg, store, clock=clock), store, clock
    store.close()


def _centre_audit(store, action: str) -> list[CentreAuditEntry]:
    with store.read() as s:
        return list(s.scalars(select(CentreAuditEntry).where(CentreAuditEntry.action == action).order_by(CentreAuditEntry.seq)))


# -- the lockout: the box ---------------------------------------------------------------------


def test_box_locks_an_account_after_five_wrong_passwords(box) -> None:
    app, db, clock = box
    for i in range(5):
        r = _login(app, "li", f"wrong-guess-{i}")
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
    # Locked: even the right password is refused, with how long to wait.
    r = _login(app, "li", BOX_PASSWORDS["li"])
    assert r.status_code == 429 and r.headers["Retry-After"] == "900"
    assert r.json()["detail"] == "too many failed sign-ins for li; try again in 900 s"
    assert _login(app, "li", BOX_PASSWORDS["li"], client="10.0.0.2").status_code == 429  # the account, from anywhere
    assert _login(app, "boss", BOX_PASSWORDS["boss"]).status_code == 200  # other accounts, same client: fine

    clock.t += 600
    r = _login(app, "li", BOX_PASSWORDS["li"])
    assert r.status_code == 429 and r.headers["Retry-After"] == "300" and "try again in 300 s" in r.json()["detail"]
    clock.t += 300  # the lockout is over
    r = _login(app, "li", BOX_PASSWORDS["li"])
    assert r.status_code == 200 and r.json()["user"]["username"] == "li"

    locked = audit.entries(db, action="login.locked")[0]
    assert [(e.target, e.detail["scope"], e.detail["failures"], e.client) for e in locked] == [("li", "account", 5, "10.0.0.1")]
    failed = audit.entries(db, action="login.failed", limit=100)[0]
    assert sum(1 for e in failed if e.target == "li" and not e.detail) == 5  # the wrong passwords
    refused = [e for e in failed if e.detail.get("refused")]
    assert len(refused) == 3 and {e.detail["refused"] for e in refused} == {"account locked"}


def test_box_success_resets_the_count_and_old_failures_expire(box) -> None:
    app, _, clock = box
    for _ in range(4):
        assert _login(app, "li", "not-the-password").status_code == 401
    assert _login(app, "li", BOX_PASSWORDS["li"]).status_code == 200  # forgives the four
    for _ in range(4):
        assert _login(app, "li", "not-the-password").status_code == 401
    clock.t += 901  # those four fall out of the 15-minute window
    assert _login(app, "li", "not-the-password").status_code == 401
    assert _login(app, "li", BOX_PASSWORDS["li"]).status_code == 200


def test_box_locks_a_client_spraying_many_usernames(box) -> None:
    app, db, clock = box
    for i in range(20):  # one guess each at 20 names: no account reaches 5
        assert _login(app, f"guess-{i}", "Password2024!", client="10.0.0.66").status_code == 401
    r = _login(app, "li", BOX_PASSWORDS["li"], client="10.0.0.66")
    assert r.status_code == 429 and r.headers["Retry-After"] == "900"
    assert r.json()["detail"] == "too many failed sign-ins from 10.0.0.66; try again in 900 s"
    assert _login(app, "li", BOX_PASSWORDS["li"], client="10.0.0.7").status_code == 200  # others are not locked out
    locked = audit.entries(db, action="login.locked")[0]
    assert [(e.target, e.detail["scope"], e.detail["failures"]) for e in locked] == [("10.0.0.66", "client", 20)]
    clock.t += 900
    assert _login(app, "li", BOX_PASSWORDS["li"], client="10.0.0.66").status_code == 200


def test_box_lockout_settings_come_from_the_review_section(tmp_path) -> None:
    cfg = _box_config(tmp_path, login_max_failures=2, login_lockout_s=60)
    assert (cfg.review.login_window_s, cfg.review.login_client_max_failures) == (900, 20)  # the defaults
    db = open_database(cfg.database_url)
    try:
        users.create_user(db, "li", BOX_PASSWORDS["li"], "officer")
        app = create_app(cfg, db)  # its own throttle, made from cfg.review on the first sign-in
        assert [_login(app, "li", "wrong-password-x").status_code for _ in range(2)] == [401, 401]
        r = _login(app, "li", BOX_PASSWORDS["li"])
        assert r.status_code == 429 and 55 <= int(r.headers["Retry-After"]) <= 60
    finally:
        db.close()
    with pytest.raises(Exception, match="login_max_failures"):
        _box_config(tmp_path, login_max_failures=0)


# -- the lockout: the centre ------------------------------------------------------------------


def test_centre_locks_an_account_and_audits_it(centre) -> None:
    app, store, clock = centre
    for _ in range(5):
        assert _login(app, "disp", "wrong-password-1").status_code == 401
    r = _login(app, "disp", CENTRE_PASSWORDS["disp"])
    assert r.status_code == 429 and r.headers["Retry-After"] == "900"
    assert r.json()["detail"] == "too many failed sign-ins for disp; try again in 900 s"
    assert _login(app, "root", CENTRE_PASSWORDS["root"]).status_code == 200
    clock.advance(seconds=899)
    assert _login(app, "disp", CENTRE_PASSWORDS["disp"]).headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert _login(app, "disp", CENTRE_PASSWORDS["disp"]).status_code == 200

    [locked] = _centre_audit(store, "login.locked")
    assert locked.subject == "user:disp" and locked.at == T0
    assert json.loads(locked.payload)["detail"] == {"client": "10.0.0.1", "scope": "account", "failures": 5,
                                                    "lockout_s": 900, "window_s": 900}
    failed = _centre_audit(store, "login.failed")
    assert len(failed) == 7 and {f.subject for f in failed} == {"user:disp"}  # 5 wrong, 2 refused while locked
    assert sum(1 for f in failed if "refused" in json.loads(f.payload)["detail"]) == 2


def test_centre_locks_a_client_and_takes_its_settings(tmp_path) -> None:
    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    try:
        cfg = CentreConfig(database_url="sqlite://", auth={"login_client_max_failures": 3, "login_lockout_s": 120})
        clock = FakeClock(T0)
        accounts.create_user(store, "root", CENTRE_PASSWORDS["root"], "admin", now=clock())
        app = create_centre_app(cfg, store, clock=clock)
        for name in ("zhang", "wang", "zhao"):
            assert _login(app, name, "Guessing-2024", client="192.0.2.9").status_code == 401
        r = _login(app, "root", CENTRE_PASSWORDS["root"], client="192.0.2.9")
        assert r.status_code == 429 and r.headers["Retry-After"] == "120"
        assert r.json()["detail"] == "too many failed sign-ins from 192.0.2.9; try again in 120 s"
        assert _login(app, "root", CENTRE_PASSWORDS["root"], client="192.0.2.10").status_code == 200
        assert [e.subject for e in _centre_audit(store, "login.locked")] == ["client:192.0.2.9"]
        clock.advance(seconds=120)
        assert _login(app, "root", CENTRE_PASSWORDS["root"], client="192.0.2.9").status_code == 200
    finally:
        store.close()


def test_throttle_on_its_own() -> None:
    clock = Seconds()
    t = LoginThrottle(max_failures=2, client_max_failures=3, window_s=10, lockout_s=30, clock=clock)
    assert t.failed("a", "c1") == [] and t.locked("a", "c1") is None
    [lock] = t.failed("a", "c1")
    assert (lock.scope, lock.key, lock.retry_after_s, lock.failures) == ("account", "a", 30, 2)
    assert t.locked("a", None).headers == {"Retry-After": "30"}
    assert [x.scope for x in t.failed("b", "c1")] == ["client"]  # the client's third failure
    assert t.locked("nobody", "c1").key == "c1" and t.locked("nobody", "c2") is None
    clock.t += 29.5
    assert t.locked("a", None).retry_after_s == 1  # rounded up, never 0
    clock.t += 0.5
    assert t.locked("a", "c1") is None
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=0)


# -- the password policy ----------------------------------------------------------------------

REFUSED = [  # (password, the rule its message names), for the username "zhang.wei.01"
    ("Short-1", "at least 10 characters"),
    ("zhang.wei.01", "username"),
    ("my-ZHANG.WEI.01-2024", "username"),
    ("aaaaaaaaaaaa", "one character repeated"),
    ("abababababab", "short piece repeated"),
    ("12345678901", "run of characters"),
    ("abcdefghijk", "run of characters"),
    ("qwertyuiop", "run of characters"),
    ("9876543210", "run of characters"),
    ("woaini1314", "too common"),
    ("iloveyou123", "too common"),
    ("1qaz2wsx3edc", "run of characters"),  # down the keyboard's columns
    ("Password2024!", "common password with digits or symbols added"),
]


@pytest.mark.parametrize("password, rule", REFUSED)
def test_policy_names_the_rule(password: str, rule: str) -> None:
    with pytest.raises(Invalid, match=rule):
        check_password_policy(password, "zhang.wei.01")


def test_policy_accepts_good_passwords_and_ships_its_list() -> None:
    assert MIN_PASSWORD_CHARS == 10
    for good in ("Willow-bridge-17", "correct horse battery", "长城-Great-Wall-9", "li-reliable-2024"):
        assert check_password_policy(good, "li") == good  # a 2-letter name inside a password is no match
    listed = common_passwords()
    assert len(listed) >= 300
    assert {"12345678", "password", "password1", "qwerty123", "1234567890", "iloveyou", "admin123", "letmein",
            "5201314", "woaini1314", "88888888", "11111111", "123123123", "a1b2c3d4"} <= listed


@pytest.mark.parametrize("password, rule", REFUSED)
def test_box_and_centre_refuse_weak_passwords(tmp_path, password: str, rule: str) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'box.db'}")
    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    try:
        with pytest.raises(Invalid, match=rule):
            users.create_user(db, "zhang.wei.01", password, "officer")
        with pytest.raises(Invalid, match=rule):
            accounts.create_user(store, "zhang.wei.01", password, "dispatcher", now=T0)
    finally:
        db.close()
        store.close()


def test_weak_passwords_through_both_apis(box, centre) -> None:
    app, _, _ = box
    boss = sign_in(TestClient(app), "boss", BOX_PASSWORDS["boss"])
    r = boss.post("/api/users", json={"username": "zhou", "password": "88888888", "role": "viewer"})
    assert r.status_code == 422 and "at least 10 characters" in r.json()["detail"]
    r = boss.post("/api/users", json={"username": "zhou", "password": "zhou-19900101", "role": "viewer"})
    assert r.status_code == 422 and "username" in r.json()["detail"]
    r = boss.patch("/api/users/li", json={"password": "1234567890"})
    assert r.status_code == 422 and "run of characters" in r.json()["detail"]
    assert boss.post("/api/users", json={"username": "zhou", "password": "Lantern-field-55", "role": "viewer"}).status_code == 201

    capp, _, _ = centre
    root = sign_in(TestClient(capp), "root", CENTRE_PASSWORDS["root"])
    r = root.post("/api/users", json={"username": "sun", "password": "woaini1314", "role": "dispatcher"})
    assert r.status_code == 422 and "too common" in r.json()["detail"]
    r = root.patch("/api/users/disp", json={"password": "5201314520"})
    assert r.status_code == 422 and "too common" in r.json()["detail"]
    assert root.post("/api/users", json={"username": "sun", "password": "Lantern-field-55", "role": "dispatcher"}).status_code == 201


# -- the last admin ---------------------------------------------------------------------------


def test_box_keeps_its_last_admin(box) -> None:
    app, db, _ = box
    boss = sign_in(TestClient(app), "boss", BOX_PASSWORDS["boss"])
    for change in ({"role": "officer"}, {"disabled": True}):
        r = boss.patch("/api/users/boss", json=change)
        assert r.status_code == 409
        assert r.json()["detail"] == "'boss' is the last active admin and cannot be demoted or disabled; make another admin first"
    assert boss.patch("/api/users/li", json={"role": "admin"}).json()["role"] == "admin"
    assert boss.patch("/api/users/boss", json={"role": "officer"}).json()["role"] == "officer"
    with pytest.raises(Conflict, match="last active admin"):
        users.update_user(db, "li", disabled=True)


def test_centre_keeps_its_last_admin_and_updates_users(centre) -> None:
    app, store, _ = centre
    root = sign_in(TestClient(app), "root", CENTRE_PASSWORDS["root"])
    for change in ({"role": "dispatcher"}, {"disabled": True}):
        r = root.patch("/api/users/root", json=change)
        assert r.status_code == 409
        assert r.json()["detail"] == "'root' is the last active admin and cannot be demoted or disabled; make another admin first"
    # A handler keeps its department unless the role changes; a new role brings its own binding.
    assert root.patch("/api/users/traf", json={"department": "town"}).json()["department"] == "town"
    r = root.patch("/api/users/traf", json={"role": "street_chief"})
    assert r.status_code == 422 and "street chief is bound to a street" in r.json()["detail"]
    r = root.patch("/api/users/traf", json={"role": "street_chief", "street": "人民路"})
    assert r.json() == {"username": "traf", "role": "street_chief", "department": None, "street": "人民路"}
    assert root.patch("/api/users/ghost", json={"disabled": True}).status_code == 404
    # A new password signs the user out; disabling too.
    disp = sign_in(TestClient(app), "disp", CENTRE_PASSWORDS["disp"])
    assert root.patch("/api/users/disp", json={"password": "Velvet-harbour-88"}).status_code == 200
    assert disp.get("/api/auth/me").status_code == 401
    assert _login(app, "disp", "Velvet-harbour-88").status_code == 200
    assert root.patch("/api/users/disp", json={"role": "admin"}).json()["role"] == "admin"
    assert root.patch("/api/users/root", json={"disabled": True}).status_code == 200  # another admin now
    assert _login(app, "root", CENTRE_PASSWORDS["root"]).status_code == 401
    with pytest.raises(Conflict, match="last active admin"):
        accounts.update_user(store, "disp", role="dispatcher", now=T0)
    assert "user.update" in {e.action for e in _centre_audit(store, "user.update")}


# -- the empty case, the article --------------------------------------------------------------


def test_a_case_with_no_events_is_not_exported(box, tmp_path) -> None:
    app, db, _ = box
    li = sign_in(TestClient(app), "li", BOX_PASSWORDS["li"])
    cid = li.post("/api/cases", json={"title": "nothing yet"}).json()["id"]
    r = li.get(f"/api/cases/{cid}/export")
    assert r.status_code == 409 and r.json()["detail"] == f"case {cid} has no events to export"
    out = tmp_path / "empty.zip"
    with pytest.raises(Conflict, match=f"case {cid} has no events to export"):
        build_case_export(db, cid, tmp_path, out, exported_by="li")
    assert not out.exists() and cases.get_case(db, cid).event_ids == []
    assert audit.entries(db, action="case.export")[1] == 0


def test_roles_take_the_right_article(box, centre) -> None:
    assert [with_article(r) for r in ("admin", "officer", "viewer", "dispatcher", "handler", "street_chief")] == [
        "an admin", "an officer", "a viewer", "a dispatcher", "a handler", "a street_chief"]
    app, _, _ = box
    r = sign_in(TestClient(app), "li", BOX_PASSWORDS["li"]).get("/api/users")
    assert r.status_code == 403 and r.json()["detail"] == "this needs the admin role; li is an officer"
    r = sign_in(TestClient(app), "wu", BOX_PASSWORDS["wu"]).post("/api/cases", json={"title": "x"})
    assert r.status_code == 403 and r.json()["detail"] == "this needs the officer role; wu is a viewer"
    capp, store, _ = centre
    r = sign_in(TestClient(capp), "traf", CENTRE_PASSWORDS["traf"]).get("/api/users")
    assert r.status_code == 403 and r.json()["detail"] == "this needs the role admin; traf is a handler"
    with pytest.raises(Invalid, match="only handlers are bound to a department, not an admin"):
        accounts.create_user(store, "xu", "Lantern-field-55", "admin", department="traffic", now=T0)
