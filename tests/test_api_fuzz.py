"""Schemathesis against the published OpenAPI schema: every operation, generated valid and
invalid input, signed in as an admin, on a copy of the pipeline's real database. No request
may end in a server error (5xx)."""

from __future__ import annotations

import sqlite3
from collections import Counter

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from epatrol.api.app import create_app
from epatrol.config import parse_config
from epatrol.evidence.review import users
from epatrol.migrations import open_database

EXAMPLES_PER_OPERATION = 30  # ~20 operations: the whole run stays well under a minute
CALLS: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
SERVER_ERRORS: list[str] = []


@pytest.fixture(scope="module")
def fuzz_db(patrol, tmp_path_factory):
    """A copy of the patrol database (same storage root, so real clips are served): the
    generated writes (users, cases, decisions) must not leak into other tests."""
    cfg = patrol.cfg
    copy = tmp_path_factory.mktemp("fuzz") / "epatrol.db"
    with sqlite3.connect(cfg.storage.root / "epatrol.db") as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    cfg = cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"database_url": f"sqlite:///{copy}"})})
    db = open_database(cfg.database_url)
    users.create_user(db, "fuzz-admin", "fuzz-admin-pass", "admin")
    yield cfg, db
    db.close()


def _published_schema() -> dict:
    """The OpenAPI document, from an app over an empty in-memory database: it depends only on
    the routes, and the tests need it at collection time to make one test per operation."""
    cfg = parse_config({"cameras": [{"id": "cam", "name": "cam", "url": "cam.mp4"}]})
    db = open_database("sqlite://")
    try:
        return create_app(cfg, db).openapi()
    finally:
        db.close()


SPEC = _published_schema()
OPERATIONS = [f"{m.upper()} {p}" for p, methods in SPEC["paths"].items() for m in methods]
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def fuzz_app(fuzz_db):
    cfg, db = fuzz_db
    yield create_app(cfg, db)
    print(
        f"\nschemathesis {schemathesis.__version__}: {len(CALLS)} of {len(OPERATIONS)} operations, "
        f"{sum(CALLS.values())} requests, statuses {dict(sorted(STATUSES.items()))}, "
        f"{len(SERVER_ERRORS)} server errors"
    )


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the checkout; every run explores afresh
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case, fuzz_app, fuzz_db) -> None:
    _, db = fuzz_db
    # A fresh token per request: a generated call to /api/auth/logout must not sign the rest out.
    token, _ = users.issue_token(db, "fuzz-admin", 600)
    response = case.call(app=fuzz_app, headers={"Authorization": f"Bearer {token}"})
    CALLS[case.operation.label] += 1
    STATUSES[response.status_code] += 1
    if response.status_code >= 500:
        SERVER_ERRORS.append(f"{case.operation.label}: {response.status_code}")
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.300} -> "
        f"{response.status_code}: {response.text[:500]}"
    )
