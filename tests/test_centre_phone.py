"""The centre's page on a handler's phone: Playwright drives Debian's chromium at 390 px wide (a
touch screen, mobile viewport) against the real centre app (uvicorn, SQLite store).

A confirmed event (with its verified snapshot) is filed and dispatched to the traffic brigade. Its
handler signs in on the phone, sees the case as a card, taps it open (the snapshot, place, deadline,
the responsible unit), picks a damaged photo (refused in Chinese and English, no HTTP status shown),
then a real JPEG, sees it previewed, reports the case handled, and the case in the centre's database
is handled and waits for the camera's re-inspection. Nothing is wider than the screen at 390, 1024
or 1440 px (cases, and the statistics on the phone); screenshots land in /tmp/shots/centre-*.png.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from browser import open_page, require_chromium, wait_until
from sqlalchemy import select
from test_centre_page import PHOTO, file_case, serving_centre, sign_in

from epatrol.centre import workflow
from epatrol.centre.accounts import Person
from epatrol.centre.cases import CaseHandling, CentreCase
from epatrol.common import messages as m
from epatrol.common.times import utcnow

expect = require_chromium().expect

SHOTS = Path("/tmp/shots")
SNAPSHOT = PHOTO.with_name("bus.jpg")  # stands in for the box's snapshot of the event
USERS = {
    "phone-disp": ("dispatcher", {}, "dispatch-phone-1"),
    "phone-traffic": ("handler", {"department": "traffic"}, "traffic-phone-1"),
}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# 门前三包 and the label, as the box's recorder puts them in the event's details (epatrol/evidence/recording/context.py)
RESPONSIBLE = {"name": "建设路12号 好运来餐馆", "contact": "0571-8888 1234", "licence": "92330100MA2H0X1234"}
LABEL = {"zh": "共享单车乱停放", "en": "Shared bikes parked on the footway"}
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    with serving_centre(tmp_path_factory.mktemp("centre-phone"), USERS) as served:
        yield served


def test_handler_reports_handled_from_a_phone(centre, browser, tmp_path):
    site, store, cfg = centre
    # The snapshot as the ingest keeps it: verified, copied into evidence_dir under its object key.
    snap = SNAPSHOT.read_bytes()
    key = f"box-phone/snapshot/{hashlib.sha256(snap).hexdigest()}.jpg"
    (cfg.evidence_dir / key).parent.mkdir(parents=True)
    (cfg.evidence_dir / key).write_bytes(snap)
    case_id = file_case(store, cfg, box="box-phone", seq=3, edge_id=17, street="建设路",
                        files=(m.FileFacts("snapshot", hashlib.sha256(snap).hexdigest(), len(snap), key),),
                        details={"responsible": RESPONSIBLE, "violation_label": LABEL})
    with store.write() as s:
        workflow.dispatch(s, cfg.workflow, case_id, Person("phone-disp", "dispatcher"), utcnow())
    SHOTS.mkdir(exist_ok=True)

    page, js_errors = open_page(browser, site, **PHONE)
    sign_in(page, "phone-traffic", USERS["phone-traffic"][2])
    card = page.locator(f'#case-list tr[data-case="{case_id}"]')
    expect(card).to_contain_text("已派遣")
    expect(card).to_contain_text("建设路")
    expect(card.get_by_role("cell", name="街道 Street：建设路")).to_be_visible()  # labelled, as a card
    assert page.evaluate(OVERFLOW) <= 0, "the case list is wider than the phone"
    page.screenshot(path=str(SHOTS / "centre-390-list.png"), full_page=True)

    card.tap()
    expect(page.locator("#case-heading")).to_contain_text(f"#{case_id}")
    expect(page.locator("#case-list")).to_be_hidden()  # the case takes the screen
    facts = page.locator("#case-facts")
    expect(facts).to_contain_text("建设路东侧")
    expect(facts).to_contain_text("剩余")  # time left to the deadline
    expect(facts).to_contain_text("共享单车乱停放 Shared bikes parked on the footway")
    expect(facts).to_contain_text(RESPONSIBLE["name"])
    expect(facts.locator('a[href="tel:057188881234"]')).to_be_visible()
    wait_until(page, "document.querySelector('#case-evidence figure[data-kind=snapshot] img').naturalWidth > 0")
    photo = page.locator("#handle-photo")
    assert photo.get_attribute("capture") == "environment" and photo.get_attribute("accept") == "image/*"

    # A damaged file that calls itself a JPEG: the centre refuses it, said in both languages.
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is no photo at all")
    page.fill("#handle-note", "已清理，车辆移至停车点 bikes moved to the rack")
    photo.set_input_files(str(broken))
    page.locator("#handle-submit").tap()
    error = page.locator("#handle-error")
    expect(error).to_contain_text("照片文件已损坏")
    expect(error).to_contain_text("The photo file is damaged")
    assert not re.search(r"\b[45]\d\d\b", error.inner_text()), error.inner_text()

    photo.set_input_files(str(PHOTO))
    wait_until(page, "document.querySelector('#handle-preview').naturalWidth > 0")
    expect(error).to_be_empty()
    assert page.evaluate(OVERFLOW) <= 0, "the case with its form is wider than the phone"
    page.screenshot(path=str(SHOTS / "centre-390-case.png"), full_page=True)
    page.locator("#handle-submit").tap()
    expect(page.locator("#case-heading")).to_contain_text("核查中")
    expect(page.locator("#notice")).to_contain_text("已处置")
    expect(page.locator("#case-handlings code.hash")).to_contain_text(hashlib.sha256(PHOTO.read_bytes()).hexdigest())

    with store.read() as s:
        case = s.get(CentreCase, case_id)
        handling = s.scalar(select(CaseHandling).where(CaseHandling.case_id == case_id))
        assert (case.state, case.handled_at is not None) == ("reinspecting", True)
        assert (handling.handled_by, handling.photo_sha256) == ("phone-traffic", hashlib.sha256(PHOTO.read_bytes()).hexdigest())

    page.locator("#case-back").tap()
    expect(page.locator("#case-summary")).to_contain_text("共 0 件")  # nothing more waits for this handler
    page.locator("#tab-stats").tap()
    expect(page.locator("#stats-rows tr", has_text="建设路")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0, "the statistics are wider than the phone"
    page.screenshot(path=str(SHOTS / "centre-390-stats.png"), full_page=True)
    assert js_errors == []

    # The dispatcher's desk at 1440 and 1024 px: list and case side by side, nothing wider than the window.
    desk, desk_errors = open_page(browser, site, viewport={"width": 1440, "height": 900})
    sign_in(desk, "phone-disp", USERS["phone-disp"][2])
    desk.locator(f'#case-list tr[data-case="{case_id}"]').click()
    expect(desk.locator("#case-handlings img.photo")).to_be_visible()
    for width in (1440, 1024):
        desk.set_viewport_size({"width": width, "height": 900})
        assert desk.evaluate(OVERFLOW) <= 0, f"the desk is wider than {width} px"
        desk.screenshot(path=str(SHOTS / f"centre-{width}.png"), full_page=True)
    assert desk_errors == []
