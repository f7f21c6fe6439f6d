"""Alembic migrations of the edge and centre databases, on SQLite and a real PostgreSQL server.

An edge database from before Alembic, of the officer-review shape (revision e0001) and holding
evidence, is upgraded when epatrol opens it: the rows and the hash chain are kept and the new
columns, constraint and tables work. A new database is created at head; one of the last shape
before Alembic is stamped; one from a newer epatrol is refused naming its revision. After every
path the schema equals what the code declares (Alembic's own comparison finds no difference).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from epatrol.centre.store import CentreStore
from epatrol.evidence.export.verify import verify_ledger
from epatrol.evidence.store.db import Database, SchemaMismatch
from epatrol.evidence.store.schema import Base
from epatrol.migrations import open_centre_store, open_database
from epatrol.migrations.runner import alembic_config, head_of
from epatrol.migrations.trees import CENTRE, EDGE, centre_metadata

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    from pg import pg_unavailable_reason

    if (why := pg_unavailable_reason()) is not None:
        pytest.skip(why)
    return request.getfixturevalue("postgres").create_database(f"mig_{tmp_path.name.lower()[-40:]}".replace("-", "_"))


def _version(url: str, tree=EDGE) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": tree.version_table}).get_current_revision()
    finally:
        engine.dispose()


def _differences(url: str, tree=EDGE) -> list:
    """What Alembic's autogenerate would change to reach the tables the code declares."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": tree.version_table})
            return compare_metadata(context, tree.metadata())
    finally:
        engine.dispose()


def _record_evidence(db: Database) -> tuple[int, int]:
    db.upsert_camera("cam-1", "实验小学东门", "school", "rtsp://user:pw@10.0.0.5/1")
    ev = db.open_event("cam-1", "gate", "parked_bikes", T0, T0 + timedelta(seconds=120), "yolov8n_int8", "a" * 64,
                       [{"label": "bicycle", "box": [1, 2, 3, 4]}], {"dwell_s": 120})
    db.add_file(ev, "clip", f"clips/{ev}.mp4", "b" * 64, 1234, T0)
    db.close_event(ev, T0 + timedelta(minutes=5), "zone clear")
    db.set_clip_state(ev, "complete")
    other = db.open_event("cam-1", "gate", "parked_bikes", T0 + timedelta(hours=1), T0 + timedelta(hours=1), "yolov8n_int8",
                          "a" * 64, [], {})
    return ev, other


def _make_pre_alembic_e0001(url: str) -> tuple[int, int]:
    """A database of the officer-review shape holding evidence, with no Alembic version: built
    at head with real writes, taken down to e0001, its version row dropped."""
    db = open_database(url)
    ids = _record_evidence(db)
    db.close()
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        command.downgrade(alembic_config(EDGE, conn), "e0001")
        conn.execute(text("DROP TABLE alembic_version"))
    with engine.connect() as conn:
        insp = inspect(conn)
        assert "camera_status" not in insp.get_table_names() and "uplink_outbox" not in insp.get_table_names()
        assert "purged_at" not in {c["name"] for c in insp.get_columns("evidence_files")}
    engine.dispose()
    return ids


def test_the_tables_the_code_declares_are_the_newest_scripts():
    # The stores require these revisions; a new script without moving them fails here.
    assert EDGE.code_revision == head_of(EDGE)
    assert CENTRE.code_revision == head_of(CENTRE)


def test_stores_only_connect_and_name_a_database_nobody_migrated(tmp_path):
    """The commands migrate (open_database / open_centre_store); a store opened on a database that
    was never migrated refuses it by name instead of failing later on a missing table."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(SchemaMismatch, match=f"has no epatrol schema; this epatrol's is {EDGE.code_revision}"):
        Database(url)
    with pytest.raises(SchemaMismatch, match=f"has no epatrol schema; this epatrol's is {CENTRE.code_revision}"):
        CentreStore(url)
    open_database(url).close()
    with Database(url) as db:  # migrated now: it connects
        assert db.list_cameras() == []


def test_a_file_that_is_not_a_database_is_refused_by_name_and_left_as_it_is(tmp_path):
    garbage = tmp_path / "evidence.db"
    garbage.write_bytes(bytes(range(256)) * 20)
    before = garbage.read_bytes()
    for opener in (open_database, open_centre_store):
        with pytest.raises(SchemaMismatch, match=rf"{garbage.name} cannot be opened: file is not a database"):
            opener(f"sqlite:///{garbage}")
    assert garbage.read_bytes() == before


def test_old_edge_database_is_upgraded_with_its_evidence(url):
    ev, other = _make_pre_alembic_e0001(url)
    assert _version(url) is None

    db = open_database(url)  # recognised as e0001, upgraded to head
    try:
        assert _version(url) == head_of(EDGE)
        assert _differences(url) == []
        got = db.get_event(ev)
        assert (got.camera_name, got.zone, got.clip, got.clip_sha256, got.details) == (
            "实验小学东门", "gate", f"clips/{ev}.mp4", "b" * 64, {"dwell_s": 120})
        assert got.ended_at == T0 + timedelta(minutes=5) and db.get_event(other).clip_state == "recording"
        assert verify_ledger(db).problems == []  # the hash chain survived the table rebuilds
        # What the newer revisions added works on the old data:
        db.set_clip_state(ev, "purged")  # e0002: the widened CHECK constraint
        db.set_clip_state(other, "partial")  # e0005: a clip cut off by a power cut
        db.save_camera_status([{"camera_id": "cam-1", "state": "online"}])  # e0003
        with db.write_transaction() as s:  # e0004: the uplink's tables
            s.execute(text("INSERT INTO uplink_cursor (id, ledger_seq) VALUES (1, 0)"))
        third = db.open_event("cam-1", "gate", "parked_bikes", T0, T0, "m", "a" * 64, [], {})
        assert third > other  # ids are never reused (AUTOINCREMENT kept through the rebuild)
        assert verify_ledger(db).problems == []
    finally:
        db.close()
    assert open_database(url).get_event(ev).clip_state == "purged"  # reopening is a no-op at head


def test_new_and_last_pre_alembic_shape_are_stamped(url):
    open_database(url).close()
    assert _version(url) == head_of(EDGE) and _differences(url) == []

    # A box that ran before Alembic made its tables with create_all: stamped e0003, then upgraded.
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("DROP TABLE uplink_outbox"))
        conn.execute(text("DROP TABLE uplink_cursor"))
    engine.dispose()
    open_database(url).close()
    assert _version(url) == head_of(EDGE) and _differences(url) == []


def test_database_from_a_newer_epatrol_is_refused_naming_its_revision(url):
    open_database(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'e0999'"))
    engine.dispose()
    with pytest.raises(SchemaMismatch, match="edge schema revision e0999.*newer epatrol"):
        open_database(url)


def test_centre_database_is_created_at_head(url):
    store = open_centre_store(url)
    store.close()
    assert _version(url, CENTRE) == head_of(CENTRE)
    assert _differences(url, CENTRE) == []
    open_centre_store(url).close()  # reopening changes nothing
    assert _version(url, CENTRE) == head_of(CENTRE)


def test_one_sqlite_file_holds_a_box_and_its_centre(tmp_path):
    """A single box acting as its own centre: both trees in one file, each with its version table;
    the migrations alone make exactly the tables the code declares."""
    url = f"sqlite:///{tmp_path / 'both.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(EDGE, conn), "head")
        assert set(inspect(conn).get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
    with engine.begin() as conn:
        command.upgrade(alembic_config(CENTRE, conn), "head")
        tables = set(inspect(conn).get_table_names())
        assert tables == set(Base.metadata.tables) | set(centre_metadata().tables) | {"alembic_version", "alembic_version_centre"}
    engine.dispose()
    open_database(url).close()
    open_centre_store(url).close()
    assert (_version(url), _version(url, CENTRE)) == (head_of(EDGE), head_of(CENTRE))


def test_centre_tables_made_by_create_all_are_stamped_and_completed(url):
    """The ingest made the record tables with create_all before the workflow existed: the
    database is recognised as c0001 and the case, user and audit tables are added."""
    from epatrol.centre import records
    from epatrol.centre.base import CentreBase

    engine = create_engine(url)
    CentreBase.metadata.create_all(engine, tables=[m.__table__ for m in (
        records.CentreBox, records.CentreCamera, records.CentreEvent, records.CentreEvidence, records.CentreInspection)])
    engine.dispose()
    open_centre_store(url).close()
    assert _version(url, CENTRE) == head_of(CENTRE) and _differences(url, CENTRE) == []


def test_two_openers_at_once_migrate_once(url, caplog):
    """`epatrol run` and `epatrol serve` starting together on an old database: one upgrades under
    the write lock, the other waits and finds it done; both open it."""
    import threading

    _make_pre_alembic_e0001(url)
    results: list = []
    barrier = threading.Barrier(2)

    def open_it() -> None:
        barrier.wait()
        try:
            open_database(url).close()
            results.append("ok")
        except Exception as e:  # noqa: BLE001 (reported below)
            results.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == ["ok", "ok"]
    assert _version(url) == head_of(EDGE) and _differences(url) == []
    upgrades = [r for r in caplog.records if "upgraded from revision e0001" in r.getMessage()]
    assert len(upgrades) == 1, [r.getMessage() for r in upgrades]


def test_centre_cases_survive_the_upgrade_to_responsible_units(url):
    """A centre at c0002 holding a dispatched case: upgraded to head (c0003, the lead department,
    label and responsible unit of cases), the case keeps its rows and its number, the new columns
    are empty on it, and a new case files with them."""
    from epatrol.centre import workflow
    from epatrol.centre.cases import CentreCase
    from epatrol.centre.config import CentreConfig
    from epatrol.centre.records import CentreBox, CentreCamera, CentreEvent

    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(CENTRE, conn), "c0002")
        conn.execute(text("INSERT INTO centre_boxes (id, first_seen, last_seen) VALUES ('b', :t, :t)"), {"t": T0})
        conn.execute(text("INSERT INTO centre_cameras (id, box_id, camera_id, name, site, street, grid, updated_at) "
                          "VALUES (1, 'b', 'cam-1', 'c', 'business', '人民路', 'G-01', :t)"), {"t": T0})
        for eid in (1, 2):
            conn.execute(text(
                "INSERT INTO centre_events (id, box_id, edge_event_id, camera_ref, camera_id, zone, violation, onset, alert, "
                "review_state, clip_state, model_name, model_sha256, details, edge_seq, received_at, updated_at) VALUES "
                "(:id, 'b', :id, 1, 'cam-1', 'shopfront', :v, :t, :t, 'confirmed', 'complete', 'm', :h, :d, :id, :t, :t)"),
                {"id": eid, "v": "parked_bikes" if eid == 1 else "piled_materials", "t": T0, "h": "0" * 64,
                 "d": '{}' if eid == 1 else '{"lead_department": "town", "responsible": {"name": "张记", "contact": null, "licence": null}}'})
        conn.execute(text(
            "INSERT INTO centre_cases (event_id, box_id, camera_ref, camera_id, zone, violation, street, grid, state, "
            "filed_at, dispatched_at, dispatched_by, due_at, escalation_level, ever_overdue, reopen_count, updated_at) VALUES "
            "(1, 'b', 1, 'cam-1', 'shopfront', 'parked_bikes', '人民路', 'G-01', 'dispatched', :t, :t, 'disp', :t, 0, false, 0, :t)"),
            {"t": T0})
        old_id = conn.execute(text("SELECT id FROM centre_cases")).scalar_one()
        conn.execute(text("INSERT INTO centre_case_departments (case_id, department, position) VALUES (:c, 'enforcement', 0)"),
                     {"c": old_id})
    engine.dispose()
    assert _version(url, CENTRE) == "c0002"

    store = open_centre_store(url)  # upgraded to head
    try:
        assert _version(url, CENTRE) == head_of(CENTRE) and _differences(url, CENTRE) == []
        with store.read() as s:
            old = workflow._case(s, old_id, with_departments=True)
            assert (old.state, old.violation, [d.department for d in old.departments]) == ("dispatched", "parked_bikes", ["enforcement"])
            assert (old.lead_department, old.responsible_name, old.violation_label, old.responsible_handles) == (None, None, None, False)
            assert {r.id for r in s.query(CentreBox)} == {"b"} and s.query(CentreCamera).count() == 1
            assert s.query(CentreEvent).count() == 2
        wf = CentreConfig(database_url="sqlite://").workflow
        with store.write() as s:
            new_id, = workflow.file_new_cases(s, wf, T0)  # the custom violation's event, no rule at the centre
        with store.write() as s:
            assert workflow.tick(s, wf, T0 + timedelta(hours=1)).escalated == [old_id]  # the old case goes on as before
        with store.read() as s:
            new = s.get(CentreCase, new_id)
            assert new_id > old_id and (new.lead_department, new.responsible_name) == ("town", "张记")
    finally:
        store.close()
