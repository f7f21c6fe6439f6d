"""Notifications against real parts: a Mosquitto broker started per test (tests/mqtt_broker.py)
with real paho subscribers, and real HTTP receivers (http.server on 127.0.0.1)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
from mqtt_broker import MosquittoBroker, mosquitto_binary
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError
from servers import free_port
from waiting import wait_for

from epatrol.notify import KINDS, Notifier, NotifyConfig, camera_payload, event_payload

needs_mosquitto = pytest.mark.skipif(
    mosquitto_binary() is None,
    reason="mosquitto is not installed (Debian package `mosquitto`): the MQTT tests use a real broker",
)

CAMERA = "school-gate-1"
CAMERA_NAME = "实验小学东门"
FAST = {"retry_backoff_s": 0.05, "retry_backoff_max_s": 0.3}


def wait_until(pred, timeout_s: float = 15.0, what: str = "condition"):
    return wait_for(pred, timeout_s, what, every_s=0.01)


@pytest.fixture
def notifiers():
    made: list[Notifier] = []

    def make(**cfg) -> Notifier:
        n = Notifier(NotifyConfig(**{**FAST, **cfg}))
        made.append(n)
        return n

    yield make
    for n in made:
        n.stop(timeout_s=0.5)


def event(i: int, **extra) -> dict:
    return {"camera": CAMERA, "camera_name": CAMERA_NAME, "event_id": i, "zone": "east-sidewalk",
            "violation": "parked_bikes", **extra}


# --------------------------------------------------------------------------- MQTT helpers


class Subscriber:
    """A real paho subscriber to <prefix>/# at QoS 1; `persistent` keeps its session on the broker."""

    def __init__(self, port: int, *, persistent: bool = False, topic: str = "epatrol/#") -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{secrets.token_hex(4)}",
                        clean_session=not persistent)
        c.reconnect_delay_set(0.02, 0.1)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self.subscribed.set()
        c.on_disconnect = lambda cl, u, f, rc, p: self.subscribed.clear()
        c.on_message = self._on_message
        c.connect_async("127.0.0.1", port, keepalive=10)
        c.loop_start()
        self.client = c

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def wait_subscribed(self, timeout_s: float = 10.0) -> None:
        assert self.subscribed.wait(timeout_s), "the test subscriber did not subscribe"

    def docs(self) -> list[dict]:
        with self.lock:
            return [json.loads(p) for _, p in self.messages]

    def ids(self) -> list[str]:
        return [d["message_id"] for d in self.docs()]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (Debian package `mosquitto`)")
    b = MosquittoBroker(tmp_path / "broker")
    yield b.start()
    b.kill()


@pytest.fixture
def offline_broker(tmp_path):
    """A persistent broker that knows a subscriber's session, then is stopped: whatever reaches
    the broker once it is back is kept for the subscriber, whoever reconnects first."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (Debian package `mosquitto`)")
    b = MosquittoBroker(tmp_path / "broker", persistent=True).start()
    sub = Subscriber(b.port, persistent=True)
    sub.wait_subscribed()
    b.stop()  # SIGTERM writes the session to disk
    wait_until(lambda: not sub.subscribed.is_set(), what="the subscriber to see the broker go")
    yield b, sub
    sub.close()
    b.kill()


def mqtt_cfg(port: int, **kw) -> dict:
    return {"mqtt": {"host": "127.0.0.1", "port": port, **kw}}


# --------------------------------------------------------------------------- configuration, messages


def test_settings_validate_and_freeze():
    cfg = NotifyConfig.model_validate(
        {"mqtt": {"host": "broker", "password": "s3cret", "topic_prefix": "city/epatrol/"},
         "webhooks": [{"url": "https://ops.example/hook?token=abc", "headers": {"Authorization": "Bearer x"}}]}
    )
    assert cfg.mqtt.port == 1883 and cfg.mqtt.qos == 1 and cfg.mqtt.topic_prefix == "city/epatrol"
    assert cfg.queue_size == 1000 and cfg.webhooks[0].timeout_s == 5
    assert "s3cret" not in repr(cfg) and cfg.mqtt.password.get_secret_value() == "s3cret"
    with pytest.raises(ValidationError):
        cfg.queue_size = 5  # frozen
    bad = [
        {"mqtt": {"host": "b", "colour": 1}},  # unknown key
        {"surprise": True},
        {"mqtt": {"host": "b", "topic_prefix": "a/#"}},
        {"mqtt": {"host": "b", "qos": 3}},
        {"webhooks": [{"url": "ftp://x/y"}]},
        {"webhooks": [{"url": "http://x/", "headers": {"X-A": "line\nbreak"}}]},
        {"retry_backoff_s": 5, "retry_backoff_max_s": 1},
        {"queue_size": 0},
    ]
    for raw in bad:
        with pytest.raises(ValidationError):
            NotifyConfig.model_validate(raw)
    NotifyConfig.model_json_schema()  # mountable into `epatrol config schema`


def test_payload_helpers_and_publish_never_raises(notifiers):
    from types import SimpleNamespace

    t0 = datetime(2025, 5, 1, 8, 30, tzinfo=timezone.utc)
    view = SimpleNamespace(  # the attributes of epatrol.evidence.store.db.EventView
        id=7, camera_id=CAMERA, camera_name=CAMERA_NAME, site="school", zone="east-sidewalk",
        violation="parked_bikes", started_at=t0, alerted_at=t0, ended_at=None, end_reason=None,
        model_name="yolov8n_int8", model_sha256="ab" * 32, detections=[{"label": "bicycle"}] * 2,
        details={"count": 2}, clip_state="recording", clip=None, clip_sha256=None,
        snapshot="snapshots/7.jpg", snapshot_sha256="cd" * 32)
    p = event_payload(view)
    assert p["event_id"] == 7 and p["camera"] == CAMERA and p["started_at"] == "2025-05-01T08:30:00+00:00"
    assert p["detections"] == 2 and p["snapshot"] == "snapshots/7.jpg"
    c = camera_payload(CAMERA, CAMERA_NAME, reason="read timeout")
    assert c["camera"] == CAMERA and c["reason"] == "read timeout" and c["utc"].endswith("+00:00")

    n = notifiers()  # no targets: publishing is a no-op that succeeds
    n.start()
    assert n.publish("event.started", p) is True
    circular: dict = {"camera": CAMERA}
    circular["self"] = circular
    assert n.publish("event.started", circular) is False
    assert n.publish("event.started", None) is False  # type: ignore[arg-type]
    assert n.rejected == 2


# --------------------------------------------------------------------------- MQTT


@needs_mosquitto
def test_mqtt_events_arrive_on_their_topics(broker, notifiers):
    sub = Subscriber(broker.port)
    try:
        sub.wait_subscribed()
        n = notifiers(**mqtt_cfg(broker.port))
        n.start()
        for kind in KINDS:
            payload = event(42) if kind.startswith("event.") else camera_payload(CAMERA, CAMERA_NAME)
            assert n.publish(kind, payload) is True
        wait_until(lambda: len(sub.messages) >= len(KINDS), what="5 messages at the subscriber")
        with sub.lock:
            got = list(sub.messages)
        assert [t for t, _ in got] == [f"epatrol/{CAMERA}/{k}" for k in KINDS]
        first = json.loads(got[0][1])
        assert first["kind"] == "event.started" and first["event_id"] == 42
        assert first["camera_name"] == CAMERA_NAME and first["message_id"].startswith("event.started:42:")
        assert CAMERA_NAME.encode("utf-8") in got[0][1]  # ensure_ascii=False: UTF-8, not \u escapes
        assert len({json.loads(p)["message_id"] for _, p in got}) == len(KINDS)
        s = wait_until(lambda: (st := n.stats()["mqtt"])["sent"] == len(KINDS) and st, what="5 PUBACKs")
        assert s["queued"] == 0 and s["dropped"] == 0 and s["connected"] is True
        assert s["target"] == f"mqtt://127.0.0.1:{broker.port}"
        assert n.stop(timeout_s=5) is True
        assert n.publish("event.ended", event(42)) is False  # stopped: dropped, counted
        assert n.stats()["mqtt"]["dropped"] == 1
    finally:
        sub.close()


@needs_mosquitto
def test_mqtt_broker_down_at_start_then_delivered(offline_broker, notifiers):
    b, sub = offline_broker
    n = notifiers(**mqtt_cfg(b.port))
    n.start()
    ids, worst = [], 0.0
    for i in range(200):
        t = time.perf_counter()
        assert n.publish("event.updated", event(i), message_id=f"down:{i}") is True
        worst = max(worst, time.perf_counter() - t)
        ids.append(f"down:{i}")
    assert worst < 0.25, f"publish() took {worst * 1000:.1f} ms with the broker down"
    s = n.stats()["mqtt"]
    assert s["queued"] == 200 and s["sent"] == 0 and s["connected"] is False
    b.start()
    wait_until(lambda: set(sub.ids()) >= set(ids), what="all 200 queued messages at the subscriber")
    wait_until(lambda: n.stats()["mqtt"]["sent"] == 200, what="200 PUBACKs")
    got = sub.ids()
    assert sorted(set(got)) == sorted(ids)  # none lost; duplicates (at least once) allowed
    assert [i for i in got if i in ids][:1] == ["down:0"]  # in order
    assert n.stats()["mqtt"]["dropped"] == 0


@needs_mosquitto
def test_mqtt_queue_overflow_drops_the_oldest(offline_broker, notifiers):
    b, sub = offline_broker
    n = notifiers(**mqtt_cfg(b.port), queue_size=5)
    n.start()
    results = [n.publish("event.updated", event(i), message_id=f"over:{i}") for i in range(12)]
    assert results == [True] * 5 + [False] * 7
    s = n.stats()["mqtt"]
    assert s["dropped"] == 7 and s["queued"] == 5
    b.start()
    wait_until(lambda: n.stats()["mqtt"]["sent"] == 5, what="the 5 kept messages acknowledged")
    wait_until(lambda: len(set(sub.ids())) >= 5, what="5 messages at the subscriber")
    assert sorted(set(sub.ids())) == sorted(f"over:{i}" for i in range(7, 12))  # the newest five


@needs_mosquitto
def test_mqtt_broker_killed_mid_stream_and_restarted(tmp_path, notifiers):
    b = MosquittoBroker(tmp_path / "broker", persistent=True).start()
    sub = Subscriber(b.port, persistent=True)
    published: list[str] = []
    stop_pub = threading.Event()
    try:
        sub.wait_subscribed()
        b.save()  # the subscriber's session survives the kill below
        n = notifiers(**mqtt_cfg(b.port))
        n.start()
        wait_until(lambda: n.stats()["mqtt"]["connected"], what="the notifier to connect")

        def stream() -> None:
            i = 0
            while not stop_pub.is_set():
                mid = f"stream:{i}"
                n.publish("event.updated", event(i), message_id=mid)
                published.append(mid)
                i += 1
                time.sleep(0.003)

        pub = threading.Thread(target=stream, daemon=True)
        pub.start()
        wait_until(lambda: len(sub.messages) >= 50, what="the stream to flow")
        b.kill()
        killed_at = len(published)
        wait_until(lambda: not n.stats()["mqtt"]["connected"], what="the notifier to notice")
        wait_until(lambda: len(published) >= killed_at + 100, what="100 messages published while down")
        assert n.stats()["mqtt"]["queued"] >= 50
        b.start()
        wait_until(lambda: n.stats()["mqtt"]["connected"], what="the notifier to reconnect")
        restarted_at = len(published)
        wait_until(lambda: len(published) >= restarted_at + 50, what="the stream to go on")
        stop_pub.set()
        pub.join(5)
        wanted = set(published)
        wait_until(lambda: set(sub.ids()) >= wanted, timeout_s=20,
                   what=f"all {len(wanted)} published messages at the subscriber")
        got = sub.ids()
        s = n.stats()["mqtt"]
        print(f"\nmid-stream kill: published {len(wanted)}, received {len(got)} "
              f"({len(got) - len(set(got))} duplicates), lost {len(wanted - set(got))}; stats {s}")
        assert s["dropped"] == 0
        wait_until(lambda: n.stats()["mqtt"]["sent"] == len(wanted), what="every message acknowledged")
    finally:
        stop_pub.set()
        sub.close()
        b.kill()


@needs_mosquitto
def test_mqtt_unacknowledged_messages_resent_after_reconnect(tmp_path, notifiers):
    b = MosquittoBroker(tmp_path / "broker", persistent=True).start()
    sub = Subscriber(b.port, persistent=True)
    try:
        sub.wait_subscribed()
        b.save()
        n = notifiers(**mqtt_cfg(b.port, max_inflight=10))
        n.start()
        wait_until(lambda: n.stats()["mqtt"]["connected"], what="the notifier to connect")
        b.pause()  # the broker hangs: messages are written to it but never acknowledged
        for i in range(30):
            assert n.publish("event.updated", event(i), message_id=f"unacked:{i}") is True
        s = wait_until(lambda: (st := n.stats()["mqtt"])["in_flight"] == 10 and st, what="a full in-flight window")
        assert s["sent"] == 0 and s["queued"] == 30
        b.kill()  # what it had received dies with it
        b.start()
        wanted = {f"unacked:{i}" for i in range(30)}
        wait_until(lambda: set(sub.ids()) >= wanted, what="all 30 messages after the restart")
        wait_until(lambda: n.stats()["mqtt"]["sent"] == 30, what="30 PUBACKs")
        assert n.stats()["mqtt"]["queued"] == 0
    finally:
        b.resume()
        sub.close()
        b.kill()


# --------------------------------------------------------------------------- webhooks


class Receiver:
    """A real HTTP server on 127.0.0.1; `respond(n)` gives the n-th request's (status, hang seconds)."""

    def __init__(self, respond=lambda n: (200, 0.0)) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends any hang early (teardown)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    n = len(outer.requests)
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, hang = respond(n)
                if hang:
                    outer.release.wait(hang)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/epatrol?token=t0p"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def keys(self) -> list[str]:
        with self.lock:
            return [r["headers"]["Idempotency-Key"] for r in self.requests]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(respond=lambda n: (200, 0.0)) -> Receiver:
        r = Receiver(respond)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def test_webhook_posts_json_with_idempotency_key(receiver, notifiers):
    r = receiver()
    n = notifiers(webhooks=[{"url": r.url, "headers": {"Authorization": "Bearer abc"}}])
    n.start()
    assert n.publish("event.started", event(9)) is True
    wait_until(lambda: r.requests, what="the POST")
    req = r.requests[0]
    doc = json.loads(req["body"].decode("utf-8"))
    assert req["path"] == "/hooks/epatrol?token=t0p"
    assert req["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert req["headers"]["Authorization"] == "Bearer abc"
    assert req["headers"]["Idempotency-Key"] == doc["message_id"] and doc["message_id"].startswith("event.started:9:")
    assert doc["kind"] == "event.started" and doc["camera_name"] == CAMERA_NAME and doc["camera"] == CAMERA
    assert CAMERA_NAME.encode("utf-8") in req["body"]
    s = wait_until(lambda: (st := n.stats()["webhook-0"])["sent"] == 1 and st, what="sent == 1")
    assert s["failed_attempts"] == 0 and s["queued"] == 0 and s["connected"] is True
    assert "token" not in s["target"]  # the query string may carry secrets


def test_webhook_5xx_retried_until_delivered_once(receiver, notifiers):
    r = receiver(lambda n: (500, 0.0) if n < 2 else (200, 0.0))
    n = notifiers(webhooks=[{"url": r.url}], max_retries=3)
    n.start()
    n.publish("event.ended", event(3))
    s = wait_until(lambda: (st := n.stats()["webhook-0"])["sent"] == 1 and st, what="delivery after retries")
    assert s["failed_attempts"] == 2 and s["failed"] == 0
    keys = r.keys()
    assert len(keys) == 3 and len(set(keys)) == 1  # one message, one key, delivered (200) once


def test_webhook_4xx_not_retried(receiver, notifiers):
    r = receiver(lambda n: (400, 0.0) if n == 0 else (200, 0.0))
    n = notifiers(webhooks=[{"url": r.url}], max_retries=5)
    n.start()
    n.publish("event.started", event(1), message_id="bad")
    n.publish("event.started", event(2), message_id="good")
    wait_until(lambda: n.stats()["webhook-0"]["sent"] == 1, what="the second message")
    assert r.keys() == ["bad", "good"]  # in order, the rejected one posted once
    s = n.stats()["webhook-0"]
    assert s["failed"] == 1 and s["failed_attempts"] == 1 and s["queued"] == 0


def test_hanging_webhook_and_dead_broker_do_not_block_publish(receiver, notifiers):
    r = receiver(lambda n: (200, 30.0) if n == 0 else (200, 0.0))  # the first request hangs
    n = notifiers(webhooks=[{"url": r.url, "timeout_s": 0.3}], **mqtt_cfg(free_port()), max_retries=3)
    n.start()
    n.publish("event.started", event(0), message_id="h:first")
    wait_until(lambda: r.requests, what="the first request to hang")
    times = []
    for i in range(300):
        t = time.perf_counter()
        assert n.publish("event.updated", event(i), message_id=f"h:{i}") is True
        times.append(time.perf_counter() - t)
    times.sort()
    assert times[len(times) // 2] < 0.005 and times[-1] < 0.25, f"p50 {times[150] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms"
    # The hung attempt times out, is retried with the same key, and the queue drains behind it.
    wait_until(lambda: n.stats()["webhook-0"]["sent"] == 301, timeout_s=20, what="all webhook deliveries")
    keys = r.keys()
    assert keys[:2] == ["h:first", "h:first"] and len(set(keys)) == 301 and len(keys) == 302
    s = n.stats()
    assert s["webhook-0"]["failed_attempts"] == 1
    assert s["mqtt"]["queued"] == 301 and s["mqtt"]["connected"] is False


def test_stop_flushes_within_timeout(receiver, notifiers):
    r = receiver()
    n = notifiers(webhooks=[{"url": r.url}])
    n.start()
    for i in range(20):
        n.publish("camera.online", camera_payload(f"cam-{i}", "摄像头"))
    assert n.stop(timeout_s=10) is True
    assert len(r.requests) == 20 and n.stats()["webhook-0"]["sent"] == 20

    dead = notifiers(webhooks=[{"url": f"http://127.0.0.1:{free_port()}/x"}], max_retries=100)
    dead.start()
    dead.publish("camera.offline", camera_payload("cam-1"))
    t = time.monotonic()
    assert dead.stop(timeout_s=0.5) is False  # could not deliver; gives up on time
    assert time.monotonic() - t < 3
    assert dead.stats()["webhook-0"]["queued"] == 1
