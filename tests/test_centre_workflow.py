"""The centre's closed loop on a real database (SQLite and a real PostgreSQL server), driven by
a fake clock: 立案 -> 派遣 -> reminder -> escalation -> 处置 (note + real photo) -> 核查 -> 结案,
and 回头看 when the re-inspection still sees the violation. Events and re-inspection answers
enter through the centre's own ingest functions (records.py) with the boxes' message format.
Roles through the real API; statistics follow from the cases made.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from api_client import sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from epatrol.centre import accounts, audit, records, stats, workflow
from epatrol.centre.accounts import Person
from epatrol.centre.app import create_centre_app
from epatrol.centre.cases import CaseHandling, CentreCase
from epatrol.centre.config import CentreConfig
from epatrol.common import messages as m
from epatrol.common.errors import Conflict, NotFound
from epatrol.migrations import open_centre_store

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "media" / "dhaka-handcart.jpg"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai, 2 November
DISPATCHER = Person("disp", "dispatcher")
ENFORCER = Person("enf", "handler", department="enforcement")
TRAFFIC = Person("traf", "handler", department="traffic")
TOWN = Person("town", "handler", department="town")


class FakeClock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> datetime:
        self.t += timedelta(**kw)
        return self.t


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'centre.db'}"
    else:
        from pg import pg_unavailable_reason

        if (why := pg_unavailable_reason()) is not None:
            pytest.skip(why)
        url = request.getfixturevalue("postgres").create_database(f"centre_{tmp_path.name.lower()[-40:]}".replace("-", "_"))
    st = open_centre_store(url)
    yield st
    st.close()


@pytest.fixture
def wf():
    return CentreConfig(database_url="sqlite://").workflow


_seq = iter(range(1, 10**6))


def report_event(store, *, box="box-a", edge_id=1, camera="cam-1", street="人民路", grid="G-01",
                 violation="parked_bikes", zone="footway", review="confirmed", at=T0) -> None:
    """What a box's uplink delivers: the whole current state of one event (messages.py, v1)."""
    seq = next(_seq)
    facts = m.EventFacts(
        id=edge_id, camera=m.CameraFacts(camera, f"测试 {camera}", "business", street, grid), zone=zone,
        violation=violation, started_at=at, alerted_at=at + timedelta(seconds=20), ended_at=None, end_reason=None,
        review_state=review, clip_state="complete", model_name="yolov8n_int8", model_sha256="0" * 64,
    )
    with store.write() as s:
        records.ingest_event(s, m.dump(m.Message(box, seq, f"{box}:{seq}", "event", event=facts)))


def answer(store, case_id: int, state: str, *, snapshot_state: str = "verified") -> None:
    """The box's re-inspection answer, then the centre's check of its snapshot (ingest.py does both)."""
    with store.write() as s:
        case = s.get(CentreCase, case_id)
        insp = s.get(records.CentreInspection, case.inspection_id)
        seq = next(_seq)
        sha = hashlib.sha256(f"snapshot {seq}".encode()).hexdigest()
        ans = m.InspectionAnswer(insp.request_id, state, T0, sha, f"{insp.box_id}/inspect/{sha}")
        records.ingest_inspection(s, m.dump(m.Message(insp.box_id, seq, f"{insp.box_id}:{seq}", "inspection", inspection=ans)))
        insp.snapshot_state = snapshot_state


def tick(store, wf, clock) -> workflow.TickReport:
    with store.write() as s:
        return workflow.tick(s, wf, clock())


def case_of(store, case_id: int) -> CentreCase:
    with store.read() as s:
        return s.get(CentreCase, case_id)


def handle(store, case_id: int, who: Person, clock, note="摊位已清理 stall cleared") -> str:
    with store.write() as s:
        sha = workflow.store_photo(s, PHOTO.read_bytes(), "image/jpeg", who, clock(), 8 * 2**20)
        workflow.handle(s, case_id, who, clock(), note, sha)
    return sha


def trail(store, case_id: int) -> list[str]:
    with store.read() as s:
        rows = s.scalars(select(audit.CentreAuditEntry).where(audit.CentreAuditEntry.subject == f"case:{case_id}")
                         .order_by(audit.CentreAuditEntry.seq))
        return [e.action for e in rows]


def test_confirmed_event_to_closed_case(store, wf):
    clock = FakeClock(T0)
    report_event(store, review="pending")
    assert tick(store, wf, clock).filed == []  # only confirmed events become cases
    report_event(store, review="confirmed")  # the box's officer confirmed it (newer seq)
    case_id, = tick(store, wf, clock).filed
    case = case_of(store, case_id)
    assert (case.state, case.street, case.grid, case.violation, case.box_id) == ("filed", "人民路", "G-01", "parked_bikes", "box-a")
    assert tick(store, wf, clock).filed == []  # one case per event, however often the tick runs

    clock.advance(minutes=10)
    with store.write() as s:
        with pytest.raises(Conflict, match="only a dispatcher"):
            workflow.dispatch(s, wf, case_id, ENFORCER, clock())
    with store.write() as s:
        workflow.dispatch(s, wf, case_id, DISPATCHER, clock())
    with store.read() as s:
        case = workflow._case(s, case_id, with_departments=True)
        # parked bikes: the enforcement bureau leads, with the traffic police brigade
        assert [d.department for d in case.departments] == ["enforcement", "traffic"]
        assert case.due_at == clock() + timedelta(hours=4)

    clock.advance(hours=2)
    assert not tick(store, wf, clock)  # nothing due yet
    clock.advance(hours=1, minutes=30)  # 30 min before the deadline: inside the 1 h reminder window
    assert tick(store, wf, clock).reminded == [case_id]
    assert tick(store, wf, clock).reminded == []  # once per round
    clock.advance(minutes=31)  # overdue
    assert tick(store, wf, clock).escalated == [case_id]
    assert case_of(store, case_id).escalation_level == 1
    clock.advance(hours=4)  # a further escalate_every_s
    assert tick(store, wf, clock).escalated == [case_id]
    assert case_of(store, case_id).escalation_level == 2

    with store.write() as s, pytest.raises(NotFound):
        workflow.handle(s, case_id, TOWN, clock(), "not ours", "0" * 64)  # the town office has no part in it
    sha = handle(store, case_id, TRAFFIC, clock)
    assert sha == hashlib.sha256(PHOTO.read_bytes()).hexdigest()
    case = case_of(store, case_id)
    assert case.state == "reinspecting"
    with store.read() as s:
        insp = s.get(records.CentreInspection, case.inspection_id)
        assert (insp.box_id, insp.camera_id, insp.zone, insp.violation, insp.case_id, insp.state) == (
            "box-a", "cam-1", "footway", "parked_bikes", case_id, "requested")
        assert s.scalar(select(CaseHandling.note).where(CaseHandling.case_id == case_id)) == "摊位已清理 stall cleared"

    clock.advance(hours=1)
    assert not tick(store, wf, clock).closed  # not answered yet
    answer(store, case_id, "clean")
    clock.advance(minutes=5)
    assert tick(store, wf, clock).closed == [case_id]
    case = case_of(store, case_id)
    assert case.state == "closed" and case.closing_inspection_id == insp.id and case.ever_overdue
    assert trail(store, case_id) == ["case.file", "case.dispatch", "case.remind", "case.escalate", "case.escalate",
                                     "case.handle", "case.reinspect", "case.close"]
    with store.read() as s:
        assert audit.verify(s).problems == []


def test_violation_still_there_reopens_the_case(store, wf):
    clock = FakeClock(T0)
    report_event(store, violation="street_vending", edge_id=7)
    case_id, = tick(store, wf, clock).filed
    with store.write() as s:
        workflow.dispatch(s, wf, case_id, DISPATCHER, clock())
    handle(store, case_id, ENFORCER, clock)
    answer(store, case_id, "violating")  # the camera still sees the stall: 回头看
    clock.advance(minutes=20)
    assert tick(store, wf, clock).reopened == [case_id]
    case = case_of(store, case_id)
    assert (case.state, case.reopen_count, case.inspection_id) == ("dispatched", 1, None)
    assert case.due_at == clock() + timedelta(hours=4)  # a new round with a new deadline

    handle(store, case_id, ENFORCER, clock, note="second visit")
    answer(store, case_id, "clean", snapshot_state="pending")
    assert tick(store, wf, clock).closed == []  # waits for the snapshot's SHA-256 check
    with store.write() as s:
        s.get(records.CentreInspection, case_of(store, case_id).inspection_id).snapshot_state = "verified"
    assert tick(store, wf, clock).closed == [case_id]
    assert trail(store, case_id).count("case.reinspect") == 2 and "case.reopen" in trail(store, case_id)


def test_unavailable_camera_is_asked_again(store, wf):
    clock = FakeClock(T0)
    report_event(store, violation="overflowing_bins", edge_id=3)
    case_id, = tick(store, wf, clock).filed
    with store.write() as s:
        workflow.dispatch(s, wf, case_id, DISPATCHER, clock())
    handle(store, case_id, ENFORCER, clock)
    first = case_of(store, case_id).inspection_id
    answer(store, case_id, "unavailable", snapshot_state="missing")
    assert tick(store, wf, clock).reasked == []  # not before reinspect_retry_s
    clock.advance(seconds=wf.reinspect_retry_s)
    assert tick(store, wf, clock).reasked == [case_id]
    case = case_of(store, case_id)
    assert case.state == "reinspecting" and case.inspection_id != first


def test_default_departments_follow_the_district_plan(wf):
    assert workflow.suggested_departments(wf, "street_vending") == ["enforcement"]
    assert workflow.suggested_departments(wf, "overflowing_bins") == ["enforcement"]
    assert workflow.suggested_departments(wf, "parked_bikes") == ["enforcement", "traffic"]
    assert workflow.suggested_departments(wf, "open_burning") == ["town", "enforcement"]
    assert wf.departments["enforcement"].name == "区城市管理综合执法局"
    assert wf.departments["traffic"].name == "交管大队" and wf.departments["town"].name == "街镇"


def test_workflow_config_errors_name_the_field(tmp_path):
    from epatrol.centre.config import load_centre_config
    from epatrol.common.errors import ConfigError

    bad = tmp_path / "centre.yaml"
    bad.write_text("database_url: sqlite://\nworkflow:\n  violations:\n    open_burning: {lead: fire_brigade}\n")
    with pytest.raises(ConfigError, match="violations.open_burning.lead: unknown department 'fire_brigade'"):
        load_centre_config(bad)
    bad.write_text("database_url: sqlite://\nworkflow:\n  violations:\n    parked_bike: {deadline_s: 60}\n")
    with pytest.raises(ConfigError, match="workflow.violations.parked_bike"):
        load_centre_config(bad)
    good = tmp_path / "ok.yaml"
    good.write_text("database_url: sqlite://\nworkflow:\n  violations:\n    parked_bikes: {deadline_s: 3600}\n")
    rule = load_centre_config(good).workflow.violations.parked_bikes
    assert rule.deadline_s == 3600 and rule.departments() == ["enforcement", "traffic"]  # merged over the default


# -- roles through the real API -------------------------------------------------------------

PASSWORDS = {"disp": "sends-out-pass-1", "enf": "bureau-pass-1", "traf": "brigade-pass-1", "town": "office-pass-1",
             "chief-a": "chief-pass-a1", "chief-b": "chief-pass-b1", "root": "admin-pass-1"}


@pytest.fixture
def centre(tmp_path):
    """A centre app on SQLite with one user per role and a fake clock; yields (store, clock, clients)."""
    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    clock = FakeClock(T0)
    cfg = CentreConfig(database_url="sqlite://")
    binds = {"disp": ("dispatcher", {}), "enf": ("handler", {"department": "enforcement"}),
             "traf": ("handler", {"department": "traffic"}), "town": ("handler", {"department": "town"}),
             "chief-a": ("street_chief", {"street": "人民路"}), "chief-b": ("street_chief", {"street": "解放街"}),
             "root": ("admin", {})}
    for name, (role, bind) in binds.items():
        accounts.create_user(store, name, PASSWORDS[name], role, departments=cfg.workflow.departments, now=clock(), **bind)
    app = create_centre_app(cfg, store, clock=clock)
    clients = {name: sign_in(TestClient(app), name, PASSWORDS[name]) for name in binds}  # no lifespan: no ticker
    yield store, clock, cfg, clients
    for c in clients.values():
        c.close()
    store.close()


def test_each_role_sees_and_does_only_its_part(centre):
    store, clock, cfg, api = centre
    wf = cfg.workflow
    report_event(store, edge_id=1, violation="open_burning", street="人民路", grid="G-01")
    report_event(store, edge_id=2, violation="overflowing_bins", street="解放街", grid="G-07", camera="cam-2")
    filed = tick(store, wf, clock).filed
    fire, bins = filed

    assert api["enf"].get("/api/cases").json()["total"] == 0  # filed, not yet dispatched to anyone
    assert api["disp"].get("/api/cases").json()["total"] == 2
    assert [c["id"] for c in api["chief-a"].get("/api/cases").json()["items"]] == [fire]  # their street only
    assert api["chief-b"].get(f"/api/cases/{fire}").status_code == 404

    r = api["enf"].post(f"/api/cases/{fire}/dispatch", json={})
    assert r.status_code == 403 and "dispatcher" in r.json()["detail"]
    r = api["disp"].post(f"/api/cases/{fire}/dispatch", json={})
    assert r.status_code == 200, r.text
    assert [d["code"] for d in r.json()["departments"]] == ["town", "enforcement"]
    r = api["disp"].post(f"/api/cases/{bins}/dispatch", json={"departments": ["enforcement"], "note": "环卫"})
    assert r.status_code == 200
    r = api["disp"].post(f"/api/cases/{bins}/dispatch", json={"departments": ["nobody"]})
    assert r.status_code == 409  # dispatched already
    assert api["disp"].post(f"/api/cases/{bins}/dispatch", json={}).status_code == 409

    # The traffic brigade has no part in either case: it cannot see them, read them or handle them.
    assert api["traf"].get("/api/cases").json()["total"] == 0
    assert api["traf"].get(f"/api/cases/{fire}").status_code == 404
    photo = {"photo": ("after.jpg", PHOTO.read_bytes(), "image/jpeg")}
    assert api["traf"].post(f"/api/cases/{fire}/handle", data={"note": "x"}, files=photo).status_code == 404
    assert api["town"].get(f"/api/cases/{bins}").status_code == 404
    assert [c["id"] for c in api["town"].get("/api/cases").json()["items"]] == [fire]
    assert api["disp"].post(f"/api/cases/{fire}/handle", data={"note": "x"}, files=photo).status_code == 403

    bad = {"photo": ("after.jpg", b"not a picture", "image/jpeg")}
    r = api["town"].post(f"/api/cases/{fire}/handle", data={"note": "灭火"}, files=bad)
    assert r.status_code == 422 and "photo" in r.json()["detail"]
    r = api["town"].post(f"/api/cases/{fire}/handle", data={"note": "灭火 fire out"}, files=photo)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "reinspecting" and body["handlings"][0]["by"] == "town"
    assert body["inspections"][0]["state"] == "requested"
    sha = body["handlings"][0]["photo_sha256"]
    got = api["chief-a"].get(f"/api/cases/{fire}/photos/{sha}")
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == sha
    assert api["chief-b"].get(f"/api/cases/{fire}/photos/{sha}").status_code == 404

    assert api["disp"].get("/api/users").status_code == 403
    assert {u["username"] for u in api["root"].get("/api/users").json()} >= {"disp", "enf"}
    check = api["root"].get("/api/audit/verify").json()
    assert check["problems"] == [] and check["entries"] >= 5
    actions = [e["action"] for e in api["root"].get("/api/audit").json()["items"]]
    assert {"login", "case.file", "case.dispatch", "case.handle", "case.reinspect"} <= set(actions)
    assert api["disp"].get("/api/audit").status_code == 403


def test_statistics_follow_from_the_cases(centre):
    store, clock, cfg, api = centre
    wf = cfg.workflow
    # Case 1 (人民路/G-01, parked bikes): dispatched after 10 min, handled, clean: closed at 2 h.
    report_event(store, edge_id=1)
    c1, = tick(store, wf, clock).filed
    clock.advance(minutes=10)
    with store.write() as s:
        workflow.dispatch(s, wf, c1, DISPATCHER, clock())
    clock.advance(minutes=80)
    handle(store, c1, ENFORCER, clock)
    answer(store, c1, "clean")
    clock.advance(minutes=30)
    assert tick(store, wf, clock).closed == [c1]  # closed 120 min after filing
    # Case 2 (解放街/G-07, street vending): dispatched after 30 min, goes overdue, still open.
    report_event(store, edge_id=2, camera="cam-2", street="解放街", grid="G-07", violation="street_vending")
    c2, = tick(store, wf, clock).filed
    clock.advance(minutes=30)
    with store.write() as s:
        workflow.dispatch(s, wf, c2, DISPATCHER, clock())
    clock.advance(hours=5)
    assert tick(store, wf, clock).escalated == [c2]
    # Case 3: the first case's place flagged again 5 h after it closed: a recurrence, not dispatched.
    report_event(store, edge_id=3)
    c3, = tick(store, wf, clock).filed
    assert case_of(store, c3).recurrence_of == c1

    by_street = {r["key"]: r for r in api["disp"].get("/api/stats", params={"by": "street"}).json()["rows"]}
    assert by_street["人民路"] == {"key": "人民路", "cases": 2, "open": 1, "closed": 1, "overdue": 0, "reopened": 0,
                                  "recurrences": 1, "mean_dispatch_s": 600.0, "mean_close_s": 7200.0, "close_rate": 0.5}
    assert by_street["解放街"]["overdue"] == 1 and by_street["解放街"]["mean_dispatch_s"] == 1800.0
    by_dept = {r["key"]: r for r in api["disp"].get("/api/stats", params={"by": "department"}).json()["rows"]}
    assert by_dept["enforcement"]["cases"] == 2 and by_dept["traffic"]["cases"] == 1
    assert by_dept[stats.UNASSIGNED]["cases"] == 1  # case 3, not dispatched yet
    assert by_dept["enforcement"]["mean_dispatch_s"] == 1200.0  # (600 + 1800) / 2
    by_violation = {r["key"]: r["cases"] for r in api["disp"].get("/api/stats", params={"by": "violation"}).json()["rows"]}
    assert by_violation == {"parked_bikes": 2, "street_vending": 1}
    # A street chief's statistics are their street's.
    chief = api["chief-b"].get("/api/stats", params={"by": "grid"}).json()
    assert [r["key"] for r in chief["rows"]] == ["G-07"] and chief["totals"]["cases"] == 1

    rows = list(csv.DictReader(io.StringIO(api["disp"].get("/api/stats.csv", params={"by": "street"}).text)))
    assert {r["street"]: r["cases"] for r in rows} == {"人民路": "2", "解放街": "1"}

    month = api["disp"].get("/api/reports/monthly", params={"month": "2026-11"}).json()
    assert month["totals"]["cases"] == 3 and month["since"] == "2026-10-31T16:00:00+00:00"  # Shanghai month
    assert api["disp"].get("/api/reports/monthly", params={"month": "2026-10"}).json()["totals"]["cases"] == 0
    assert api["disp"].get("/api/reports/monthly", params={"month": "2026-13"}).status_code == 422
    xlsx = api["disp"].get("/api/reports/monthly.xlsx", params={"month": "2026-11"})
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["totals", "street", "grid", "department", "violation", "responsible"]
    assert [c.value for c in wb["street"][2]][:2] == ["人民路", 2]
    assert json.loads(api["root"].get("/api/audit").json()["items"][0]["payload"])["detail"]["what"] == "monthly.xlsx 2026-11"


# -- end to end: real footage, real nats-server, real PostgreSQL ----------------------------


def test_loop_on_real_footage_closes_after_the_camera_reinspects(patrol, tmp_path, request):
    """The parked bike the real pipeline recorded from real footage travels from a box to the
    centre over JetStream (H6a's uplink, tests/test_uplink.py's parts); the box's officer
    confirms it; the centre files, dispatches and gets it handled; the re-inspection request
    goes down to the box, whose ZoneInspector judges the zone on the patrol's own samples (the
    bike has gone), and the answer's snapshot, verified at the centre, closes the case."""
    from nats_server import NatsServer, nats_binary

    if nats_binary() is None:
        pytest.skip("nats-server not installed (Debian package nats-server)")
    from test_uplink import CAMERA, Box, CentreThread, centre_cfg
    from waiting import wait_for

    from epatrol.evidence.review.decisions import decide
    from epatrol.uplink.inspect import ZoneInspector

    nats = NatsServer(tmp_path / "nats").start()
    request.addfinalizer(nats.stop)
    store = open_centre_store(request.getfixturevalue("postgres").create_database("centre_loop_real_footage"))
    wf = CentreConfig(database_url="sqlite://").workflow

    class Finished:  # the patrol's workers, stopped at the end of the footage (judges and last samples kept)
        def worker(self, camera_id):
            return patrol.workers.get(camera_id)

    box = Box("box-loop", patrol, tmp_path, nats.url, inspector=ZoneInspector(Finished(), stale_after=timedelta(days=1)))
    bike = next(e for e in box.db.list_events(camera_id=CAMERA) if e.clip)
    centre = CentreThread(centre_cfg(store.engine.url.render_as_string(hide_password=False), nats.url), store)
    try:
        try:
            decide(box.db, bike.id, "confirm", by="officer-li")
        except Conflict:
            pass  # another test of the session confirmed it on the patrol's database already
        box.sender.start()

        def filed():
            with store.write() as s:
                workflow.tick(s, wf, datetime.now(timezone.utc))
                return s.scalar(select(CentreCase.id).where(CentreCase.box_id == "box-loop"))

        case_id = wait_for(filed, 180, "the confirmed event to arrive and become a case")  # generous: a shared CPU
        case = case_of(store, case_id)
        assert (case.camera_id, case.violation, case.street, case.grid) == (CAMERA, "parked_bikes", "解放路街道", "网格-07")
        with store.write() as s:
            workflow.dispatch(s, wf, case_id, DISPATCHER, datetime.now(timezone.utc))
        handle(store, case_id, TRAFFIC, lambda: datetime.now(timezone.utc), note="车辆已移走 bike moved")

        seen: dict = {}

        def closed():
            with store.write() as s:
                done = workflow.tick(s, wf, datetime.now(timezone.utc)).closed
                c = s.get(CentreCase, case_id)
                insp = s.get(records.CentreInspection, c.inspection_id) if c.inspection_id else None
                seen.update(case=c.state, inspection=None if insp is None else (insp.state, insp.snapshot_state, insp.details))
            return done or None

        try:
            assert wait_for(closed, 180, "the box's re-inspection to answer and the case to close") == [case_id]
        except AssertionError as e:
            raise AssertionError(f"{e}; last seen {seen}, box sender {dict(box.sender.stats)}, "
                                 f"centre ingest {dict(centre.ingest.stats)}") from None
    finally:
        centre.stop()
        box.close()
    with store.read() as s:
        case = s.get(CentreCase, case_id)
        insp = s.get(records.CentreInspection, case.closing_inspection_id)
        assert (insp.state, insp.snapshot_state, insp.box_id, insp.zone) == ("clean", "verified", "box-loop", "wall-footway")
        assert len(insp.snapshot_sha256) == 64 and audit.verify(s).problems == []
    assert trail(store, case_id) == ["case.file", "case.dispatch", "case.handle", "case.reinspect", "case.close"]
    store.close()


def test_centre_user_command_binds_roles(tmp_path, monkeypatch, capsys):
    import argparse

    from epatrol.cli_centre_users import add_parsers

    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    config = tmp_path / "centre.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'centre.db'}\n")

    def run(*argv: str, stdin: str = "") -> int:
        import io as _io

        monkeypatch.setattr("sys.stdin", _io.StringIO(stdin))
        args = parser.parse_args(list(argv))
        return args.standalone(args)

    assert run("centre-user", "add", "-c", str(config), "wang", "--role", "handler", "--department", "traffic",
               "--password-stdin", stdin="traffic-pass-9\n") == 0
    assert run("centre-user", "add", "-c", str(config), "zhao", "--role", "handler", "--department", "fire",
               "--password-stdin", stdin="fire-pass-99\n") == 1
    assert "unknown department 'fire'" in capsys.readouterr().err
    assert run("centre-user", "add", "-c", str(config), "chen", "--role", "street_chief",
               "--password-stdin", stdin="chief-pass-9\n") == 1
    assert "street" in capsys.readouterr().err
    assert run("centre-user", "list", "-c", str(config)) == 0
    assert capsys.readouterr().out.splitlines() == ["wang\thandler\ttraffic\t"]


def test_the_app_ticks_by_itself_while_it_runs(tmp_path):
    """With the server's lifespan on (as `epatrol centre` runs it), confirmed events become cases
    without anyone asking."""
    from waiting import wait_for

    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    cfg = CentreConfig(database_url="sqlite://", workflow={"tick_every_s": 0.1})
    report_event(store, edge_id=5, violation="open_burning")
    with TestClient(create_centre_app(cfg, store)):  # the context runs the lifespan: the ticker starts
        wait_for(lambda: case_count(store) == 1, 20, "the ticker to file the case")
    with store.read() as s:
        assert s.scalar(select(CentreCase.violation)) == "open_burning"
    store.close()


def case_count(store) -> int:
    from sqlalchemy import func

    with store.read() as s:
        return s.scalar(select(func.count()).select_from(CentreCase))
