"""Review rules on a real SQLite file: decisions, cases, the officers' event search."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epatrol.common.errors import Conflict, Invalid, NotFound
from epatrol.evidence.export.verify import verify_ledger
from epatrol.evidence.review import cases, decisions
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.search import EventFilter, camera_counts, search_events
from epatrol.migrations import open_database

T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path: Path):
    d = open_database(f"sqlite:///{tmp_path / 'epatrol.db'}")
    d.upsert_camera("school-1", "实验小学东门", "school", "rtsp://10.0.0.5/s")
    d.upsert_camera("station-1", "火车站北广场", "station", "rtsp://10.0.0.6/s")
    yield d
    d.close()


def _event(db: Database, cam: str, minutes: int, zone: str = "footway", violation: str = "parked_bikes") -> int:
    at = T0 + timedelta(minutes=minutes)
    return db.open_event(cam, zone, violation, at, at, "m", "c" * 64, [], {})


def test_decisions_keep_their_history(db: Database) -> None:
    eid = _event(db, "school-1", 0)
    assert decisions.infos(db, [eid])[eid].state == "pending"
    first = decisions.decide(db, eid, "dismiss", "li", reason="  delivery bike, moved within a minute  ")
    assert first.reason == "delivery bike, moved within a minute" and first.by == "li"
    assert first.at.tzinfo is not None
    second = decisions.decide(db, eid, "confirm", "wang", note="still there on the next patrol")
    info = decisions.infos(db, [eid])[eid]
    assert info.state == "confirmed" and info.latest == second and info.case_ids == ()
    assert [r.decision for r in decisions.history(db, eid)] == ["dismiss", "confirm"]
    assert verify_ledger(db).problems == []


def test_decision_refusals(db: Database) -> None:
    eid = _event(db, "school-1", 0)
    with pytest.raises(Invalid, match="needs a reason"):
        decisions.decide(db, eid, "dismiss", "li", reason="   ")
    with pytest.raises(Invalid, match="decision must be"):
        decisions.decide(db, eid, "maybe", "li")
    with pytest.raises(Invalid, match="limited"):
        decisions.decide(db, eid, "confirm", "li", note="x" * 5000)
    with pytest.raises(NotFound):
        decisions.decide(db, 999, "confirm", "li")
    assert decisions.history(db, eid) == []


def test_case_rules(db: Database) -> None:
    confirmed, pending, dismissed = (_event(db, "school-1", i) for i in range(3))
    decisions.decide(db, confirmed, "confirm", "li")
    decisions.decide(db, dismissed, "dismiss", "li", reason="not a bike")
    case = cases.create_case(db, "  东门 5月  ", "li", note="opened after the parents' complaint")
    assert (case.title, case.status, case.created_by, len(case.notes)) == ("东门 5月", "open", "li", 1)

    with pytest.raises(Conflict, match="pending review"):
        cases.add_event(db, case.id, pending, "li")
    with pytest.raises(Conflict, match="dismissed"):
        cases.add_event(db, case.id, dismissed, "li")
    with pytest.raises(NotFound):
        cases.add_event(db, case.id, 999, "li")
    with pytest.raises(NotFound):
        cases.add_event(db, 999, confirmed, "li")
    case = cases.add_event(db, case.id, confirmed, "li")
    assert case.event_ids == [confirmed]
    with pytest.raises(Conflict, match="already in case"):
        cases.add_event(db, case.id, confirmed, "li")
    # Evidence in a case cannot be dismissed afterwards.
    with pytest.raises(Conflict, match="cannot be dismissed"):
        decisions.decide(db, confirmed, "dismiss", "wang", reason="changed my mind")
    assert decisions.infos(db, [confirmed])[confirmed].case_ids == (case.id,)

    cases.add_note(db, case.id, "owner notified", "li")
    closed = cases.close_case(db, case.id, "wang", note="penalty issued")
    assert (closed.status, closed.closed_by) == ("closed", "wang") and len(closed.notes) == 3
    for attempt in (
        lambda: cases.add_note(db, case.id, "late", "li"),
        lambda: cases.close_case(db, case.id, "li"),
        lambda: cases.add_event(db, case.id, confirmed, "li"),
    ):
        with pytest.raises(Conflict, match="closed"):
            attempt()
    with pytest.raises(Invalid):
        cases.create_case(db, "   ", "li")
    assert cases.get_case(db, case.id) == closed
    listed, total = cases.list_cases(db, status="closed")
    assert total == 1 and listed == [closed]
    assert cases.list_cases(db, status="open") == ([], 0)
    assert verify_ledger(db).problems == []


def test_search_filters_pages_and_counts(db: Database) -> None:
    ids = {
        "a": _event(db, "school-1", 0, zone="gate"),
        "b": _event(db, "school-1", 10, zone="footway"),
        "c": _event(db, "station-1", 20, zone="footway", violation="street_vending"),
        "d": _event(db, "station-1", 30, zone="square"),
    }
    decisions.decide(db, ids["a"], "confirm", "li")
    decisions.decide(db, ids["b"], "confirm", "li")
    decisions.decide(db, ids["b"], "dismiss", "li", reason="second look: a parked scooter of the school")

    def find(**kw) -> tuple[list[int], int]:
        views, total = search_events(db, EventFilter(**kw), limit=50, offset=0)
        return [v.id for v in views], total

    assert find() == ([ids["d"], ids["c"], ids["b"], ids["a"]], 4)
    assert find(camera="school-1") == ([ids["b"], ids["a"]], 2)
    assert find(site="station") == ([ids["d"], ids["c"]], 2)
    assert find(zone="footway") == ([ids["c"], ids["b"]], 2)
    assert find(violation="street_vending") == ([ids["c"]], 1)
    assert find(review_state="pending") == ([ids["d"], ids["c"]], 2)
    assert find(review_state="confirmed") == ([ids["a"]], 1)
    assert find(review_state="dismissed") == ([ids["b"]], 1)
    assert find(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30)) == ([ids["c"], ids["b"]], 2)
    assert find(camera="nope") == ([], 0)
    page, total = search_events(db, EventFilter(), limit=2, offset=1)
    assert [v.id for v in page] == [ids["c"], ids["b"]] and total == 4
    with pytest.raises(Invalid):
        find(review_state="maybe")
    counts = camera_counts(db)
    assert counts["school-1"] == (2, 0, T0 + timedelta(minutes=10))
    assert counts["station-1"] == (2, 2, T0 + timedelta(minutes=30))
