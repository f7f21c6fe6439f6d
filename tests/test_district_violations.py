"""District-defined violations (`violations.custom`): a violation type that exists only in YAML.

End to end on real parts: a count rule ("people gathering on the road", at least 3 people in the
zone for 4 s) on the campus footage served by a real RTSP server, judged by the real COCO model
through the real pipeline; the event carries its labels and department; an officer confirms it on
the review page in Chromium; its case export passes `epatrol verify-export`; the box's uplink sends
it over a real nats-server to the centre (PostgreSQL), which files it as a case led by the
department the YAML names. Plus the configuration's errors, each naming what is wrong."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import yaml
from api_client import sign_in
from browser import TIMEOUT_MS, open_page, require_chromium
from conftest import MODELS, camera_entry, make_config, patrolling
from nats_server import NatsServer, nats_binary
from rtsp import RtspServer, rtsp_unavailable_reason
from servers import serve_app
from sqlalchemy import select
from waiting import wait_for

from epatrol.cli import main as cli_main
from epatrol.config import ConfigError, CountRule, DwellRule, parse_config
from epatrol.judges import build_judges, check_custom, models_for, required_models

expect = require_chromium().expect

NAME = "crowd_on_road"
LABELS = {"zh": "人员占道聚集", "en": "people gathering on the road"}
DEPARTMENT = "town"  # not the centre's default for district violations (enforcement): it comes from the YAML
RULE = {"rule": "count", "classes": ["person"], "min_count": 3, "dwell_s": 4, "sample_every_s": 1.0, "end_after_s": 10,
        "labels": LABELS, "department": DEPARTMENT}
ZONE = {"name": "road", "polygon": [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]], "violations": [NAME]}
PASSWORD = "crowd-review-7"


def _raw(storage, url="campus.mp4", rules=None, zone=ZONE) -> dict:
    return make_config(storage, [camera_entry("campus-1", url, zone)],
                       violations={"custom": rules if rules is not None else {NAME: RULE}}, evidence={"pre_s": 3, "post_s": 3})


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(raw)
    return str(e.value)


# -- configuration ------------------------------------------------------------------------------


def test_a_custom_violation_parses_with_its_labels_department_and_judge(tmp_path):
    cfg = parse_config(_raw(tmp_path))
    rule = cfg.violations.custom[NAME]
    assert isinstance(rule, CountRule) and rule.min_count == 3 and rule.model is None
    assert cfg.violations.labels_of(NAME) == LABELS and cfg.violations.department_of(NAME) == DEPARTMENT
    assert cfg.violations.labels_of("parked_bikes") == {"zh": "非机动车乱停放", "en": "parked bikes"}
    assert cfg.violations.department_of("open_burning") is None
    assert cfg.cameras[0].zones[0].violations == [NAME]
    (judge,) = build_judges(cfg.cameras[0], cfg)
    assert judge.violation == NAME and judge.model == "yolov8n_int8" and set(judge.episodes) == {"road"}
    assert required_models(cfg) == {"yolov8n_int8"}
    # A dwell rule is the parked-bikes judge with the rule's classes, under the rule's name.
    dwell = {"rule": "dwell", "classes": ["truck"], "dwell_s": 30, "labels": {"zh": "货车占道", "en": "lorry left on the road"}}
    cfg = parse_config(_raw(tmp_path, rules={"lorry": dwell}, zone={**ZONE, "violations": ["lorry", "parked_bikes"]}))
    assert isinstance(cfg.violations.custom["lorry"], DwellRule)
    judges = {j.violation: j for j in build_judges(cfg.cameras[0], cfg)}
    assert set(judges) == {"lorry", "parked_bikes"} and judges["lorry"].classes == {"truck"}
    # What is loaded before the cameras start is read from the configuration: the models the judges run.
    assert models_for(cfg.cameras[0], cfg) == {j.model for j in judges.values()} == {"yolov8n_int8"}


def test_config_errors_name_what_is_wrong(tmp_path):
    msg = _error(_raw(tmp_path, zone={**ZONE, "violations": ["crowd_on_raod"]}))
    assert "camera campus-1 zone road: unknown violation 'crowd_on_raod'" in msg and f"overflowing_bins, open_burning, {NAME}" in msg
    msg = _error(_raw(tmp_path, rules={"parked_bikes": RULE}, zone={**ZONE, "violations": ["parked_bikes"]}))
    assert "violations.custom" in msg and "'parked_bikes' is a built-in violation" in msg
    msg = _error(_raw(tmp_path, rules={NAME: {**RULE, "dwell_s": 0.5}}))
    assert "dwell_s=0.5 is shorter than one sample (sample_every_s=1.0)" in msg
    msg = _error(_raw(tmp_path, rules={NAME: {"rule": "region_state", "labels": LABELS}}))
    assert "region_state rule needs `model`" in msg
    msg = _error(_raw(tmp_path, rules={NAME: {**RULE, "rule": "queue"}}))
    assert "'queue'" in msg and "'dwell', 'count', 'scene_change', 'region_state'" in msg
    msg = _error(_raw(tmp_path, rules={"Crowd": RULE}, zone={**ZONE, "violations": ["Crowd"]}))
    assert "'Crowd' is not a violation name" in msg


def test_a_rule_naming_a_class_its_model_lacks_is_refused_by_config_check_and_at_load(tmp_path, capsys):
    raw = _raw(tmp_path, rules={NAME: {**RULE, "classes": ["person", "skip"]}})
    cfg = parse_config(raw)
    (problem,) = check_custom(cfg, MODELS)
    assert problem.startswith(f"violations.custom.{NAME}.classes: the model yolov8n_int8 has no class 'skip' (it has: person, bicycle, car")
    with pytest.raises(ConfigError, match="has no class 'skip'"):
        build_judges(cfg.cameras[0], cfg)  # never a judge that silently finds nothing
    with pytest.raises(ConfigError, match="has no class 'skip'"):
        required_models(cfg)  # `epatrol run` says so before loading any model
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    assert cli_main(["config", "check", str(tmp_path / "config.yaml")]) == 2
    assert "has no class 'skip'" in capsys.readouterr().err
    # An unknown model, and a fitting rule: config check says OK.
    cfg = parse_config(_raw(tmp_path, rules={NAME: {**RULE, "model": "yolov9_huge"}}))
    (problem,) = check_custom(cfg, MODELS)
    assert problem.startswith(f"violations.custom.{NAME}.model: ") and "yolov9_huge" in problem and "yolov8n_int8" in problem
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(_raw(tmp_path), allow_unicode=True))
    assert cli_main(["config", "check", str(tmp_path / "good.yaml")]) == 0
    assert "1 custom violation(s)" in capsys.readouterr().out


# -- end to end ---------------------------------------------------------------------------------


@pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))
@pytest.mark.skipif(nats_binary() is None, reason="nats-server not installed (Debian package nats-server)")
def test_a_yaml_only_violation_runs_end_to_end(footage, detector, tmp_path, browser, postgres):
    from epatrol.api.app import create_app
    from epatrol.centre import workflow
    from epatrol.centre.cases import CentreCase
    from epatrol.centre.config import CentreConfig
    from epatrol.centre.ingest import CentreIngest
    from epatrol.config import Uplink
    from epatrol.evidence.export.export_check import verify_export
    from epatrol.evidence.export.signing import load_public_key
    from epatrol.evidence.review import users
    from epatrol.migrations import open_centre_store, open_database
    from epatrol.uplink.sender import UplinkSender

    # 1. A real RTSP camera, the real pipeline and model: the count rule raises its event.
    with RtspServer({"/campus": footage["campus_walkers.mp4"]}) as server:
        cfg = parse_config(_raw(tmp_path / "box", url=server.url("/campus")))
        db = open_database(cfg.database_url)
        with patrolling(cfg, detector, db):
            ev = wait_for(lambda: next((e for e in db.list_events() if e.clip_state == "complete"), None), 60, "a complete crowd event")
    assert ev.violation == NAME and ev.zone == "road" and ev.camera_id == "campus-1"
    assert ev.details["count"] >= 3 and ev.details["rule"]["kind"] == "count"
    # Sustained: min_share of the samples of the last dwell_s (4 s, one sample a second) reached the count.
    assert ev.details["samples"] >= 4 and ev.details["share"] >= 0.7
    assert 2.0 <= (ev.alerted_at - ev.started_at).total_seconds() < 7.0
    assert ev.details["violation_label"] == LABELS and ev.details["lead_department"] == DEPARTMENT
    assert {d["label"] for d in ev.detections} == {"person"} and len(ev.detections) >= 3

    # 2. An officer confirms it on the review page (Chromium), which shows the district's label.
    users.create_user(db, "district-officer", PASSWORD, "officer")
    with serve_app(create_app(cfg, db)) as site:
        page, js_errors = open_page(browser, site)
        page.fill("#login-username", "district-officer")
        page.fill("#login-password", PASSWORD)
        page.click("#login-submit")
        page.select_option("#f-state", "")  # every state: the event stays in view once confirmed
        item = page.locator(f'.queue-item[data-event-id="{ev.id}"]')
        expect(item).to_contain_text(LABELS["zh"], timeout=TIMEOUT_MS)
        item.click()
        expect(page.locator("#facts")).to_contain_text(f"{LABELS['zh']} {LABELS['en']}")
        page.keyboard.press("c")
        expect(page.locator("#event-state")).to_have_attribute("data-state", "confirmed")
        assert js_errors == []

        # 3. A case of it, exported: the package passes the export checker with the box's key.
        api = sign_in(httpx.Client(base_url=site, timeout=30), "district-officer", PASSWORD)
        case = api.post("/api/cases", json={"title": "人员占道聚集 district test"}).json()
        assert api.post(f"/api/cases/{case['id']}/events", json={"event_id": ev.id}).status_code == 200
        export = api.get(f"/api/cases/{case['id']}/export")
        assert export.status_code == 200
        package, key = tmp_path / "case.zip", tmp_path / "export.pub.pem"
        package.write_bytes(export.content)
        key.write_text(api.get("/api/system/export-key").json()["public_key_pem"])
        api.close()
    report = verify_export(package, load_public_key(key))  # what `epatrol verify-export` runs
    assert report.ok, report.problems

    # 4. The uplink takes it to the centre over NATS; the centre files a case led by the YAML's department.
    nats = NatsServer(tmp_path / "nats").start()
    store = open_centre_store(postgres.create_database("centre_district_violations"))
    centre_cfg = CentreConfig(database_url=store.engine.url.render_as_string(hide_password=False),
                              nats={"servers": [nats.url], "batch": 8, "ack_wait_s": 2})
    ingest = CentreIngest(centre_cfg, store)
    sender = UplinkSender(Uplink(box_id="district-box", servers=[nats.url], poll_s=0.2, retry_initial_s=0.2, retry_max_s=1.0),
                          db, cfg.storage.root)
    centre = threading.Thread(target=ingest.run, daemon=True)
    centre.start()
    try:
        sender.start()
        assert sender.drain(60), f"the box did not send: {dict(sender.stats)}"

        def filed():
            with store.write() as s:
                workflow.tick(s, centre_cfg.workflow, datetime.now(timezone.utc))
            with store.read() as s:
                return s.scalars(select(CentreCase).where(CentreCase.violation == NAME)).first()

        case = wait_for(filed, 60, "the centre to file the confirmed event as a case")
    finally:
        sender.stop(drain_s=0)
        ingest.stop()
        centre.join(30)
        store.close()
        nats.stop()
    assert case.lead_department == DEPARTMENT and case.violation_label == LABELS
    assert case.box_id == "district-box" and case.zone == "road" and case.state == "filed"


class _Colourful:
    """A region classifier over real crops: P(violating) grows with the share of saturated pixels
    (the judge's crop, occlusion, persistence and dismissal logic is what is under test here; the
    district's trained classifiers are tested with their models in tests/test_district_models.py)."""

    name, sha256, class_names = "colourful", "0" * 64, ("clear", "violating")

    def classify(self, crop):
        import cv2
        import numpy as np

        p = min(1.0, 2 * float((cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)[..., 1] > 100).mean()))
        return np.array([1 - p, p], np.float32)


def test_region_state_and_scene_change_rules_build_and_judge(tmp_path, shared_dir):
    import cv2
    import numpy as np

    from epatrol.detectors.region_state import RegionStateJudge
    from epatrol.detectors.street_vending import StreetVendingJudge
    from epatrol.detectors.suppression import Dismissed
    from epatrol.detectors.zones import ZoneShape
    from epatrol.models.detections import Detections
    from epatrol.streams.packets import Sample

    spill = {"rule": "region_state", "model": "shopfront_cls", "labels": {"zh": "跨门经营", "en": "business out of the shop door"},
             "dwell_s": 3, "sample_every_s": 1, "end_after_s": 3}
    piled = {"rule": "scene_change", "labels": {"zh": "乱堆物料", "en": "materials piled"}, "dwell_s": 20}
    cfg = parse_config(_raw(tmp_path, rules={"shop_spill": spill, "piled": piled}, zone={**ZONE, "violations": ["piled", "street_vending"]}))
    judges = {j.violation: j for j in build_judges(cfg.cameras[0], cfg)}
    assert isinstance(judges["piled"], StreetVendingJudge) and judges["piled"].classes == frozenset()
    assert judges["piled"].store.dir != judges["street_vending"].store.dir  # backgrounds kept apart
    assert models_for(cfg.cameras[0], cfg) == {j.model for j in judges.values()}
    (problem,) = check_custom(cfg, MODELS, ["shop_spill"])
    assert problem.startswith("violations.custom.shop_spill.model: ") and "shopfront_cls" in problem
    with pytest.raises(ValueError, match="has no class 'spilling'"):
        RegionStateJudge("cam", [], cfg.violations.custom["shop_spill"].model_copy(update={"state": "spilling"}), "yolov8n_int8", "shop_spill",
                         classifier=_Colourful())

    # On a real photo: the colourful street scene in the zone for dwell_s is the state; a person box over it hides it.
    frame = cv2.imread(str(shared_dir / "media" / "bus.jpg"))
    zone = ZoneShape("door", ((0.0, 0.2), (1.0, 0.2), (1.0, 0.8), (0.0, 0.8)))
    judge = RegionStateJudge("cam", [zone], cfg.violations.custom["shop_spill"], "yolov8n_int8", "shop_spill", classifier=_Colourful())
    start, none = datetime(2026, 5, 1, 8, tzinfo=timezone.utc), Detections.empty(("person",))
    h, w = frame.shape[:2]
    hiding = Detections(np.array([[0, 0, w, h]], np.float32), np.array([0.9], np.float32), np.zeros(1, np.int32), ("person",))

    def feed(seconds, dets=none, image=frame):
        out = []
        for s in seconds:
            out += judge.process(Sample("cam", image, start + timedelta(seconds=s), float(s), True), dets)
        return out

    assert feed(range(0, 3)) == [] and feed([3], hiding) == []  # not yet a whole dwell_s; hidden says nothing
    (started,) = feed([4])
    assert started.key.violation == "shop_spill" and started.details["rule"]["state"] == "violating" and started.details["score"] >= 0.5
    grey = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert [type(e).__name__ for e in feed(range(5, 9), image=grey)] == ["EpisodeEnded"]
    # Dismissed: the same look is not flagged again until the zone's state clears.
    judge.suppressions.load([Dismissed(7, "door", "shop_spill", started.detections.xyxy)])
    assert feed(range(20, 30)) == []
    feed([30], image=grey)
    assert [type(e).__name__ for e in feed(range(31, 36))] == ["EpisodeStarted"]
