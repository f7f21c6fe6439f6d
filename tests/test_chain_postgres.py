"""The ledger, review rules and users on a real PostgreSQL server: appends from two engines
(two processes' worth of connections) and many threads stay one unbroken chain, because
each append locks the chain head row."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from pg import pg_unavailable_reason
from sqlalchemy import text

from epatrol.evidence.export.verify import verify_ledger
from epatrol.evidence.review import audit, cases, decisions, users
from epatrol.evidence.store.db import Database
from epatrol.migrations import open_database

pytestmark = pytest.mark.skipif(pg_unavailable_reason() is not None, reason=str(pg_unavailable_reason()))

T0 = datetime(2026, 5, 1, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))


def test_concurrent_appends_from_two_engines_form_one_chain(postgres):
    url = postgres.create_database("ledger")
    first, second = open_database(url), open_database(url)  # separate pools, like two processes
    for i in range(4):
        first.upsert_camera(f"cam-{i}", f"东门 {i}", "school", f"rtsp://10.0.0.{i}/s")
    errors: list[BaseException] = []

    def camera(db: Database, i: int) -> None:
        try:
            for n in range(8):
                at = T0 + timedelta(seconds=n)
                eid = db.open_event(f"cam-{i}", "z", "parked_bikes", at, at, "m", "c" * 64,
                                    [{"label": "bicycle", "confidence": 0.8123, "xyxy": [1.5, 2.25, 3.0, 4.0]}], {"n": n})
                db.update_event(eid, details={"n": n, "more": [1, 2.5]})
                db.add_file(eid, "clip", f"clips/cam-{i}/{eid}.mp4", "b" * 64, 10 + n, at, at + timedelta(seconds=9))
                db.close_event(eid, at + timedelta(seconds=30), "cleared")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=camera, args=(first if i % 2 else second, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify_ledger(first)
    assert report.problems == [] and report.entries == 4 + 4 * 8 * 4

    with first.engine.begin() as c:
        c.execute(text("UPDATE events SET end_reason = 'never happened' WHERE id = 3"))
    (problem,) = verify_ledger(second).problems
    assert problem.subject == "event:3" and "end_reason" in problem.message
    first.close()
    second.close()


def test_review_cases_users_and_audit_round_trip(postgres):
    db = open_database(postgres.create_database("review"))
    db.upsert_camera("cam-1", "东门", "school", "rtsp://10.0.0.5/s")
    eid = db.open_event("cam-1", "gate", "parked_bikes", T0, T0, "m", "c" * 64, [], {})
    users.create_user(db, "li", "officer-pass", "officer")
    assert users.authenticate(db, "li", "officer-pass").role == "officer"
    token, _ = users.issue_token(db, "li", 60)
    assert users.user_for_token(db, token).username == "li"
    decisions.decide(db, eid, "confirm", "li", note="确认")
    case = cases.create_case(db, "东门 5月", "li", note="opened")
    cases.add_event(db, case.id, eid, "li")
    cases.close_case(db, case.id, "li")
    assert decisions.infos(db, [eid])[eid].case_ids == (case.id,)
    audit.record(db, "case.close", "li", target=f"case:{case.id}", detail={"n": 1})
    entries, total = audit.entries(db, username="li")
    assert total == 1 and entries[0].detail == {"n": 1}
    assert verify_ledger(db).problems == []
    db.close()
