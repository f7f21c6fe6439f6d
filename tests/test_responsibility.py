"""门前三包 and district-defined violations, box to centre, on real parts.

The real pipeline (real model, the real parked-bike footage) patrols a shopfront zone that names
the unit answering for it, with a violation defined only in the configuration: the recorded event's
details carry its label, its lead department and the unit (recording/context.py); the case export
carries them too and still verifies. The same event reaches a real centre database (SQLite and a
real PostgreSQL server) through the centre's ingest functions in the boxes' message format: it is
filed to the department the event names, carries the unit, is counted per unit, and notifying the
unit or dispatching to it goes into the hash-chained audit trail.
"""

from __future__ import annotations

import json
import threading
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from conftest import camera_entry, make_config
from test_centre_workflow import (
    DISPATCHER,
    ENFORCER,
    TOWN,
    FakeClock,
    case_of,
    handle,
    tick,
    trail,
)

from epatrol.centre import audit, records, responsibility, stats, workflow
from epatrol.centre.config import CentreConfig
from epatrol.common import messages as m
from epatrol.common.errors import ConfigError, Conflict, NotFound
from epatrol.config import parse_config
from epatrol.evidence.export.case_export import build_case_export
from epatrol.evidence.export.export_check import verify_export
from epatrol.evidence.review import cases, decisions
from epatrol.migrations import open_centre_store, open_database
from epatrol.supervisor import run_cameras

SHOP = {"name": "张记小吃", "contact": "0571-8888 8888", "licence": "92330100MA2H123X4Y"}
LABEL = {"zh": "门前乱停车", "en": "bikes left at a shopfront"}
SHOPFRONT = {
    "name": "shopfront",
    "polygon": [[0.30, 0.45], [1.00, 0.45], [1.00, 1.00], [0.30, 1.00]],  # where the bike is left
    "violations": ["bikes_at_shop"],
    "responsible": SHOP,
}
CUSTOM = {"bikes_at_shop": {"rule": "dwell", "classes": ["bicycle"], "dwell_s": 20, "sample_every_s": 1.0,
                            "end_after_s": 30, "labels": LABEL, "department": "town"}}
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def shopfront(tmp_path_factory, footage, detector):
    """The parked-bike footage through the real pipeline, watched by the district's own rule."""
    storage = tmp_path_factory.mktemp("shopfront")
    raw = make_config(storage, [camera_entry("shop-1", footage["parked_bike.mp4"], SHOPFRONT)])
    raw["violations"]["custom"] = CUSTOM
    cfg = parse_config(raw)
    db = open_database(cfg.database_url)
    run_cameras(cfg, detector, db, threading.Event())  # ~10 s here: 60 s of footage sampled each second
    events = db.list_events(camera_id="shop-1")
    assert len(events) == 1, events
    yield cfg, db, events[0]
    db.close()


def test_recorded_event_carries_its_context_from_the_config(shopfront, patrol):
    _, _, ev = shopfront
    assert ev.violation == "bikes_at_shop" and ev.zone == "shopfront"
    assert ev.details["violation_label"] == LABEL
    assert ev.details["lead_department"] == "town"
    assert ev.details["responsible"] == SHOP
    # A built-in violation gets its label and no lead (the centre's own rules decide it), a zone naming nobody no unit.
    bike = patrol.db.list_events(camera_id="wall-street-1")[0]
    assert bike.details["violation_label"] == {"zh": "非机动车乱停放", "en": "parked bikes"}
    assert "lead_department" not in bike.details and "responsible" not in bike.details


def test_responsible_is_checked_when_the_config_is_read(tmp_path, footage):
    def zone(responsible):
        raw = make_config(tmp_path, [camera_entry("c", footage["parked_bike.mp4"], {**SHOPFRONT, "responsible": responsible})])
        raw["violations"]["custom"] = CUSTOM
        return parse_config(raw).cameras[0].zones[0].responsible

    assert zone({"name": "李记"}).contact is None  # contact and licence are optional
    for bad, field in (({"contact": "1"}, "name"), ({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
                       ({"name": "李记", "licence": "9" * 65}, "licence"), ({"name": "李记", "phone": "1"}, "phone")):
        with pytest.raises(ConfigError, match=rf"responsible\.{field}"):
            zone(bad)


def test_export_names_the_unit_and_the_violation(shopfront, tmp_path):
    cfg, db, ev = shopfront
    decisions.decide(db, ev.id, "confirm", "officer-li")
    case = cases.create_case(db, "张记小吃门前", "officer-li")
    cases.add_event(db, case.id, ev.id, "officer-li")
    out = tmp_path / "case.zip"
    build_case_export(db, case.id, cfg.storage.root, out, exported_by="officer-li")
    with zipfile.ZipFile(out) as zf:
        record = json.loads(zf.read(f"events/{ev.id}.json"))
        summary = zf.read("summary.txt").decode("utf-8")
    assert record["responsible"] == SHOP and record["violation_label"] == LABEL
    assert "门前乱停车 / bikes left at a shopfront [bikes_at_shop]" in summary
    assert "张记小吃, 联系 contact 0571-8888 8888, 执照 licence 92330100MA2H123X4Y" in summary
    report = verify_export(out)
    assert report.ok, report.problems


# -- the centre ----------------------------------------------------------------------------------

_seq = iter(range(10**6, 2 * 10**6))


def deliver(store, ev, *, box="box-shop", edge_id=None, review="confirmed", details=None, zone=None) -> None:
    """The box's uplink message of a recorded event (messages.py, v1), applied by the centre's ingest."""
    seq = next(_seq)
    facts = m.EventFacts(
        id=edge_id or ev.id, camera=m.CameraFacts(ev.camera_id, ev.camera_name, ev.site, "人民路", "G-01"),
        zone=zone or ev.zone, violation=ev.violation, started_at=ev.started_at, alerted_at=ev.alerted_at,
        ended_at=ev.ended_at, end_reason=ev.end_reason, review_state=review, clip_state=ev.clip_state,
        model_name=ev.model_name, model_sha256=ev.model_sha256, details=ev.details if details is None else details,
    )
    with store.write() as s:
        records.ingest_event(s, m.dump(m.Message(box, seq, f"{box}:{seq}", "event", event=facts)))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'centre.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"resp_{tmp_path.name.lower()[-40:]}".replace("-", "_"))
    st = open_centre_store(url)
    yield st
    st.close()


def test_custom_violation_is_filed_to_the_events_department_with_its_unit(store, shopfront):
    _, _, ev = shopfront
    wf = CentreConfig(database_url="sqlite://").workflow  # no rule for bikes_at_shop here
    clock = FakeClock(T0)
    deliver(store, ev)
    case_id, = tick(store, wf, clock).filed
    case = case_of(store, case_id)
    assert (case.violation, case.lead_department, case.violation_label) == ("bikes_at_shop", "town", LABEL)
    assert (case.responsible_name, case.responsible_contact, case.responsible_licence) == tuple(SHOP.values())

    # Notify the unit: recorded with who, when and the contact used (the centre itself sends nothing).
    clock.advance(minutes=5)
    with store.write() as s, pytest.raises(NotFound):
        responsibility.notify(s, case_id, TOWN, clock(), "not dispatched to the town office yet")
    with store.write() as s:
        responsibility.notify(s, case_id, DISPATCHER, clock(), "电话告知 请今日清理")
    # Dispatch it to the unit: the lead (from the event) and the default rule's deadline.
    with store.write() as s:
        workflow.dispatch(s, wf, case_id, DISPATCHER, clock(), to_responsible=True)
    case = case_of(store, case_id)
    assert case.state == "dispatched" and case.responsible_handles and case.responsible_notified_at == clock()
    assert case.due_at == clock() + timedelta(seconds=wf.default_rule.deadline_s)
    with pytest.raises(NotFound):
        handle(store, case_id, ENFORCER, clock)  # only the lead's department: enforcement has no part
    handle(store, case_id, TOWN, clock, note="商户已自行清理 the shop cleared it")
    assert trail(store, case_id) == ["case.file", "case.notify_responsible", "case.dispatch", "case.notify_responsible",
                                     "case.handle", "case.reinspect"]
    with store.read() as s:
        notices = [json.loads(e.payload) for e in s.query(audit.CentreAuditEntry)
                   .filter_by(subject=f"case:{case_id}", action="case.notify_responsible").order_by(audit.CentreAuditEntry.seq)]
        assert audit.verify(s).problems == []
    assert notices[0]["actor"] == "disp" and notices[0]["detail"]["contact"] == SHOP["contact"]
    assert notices[0]["detail"]["unit"] == SHOP["name"] and notices[0]["detail"]["note"] == "电话告知 请今日清理"

    # Statistics per responsible unit: a second event at a spot nobody answers for.
    deliver(store, ev, edge_id=ev.id + 1000, zone="corner", details={**ev.details, "responsible": None, "lead_department": "nobody"})
    other, = tick(store, wf, clock).filed
    assert case_of(store, other).lead_department == wf.default_department  # an unknown code: the default leads
    # And a shop of the same name with another business licence, next door: another unit.
    namesake = {**SHOP, "licence": "92330100MA2H999Z9Z"}
    deliver(store, ev, edge_id=ev.id + 2000, zone="next-door", details={**ev.details, "responsible": namesake})
    tick(store, wf, clock)
    with store.read() as s:
        rows = {r.key: r.cases for r in stats.group(stats.cases_in(s, DISPATCHER, None, None), "responsible")}
    assert rows == {f"张记小吃 ({SHOP['licence']})": 1, f"张记小吃 ({namesake['licence']})": 1, stats.UNASSIGNED: 1}
    with store.write() as s, pytest.raises(Conflict, match="names no responsible unit"):
        workflow.dispatch(s, wf, other, DISPATCHER, clock(), to_responsible=True)


def test_centre_rule_for_a_custom_violation_decides(tmp_path, shopfront):
    _, _, ev = shopfront
    wf = CentreConfig(database_url="sqlite://", workflow={
        "violations": {"bikes_at_shop": {"lead": "traffic", "assist": ["town"], "deadline_s": 600}},
        "default_rule": {"remind_before_s": 60}}).workflow
    assert workflow.suggested_departments(wf, "bikes_at_shop", "town") == ["traffic", "town"]  # the rule over the event
    assert wf.violations.of("bikes_at_shop").remind_before_s == 60  # merged over default_rule
    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    deliver(store, ev)
    case_id, = tick(store, wf, FakeClock(T0)).filed
    with store.write() as s:
        workflow.dispatch(s, wf, case_id, DISPATCHER, T0)
    assert case_of(store, case_id).due_at == T0 + timedelta(seconds=600)
    store.close()
    with pytest.raises(ValueError, match="lead"):
        CentreConfig(database_url="sqlite://", workflow={"violations": {"bikes_at_shop": {"deadline_s": 60}}})
    with pytest.raises(ValueError, match="not a violation name"):
        CentreConfig(database_url="sqlite://", workflow={"violations": {"Bikes": {"lead": "town"}}})
    with pytest.raises(ValueError, match="default_department: unknown department 'fire'"):
        CentreConfig(database_url="sqlite://", workflow={"default_department": "fire"})


def test_case_json_notify_route_and_stats_route(shopfront, tmp_path):
    """The API: the case carries `responsible` and `violation_label`; notify and dispatch to the
    unit through their routes; the statistics and the monthly workbook count per unit."""
    import io

    from api_client import sign_in
    from fastapi.testclient import TestClient
    from openpyxl import load_workbook
    from test_centre_workflow import PASSWORDS

    from epatrol.centre import accounts
    from epatrol.centre.app import create_centre_app

    _, _, ev = shopfront
    store = open_centre_store(f"sqlite:///{tmp_path / 'centre.db'}")
    clock = FakeClock(T0)
    cfg = CentreConfig(database_url="sqlite://")
    for name, role, bind in (("disp", "dispatcher", {}), ("town", "handler", {"department": "town"}),
                             ("chief-a", "street_chief", {"street": "人民路"})):
        accounts.create_user(store, name, PASSWORDS[name], role, departments=cfg.workflow.departments, now=clock(), **bind)
    deliver(store, ev)
    case_id, = tick(store, cfg.workflow, clock).filed
    app = create_centre_app(cfg, store, clock=clock)
    api = {n: sign_in(TestClient(app), n, PASSWORDS[n]) for n in ("disp", "town", "chief-a")}
    try:
        body = api["disp"].get(f"/api/cases/{case_id}").json()
        assert body["responsible"] == SHOP and body["violation_label"] == LABEL
        assert body["suggested_departments"] == ["town"] and body["responsible_handles"] is False
        assert api["disp"].get("/api/cases").json()["items"][0]["responsible"] == SHOP
        assert api["chief-a"].post(f"/api/cases/{case_id}/notify-responsible", json={"note": "x"}).status_code == 403
        r = api["disp"].post(f"/api/cases/{case_id}/dispatch", json={"to_responsible": True, "note": "限今日整改"})
        assert r.status_code == 200, r.text
        assert r.json()["responsible_handles"] is True and [d["code"] for d in r.json()["departments"]] == ["town"]
        r = api["town"].post(f"/api/cases/{case_id}/notify-responsible", json={"note": "上门告知 visited the shop"})
        assert r.status_code == 200, r.text
        notices = [e for e in r.json()["trail"] if e["action"] == "case.notify_responsible"]
        assert [json.loads(e["payload"])["actor"] for e in notices] == ["disp", "town"]
        assert api["town"].post(f"/api/cases/{case_id}/notify-responsible", json={"note": ""}).status_code == 422
        rows = api["disp"].get("/api/stats", params={"by": "responsible"}).json()["rows"]
        assert [(r["key"], r["cases"]) for r in rows] == [(f"张记小吃 ({SHOP['licence']})", 1)]
        xlsx = api["disp"].get("/api/reports/monthly.xlsx", params={"month": "2026-11"})
        wb = load_workbook(io.BytesIO(xlsx.content))
        assert [c.value for c in wb["responsible"][2]][:2] == [f"张记小吃 ({SHOP['licence']})", 1]
        assert api["disp"].get("/api/departments").json()["default"]["departments"] == ["enforcement"]
    finally:
        for c in api.values():
            c.close()
        store.close()
