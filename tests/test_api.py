"""The HTTP API over a real evidence database filled by the real pipeline."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from epatrol.api.app import create_app
from epatrol.evidence.hashing import sha256_bytes


@pytest.fixture(scope="module")
def client(patrol):
    cfg, db, _ = patrol
    return TestClient(create_app(cfg, db))


def test_events_listed_with_filters(client):
    events = client.get("/api/events").json()
    assert [e["violation"] for e in events] == ["parked_bikes"]
    assert client.get("/api/events", params={"camera": "campus-road-1"}).json() == []
    one = client.get(f"/api/events/{events[0]['id']}").json()
    assert one["clip_sha256"] == events[0]["clip_sha256"]


def test_clip_served_whole_and_by_range(client):
    ev = client.get("/api/events").json()[0]
    whole = client.get(f"/api/events/{ev['id']}/clip")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert sha256_bytes(whole.content) == ev["clip_sha256"]
    part = client.get(f"/api/events/{ev['id']}/clip", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    snap = client.get(f"/api/events/{ev['id']}/snapshot")
    assert snap.status_code == 200 and sha256_bytes(snap.content) == ev["snapshot_sha256"]


@pytest.mark.parametrize(
    "url, status",
    [
        ("/api/events/999999", 404),
        ("/api/events/999999/clip", 404),
        ("/api/events/abc", 422),
        ("/api/events/1/passwd", 422),
        ("/api/events?limit=100000", 422),
        ("/api/events?offset=-1", 422),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(client, url, status):
    r = client.get(url)
    assert r.status_code == status
    assert r.json()["detail"]


def test_health(client):
    r = client.get("/healthz").json()
    assert r["status"] == "ok" and "wall-street-1" in r["cameras"]
