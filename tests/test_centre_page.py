"""The centre's page in a real browser: Playwright drives Debian's chromium against the real
centre app (uvicorn on 127.0.0.1, SQLite store).

A box reports a confirmed parked-bike event; the centre files it. The dispatcher signs in
through the form, finds the case, sees the district plan's departments ticked and dispatches it.
The traffic brigade's handler signs in, reports it handled with a note and a real photo, which
the page then shows back (served from the centre, SHA-256 named). The town office's handler
sees no case. The box answers the re-inspection (clean) and the case is closed; the dispatcher
sees it closed with its audit trail, then the statistics table, the SVG chart and the CSV export.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from browser import open_page, require_chromium, wait_until
from servers import serve_app

from epatrol.centre import accounts, records, workflow
from epatrol.centre.app import create_centre_app
from epatrol.centre.cases import CentreCase
from epatrol.centre.config import CentreConfig
from epatrol.common import messages as m
from epatrol.common.times import utcnow
from epatrol.migrations import open_centre_store

expect = require_chromium().expect

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "media" / "dhaka-handcart.jpg"
SCREENSHOT_COPY = Path("/tmp/centre-page.png")
USERS = {
    "page-disp": ("dispatcher", {}, "dispatch-page-1"),
    "page-traffic": ("handler", {"department": "traffic"}, "traffic-page-1"),
    "page-town": ("handler", {"department": "town"}, "town-page-1"),
}


@contextmanager
def serving_centre(directory: Path, users: dict) -> Iterator[tuple]:
    """The real centre app over a real SQLite store in ``directory``, served by uvicorn in a thread,
    with ``users`` ({name: (role, binding, password)}); yields (url, store, cfg)."""
    cfg = CentreConfig(database_url=f"sqlite:///{directory / 'centre.db'}", evidence_dir=directory / "evidence")
    store = open_centre_store(cfg.database_url)
    for name, (role, bind, password) in users.items():
        accounts.create_user(store, name, password, role, departments=cfg.workflow.departments, now=utcnow(), **bind)
    try:
        with serve_app(create_centre_app(cfg, store)) as url:  # lifespan off: the test ticks itself
            yield url, store, cfg
    finally:
        store.close()


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    with serving_centre(tmp_path_factory.mktemp("centre"), USERS) as served:
        yield served


def sign_in(page, username: str, password: str) -> None:
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    expect(page.locator("#who")).to_contain_text(username)


def _sign_in(page, username: str) -> None:
    sign_in(page, username, USERS[username][2])


def tick(store, cfg) -> workflow.TickReport:
    with store.write() as s:
        return workflow.tick(s, cfg.workflow, utcnow())


def file_case(store, cfg, *, box: str, seq: int, edge_id: int, street: str, violation: str = "parked_bikes",
              files: tuple[m.FileFacts, ...] = (), details: dict | None = None) -> int:
    """A box reports a confirmed event and its ``files`` (its uplink's messages; the files verified, as the
    ingest marks them once their bytes' SHA-256 matches); the tick files it as a case: its id."""
    now = utcnow()
    facts = m.EventFacts(
        id=edge_id, camera=m.CameraFacts("wall-street-1", "建设路东侧", "business", street, "G-12"), zone="wall-footway",
        violation=violation, started_at=now - timedelta(minutes=5), alerted_at=now - timedelta(minutes=3),
        ended_at=None, end_reason=None, review_state="confirmed", clip_state="complete", model_name="yolov8n_int8",
        model_sha256="0" * 64, details=details or {},
    )
    with store.write() as s:
        records.ingest_event(s, m.dump(m.Message(box, seq, f"{box}:{seq}", "event", event=facts)))
        for n, f in enumerate(files, seq + 1):
            row = records.ingest_file(s, m.dump(m.Message(box, n, f"{box}:{n}", "file", event=facts, file=f)))
            records.mark_evidence(s, row, "verified")
    case_id, = tick(store, cfg).filed
    return case_id


def test_dispatch_handle_close_and_statistics(centre, browser, tmp_path):
    site, store, cfg = centre
    case_id = file_case(store, cfg, box="box-page", seq=7, edge_id=41, street="建设路")

    # The dispatcher sees the filed case and dispatches it to the plan's departments.
    page, js_errors = open_page(browser, site)
    _sign_in(page, "page-disp")
    row = page.locator(f'#case-list tr[data-case="{case_id}"]')
    expect(row).to_contain_text("已立案")
    expect(row).to_contain_text("建设路")
    row.click()
    expect(page.locator("#case-heading")).to_contain_text(f"#{case_id}")
    expect(page.locator("#case-facts")).to_contain_text("非机动车乱停放")
    expect(page.locator("#dispatch-enforcement")).to_be_checked()
    expect(page.locator("#dispatch-traffic")).to_be_checked()
    expect(page.locator("#dispatch-town")).not_to_be_checked()
    page.fill("#dispatch-note", "请交管大队配合 with the traffic brigade")
    page.click("#dispatch-submit")
    expect(page.locator("#case-heading")).to_contain_text("已派遣")
    expect(page.locator("#case-facts")).to_contain_text("区城市管理综合执法局（牵头 lead）")
    expect(row).to_contain_text("交管大队")

    # The traffic brigade's handler reports it handled with a note and a photo.
    hpage, h_errors = open_page(browser, site)
    _sign_in(hpage, "page-traffic")
    hrow = hpage.locator(f'#case-list tr[data-case="{case_id}"]')
    expect(hrow).to_contain_text("已派遣")
    hrow.click()
    expect(hpage.locator("#dispatch-form")).to_be_hidden()
    hpage.fill("#handle-note", "已清理车辆 bikes moved to the rack")
    hpage.set_input_files("#handle-photo", str(PHOTO))
    hpage.click("#handle-submit")
    expect(hpage.locator("#case-heading")).to_contain_text("核查中")
    expect(hpage.locator("#case-handlings")).to_contain_text("已清理车辆")
    sha = hashlib.sha256(PHOTO.read_bytes()).hexdigest()
    expect(hpage.locator("#case-handlings code.hash")).to_contain_text(sha)
    wait_until(hpage, "document.querySelector('#case-handlings img.photo').naturalWidth > 0")
    expect(hpage.locator("#case-inspections")).to_contain_text("已请求")

    # The town office has no part in it.
    tpage, t_errors = open_page(browser, site)
    _sign_in(tpage, "page-town")
    expect(tpage.locator("#case-summary")).to_contain_text("共 0 件")

    # The box re-inspects: clean, its snapshot verified by the ingest; the tick closes the case.
    with store.write() as s:
        case = s.get(CentreCase, case_id)
        insp = s.get(records.CentreInspection, case.inspection_id)
        snap = hashlib.sha256(b"re-inspection snapshot").hexdigest()
        ans = m.InspectionAnswer(insp.request_id, "clean", utcnow(), snap, f"box-page/inspect/{snap}")
        records.ingest_inspection(s, m.dump(m.Message("box-page", 8, "box-page:8", "inspection", inspection=ans)))
        insp.snapshot_state = "verified"
    assert tick(store, cfg).closed == [case_id]

    page.reload()
    row = page.locator(f'#case-list tr[data-case="{case_id}"]')
    expect(row).to_contain_text("已结案")
    row.click()
    expect(page.locator("#case-inspections")).to_contain_text("据此结案")
    trail = page.locator("#case-trail li")
    expect(trail).to_have_count(5)  # filed, dispatched, handled, re-inspection asked, closed
    expect(trail.last).to_contain_text("结案 Closed")
    shot = tmp_path / "centre-page.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)

    # Statistics: the month's table and chart, and the CSV export.
    page.click("#tab-stats")
    stat = page.locator("#stats-rows tr", has_text="建设路")
    expect(stat).to_be_visible()
    expect(stat.locator("td").nth(0)).to_have_text("1")  # cases
    expect(stat.locator("td").nth(2)).to_have_text("1")  # closed
    expect(stat.locator("td").nth(8)).to_have_text("100%")
    expect(page.locator('#stats-chart rect.bar.cases[data-key="建设路"]')).to_have_count(1)
    page.select_option("#stats-by", "department")
    page.click("#stats-form button[type=submit]")
    expect(page.locator("#stats-rows")).to_contain_text("交管大队")
    with page.expect_download() as dl:
        page.click("#stats-csv")
    csv_path = tmp_path / "stats.csv"
    dl.value.save_as(str(csv_path))
    text = csv_path.read_text(encoding="utf-8")
    assert text.startswith("department,cases,") and "traffic,1," in text
    page.screenshot(path=str(tmp_path / "stats.png"), full_page=True)
    shutil.copyfile(tmp_path / "stats.png", Path("/tmp/centre-stats.png"))
    assert js_errors == [] and h_errors == [] and t_errors == []
