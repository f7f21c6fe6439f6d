"""The review page in a real browser: Playwright drives Debian's chromium against the real app
(uvicorn on 127.0.0.1) over the evidence the real pipeline recorded from real footage.

An officer signs in through the form, finds the parked-bike event in the queue, plays its clip
(the H.264 clip really decodes: currentTime advances), confirms it with the C key, opens a case,
adds the event and downloads the export, which `epatrol verify-export` then passes with the
box's public key (exports are signed by default). A viewer pressing C sees the API's 403
message on the page.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from api_client import sign_in
from browser import TIMEOUT_MS, open_page, require_chromium, wait_until
from servers import serve_app

from epatrol.api.app import create_app
from epatrol.common.errors import Conflict
from epatrol.evidence.review import users

expect = require_chromium().expect

PASSWORDS = {"page-officer": "officer-page-1", "page-viewer": "viewer-page-1"}
SCREENSHOT_COPY = Path("/tmp/review-page.png")


@pytest.fixture(scope="module")
def site(patrol):
    """The real app served by uvicorn in a thread, on a port bound here (no race for it)."""
    for name, password in PASSWORDS.items():
        try:
            users.create_user(patrol.db, name, password, name.removeprefix("page-"))
        except Conflict:
            pass
    with serve_app(create_app(patrol.cfg, patrol.db)) as url:
        yield url


def _api(site: str, username: str) -> httpx.Client:
    return sign_in(httpx.Client(base_url=site, timeout=30), username, PASSWORDS[username])


@pytest.fixture(scope="module")
def officer_api(site):
    c = _api(site, "page-officer")
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def bike_event(officer_api) -> dict:
    items = officer_api.get("/api/events", params={"camera": "wall-street-1"}).json()["items"]
    assert items, "the pipeline recorded no parked-bike event"
    ev = items[0]
    assert ev["violation"] == "parked_bikes" and ev["clip_state"] == "complete" and ev["detections"]
    return ev


def _sign_in(page, username: str, password: str) -> None:
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")


def _open_event(page, event_id: int) -> None:
    """Find the event in the queue (any review state: other tests of the session may have decided it)."""
    page.select_option("#f-camera", "wall-street-1")
    page.select_option("#f-state", "")
    item = page.locator(f'.queue-item[data-event-id="{event_id}"]')
    expect(item).to_contain_text("非机动车乱停放", timeout=TIMEOUT_MS)
    item.click()
    expect(page.locator("#event-heading")).to_contain_text(f"#{event_id}", timeout=TIMEOUT_MS)


def _current_time(page) -> float:
    return page.evaluate("document.querySelector('#clip').currentTime")


def test_officer_plays_confirms_cases_and_exports(site, browser, officer_api, bike_event, tmp_path) -> None:
    eid = bike_event["id"]
    page, js_errors = open_page(browser, site)
    try:
        _sign_in(page, "page-officer", PASSWORDS["page-officer"])
        expect(page.locator("#who")).to_contain_text("page-officer")
        # The queue, newest first, is filtered on the page; the parked-bike event is there.
        _open_event(page, eid)
        expect(page.locator("#facts")).to_contain_text("非机动车乱停放 parked bikes")
        expect(page.locator('#facts [data-fact="camera_name"]')).to_contain_text("wall-street-1")
        # Times read in the box's zone, named once in the top bar (no review.timezone here: the box's own).
        expect(page.locator("#zone-name")).to_contain_text("UTC")
        local = bike_event["started_at_local"]
        expect(page.locator('#facts [data-fact="started_at"]')).to_contain_text(f"{local[:10]} {local[11:19]}")
        expect(page.locator('#facts [data-fact="clip_sha256"]')).to_have_text(bike_event["clip_sha256"])

        # The recorder kept the frame clean beside the burnt-in snapshot (its hash in the details,
        # chained with the event); the page shows it with the boxes and zone drawn over it; B toggles them.
        clean = bike_event["details"]["snapshot_clean"]
        frame = officer_api.get(f"/api/events/{eid}/frame")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
        assert hashlib.sha256(frame.content).hexdigest() == clean["sha256"] != bike_event["snapshot_sha256"]
        assert bike_event["details"]["overlay"]["zone"]["name"] == bike_event["zone"]
        wait_until(page, "document.querySelector('#snapshot').naturalWidth > 0")
        assert page.get_attribute("#snapshot", "src") == f"/api/events/{eid}/frame"
        expect(page.locator("#boxes rect")).to_have_count(len(bike_event["detections"]))
        expect(page.locator("#boxes polygon.zone")).to_have_count(1)
        page.keyboard.press("b")
        expect(page.locator("#boxes")).to_have_class("boxes off")
        page.keyboard.press("b")
        expect(page.locator("#boxes")).to_have_class("boxes")

        # The clip streams (cookie-authenticated, HTTP Range) and really plays: P is play/pause.
        wait_until(page, "document.querySelector('#clip').readyState >= 1")
        duration = page.evaluate("document.querySelector('#clip').duration")
        assert duration > 5, duration
        if not page.evaluate("document.querySelector('#clip').paused"):  # it opened first, so it started by itself
            page.keyboard.press("p")
            wait_until(page, "document.querySelector('#clip').paused")
        start = _current_time(page)
        page.keyboard.press("p")
        wait_until(page, "document.querySelector('#clip').currentTime > 1.0", timeout=20_000)
        first = _current_time(page)
        wait_until(page, f"document.querySelector('#clip').currentTime > {first + 0.5}", timeout=20_000)
        later = _current_time(page)
        assert start < first < later, (start, first, later)
        assert page.evaluate("document.querySelector('#clip').videoWidth") > 0  # frames decoded, not just audio
        print(f"\nclip: duration {duration:.2f} s, currentTime {start:.2f} -> {first:.2f} -> {later:.2f}")
        page.keyboard.press("p")  # pause for a steady screenshot

        # C confirms (the page then moves on to the next pending event, if any); the API agrees.
        page.keyboard.press("c")
        expect(page.locator(f'.queue-item[data-event-id="{eid}"] .badge')).to_have_text("已确认 confirmed")
        stored = officer_api.get(f"/api/events/{eid}").json()
        assert stored["review_state"] == "confirmed" and stored["review"]["by"] == "page-officer"
        page.locator(f'.queue-item[data-event-id="{eid}"]').click()
        expect(page.locator("#event-state")).to_have_attribute("data-state", "confirmed")
        expect(page.locator("#history li").first).to_contain_text("page-officer")

        # A new case; the confirmed event goes into it.
        title = f"建设路非机动车乱停放 page test {time.time_ns()}"
        page.fill("#case-title", title)
        page.fill("#case-note", "浏览器测试 browser test")
        page.click("#case-create-button")
        expect(page.locator("#case-heading")).to_contain_text(title)
        expect(page.locator("#add-case-select option:checked")).to_contain_text(title)
        page.click("#add-to-case-button")
        expect(page.locator(f'#case-body .case-events li[data-event-id="{eid}"]')).to_be_visible()
        case = next(c for c in officer_api.get("/api/cases", params={"limit": 200}).json()["items"] if c["title"] == title)
        assert case["event_ids"] == [eid] and case["note_count"] == 1
        expect(page.locator('#facts [data-fact="cases_of_event"]')).to_contain_text(f"#{case['id']}")

        shot = tmp_path / "review-page.png"
        page.screenshot(path=str(shot), full_page=True)
        shutil.copyfile(shot, SCREENSHOT_COPY)

        # The export downloads through the page and passes verify-export.
        with page.expect_download(timeout=30_000) as download_info:
            page.click("#export-link")
        download = download_info.value
        assert download.failure() is None
        assert download.suggested_filename.startswith(f"case-{case['id']}-") and download.suggested_filename.endswith(".zip")
        package = tmp_path / download.suggested_filename
        download.save_as(str(package))
        public_key = tmp_path / "export-signing.pub.pem"  # the box's own key, as the API publishes it
        public_key.write_text(officer_api.get("/api/system/export-key").json()["public_key_pem"])
        check = subprocess.run(
            [sys.executable, "-m", "epatrol", "verify-export", str(package), "--public-key", str(public_key)],
            capture_output=True, text=True, timeout=120,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "intact" in check.stdout and "signature valid" in check.stdout

        expect(page.locator("#errors .error")).to_have_count(0)

        # ? shows the shortcuts; Escape closes them.
        page.keyboard.press("?")
        expect(page.locator("#help-dialog")).to_be_visible()
        expect(page.locator("#help-dialog")).to_contain_text("确认当前事件并进入下一条 Confirm this event and open the next")
        page.keyboard.press("Escape")
        expect(page.locator("#help-dialog")).to_be_hidden()
        # D asks for a reason (typing selects free text); the API refuses (the event is evidence in
        # a case) and the page shows its message, keeping the dialog open with what was typed.
        page.keyboard.press("d")
        expect(page.locator("#dismiss-dialog")).to_be_visible()
        page.fill("#dismiss-reason", "车辆属于店铺 the shop's own bike")
        expect(page.locator("#reason-list input").last).to_be_checked()
        page.click('#dismiss-form button[type="submit"]')
        refusal = page.locator("#errors .error").first
        expect(refusal).to_contain_text(f"event {eid} is evidence in case")  # other tests may have cased it too
        expect(refusal).to_contain_text("cannot be dismissed")
        expect(refusal).to_have_attribute("data-status", "409")
        expect(refusal).to_contain_text("当前状态不允许此操作 Not allowed in its current state")  # both languages, no raw code
        expect(refusal).not_to_contain_text("409")
        expect(page.locator("#dismiss-dialog")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#event-state")).to_have_attribute("data-state", "confirmed")

        # Closing the case (with a closing note) freezes it; the API agrees.
        page.click("#close-case-button")
        page.fill("#close-note", "已处理 dealt with")
        page.click('#close-form button[type="submit"]')
        expect(page.locator("#case-status")).to_have_text("已结案 closed")
        expect(page.locator("#close-case-button")).to_have_count(0)
        closed = officer_api.get(f"/api/cases/{case['id']}").json()
        assert closed["status"] == "closed" and closed["closed_by"] == "page-officer" and len(closed["notes"]) == 2

        page.click("#logout-button")
        expect(page.locator("#login-form")).to_be_visible()
        assert js_errors == []
    finally:
        page.context.close()


def test_viewer_sees_the_apis_refusal(site, browser, officer_api, bike_event) -> None:
    eid = bike_event["id"]
    before = officer_api.get(f"/api/events/{eid}").json()["reviews"]
    page, js_errors = open_page(browser, site)
    try:
        # A wrong password: the form shows the API's message.
        _sign_in(page, "page-viewer", "not-the-password")
        expect(page.locator("#login-error")).to_contain_text("wrong username or password")
        _sign_in(page, "page-viewer", PASSWORDS["page-viewer"])
        expect(page.locator("#who")).to_contain_text("page-viewer")
        _open_event(page, eid)
        page.keyboard.press("c")
        error = page.locator("#errors .error").first
        expect(error).to_contain_text("this needs the officer role; page-viewer is a viewer")
        expect(error).to_have_attribute("data-status", "403")
        expect(error).to_contain_text("没有权限执行此操作 Your role does not allow this")
        expect(error).not_to_contain_text("HTTP")
        assert officer_api.get(f"/api/events/{eid}").json()["reviews"] == before
        assert js_errors == []
    finally:
        page.context.close()
