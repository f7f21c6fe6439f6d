"""MQTT target: paho-mqtt 2.x, its own network thread, reconnect with doubling delay.

Delivery is at least once (QoS 1 by default): a message leaves our queue only while the client
is connected, and counts as sent only when the broker's PUBACK arrives (on_publish). A message
handed to the client but not acknowledged when the link drops stays with the client, which
sends it again (DUP) after reconnecting, so consumers de-duplicate on `message_id`. At most
`max_inflight` messages wait for a PUBACK at once; the rest wait in our bounded queue, where a
full queue drops the oldest. Topic: <topic_prefix>/<camera id>/<kind>."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from epatrol.config.notify import MqttTarget, NotifyConfig
from epatrol.notify.base import Sender, log
from epatrol.notify.message import Message, topic_part


class MqttSender(Sender):
    kind = "mqtt"

    def __init__(self, target: MqttTarget, cfg: NotifyConfig) -> None:
        scheme = "mqtts" if target.tls else "mqtt"
        super().__init__("mqtt", f"{scheme}://{target.host}:{target.port}", cfg.queue_size)
        self.target = target
        self.connected = False
        self._qos = target.qos
        self._window = target.max_inflight
        self._inflight: dict[int, Message] = {}  # paho mid -> message awaiting PUBACK
        self._early_acks: set[int] = set()  # acks that beat the worker's bookkeeping
        self._handing = 0  # popped from the queue, being handed to the client
        self._fail_streak = 0
        client_id = target.client_id or f"epatrol-{secrets.token_hex(4)}"
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                        protocol=mqtt.MQTTv311)
        if target.username is not None:
            c.username_pw_set(target.username,
                              target.password.get_secret_value() if target.password is not None else None)
        if target.tls:
            c.tls_set()
        c.reconnect_delay_set(min_delay=cfg.retry_backoff_s, max_delay=cfg.retry_backoff_max_s)  # type: ignore[arg-type]
        c.max_inflight_messages_set(self._window)
        c.max_queued_messages_set(0)  # bounded by our queue and the window instead
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self._client = c

    # -- paho's network thread -------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._connect_failed(f"refused: {reason}")
            return
        with self._cv:
            self.connected = True
            streak, self._fail_streak = self._fail_streak, 0
            waiting = len(self._inflight)
            self._cv.notify_all()
        log.info("notify %s: connected%s%s", self.describe,
                 f" after {streak} failed attempt(s)" if streak else "",
                 f", re-sending {waiting} unacknowledged message(s)" if waiting else "")

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._connect_failed("cannot connect")

    def _connect_failed(self, why: str) -> None:
        with self._cv:
            self.connected = False
            self._fail_streak += 1
            self.failed_attempts += 1
            streak, queued = self._fail_streak, len(self._q) + len(self._inflight)
        level = logging.WARNING if streak == 1 else logging.DEBUG
        self._ratelog("connect", level, "notify %s: %s (attempt %d, %d message(s) waiting); retrying",
                      self.describe, why, streak, queued)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._cv:
            was = self.connected
            self.connected = False
            lost = 0
            if self._qos == 0:  # QoS 0 is at most once: the client forgets what it had not written
                lost = len(self._inflight)
                self.failed += lost
                self._inflight.clear()
            waiting = len(self._q) + len(self._inflight)
            self._cv.notify_all()
        if was and not self._abort:
            log.warning("notify %s: disconnected (%s); %d message(s) waiting, reconnecting",
                        self.describe, reason, waiting)
        if lost:
            log.warning("notify %s: %d QoS 0 message(s) lost with the connection", self.describe, lost)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._cv:
            if self._inflight.pop(mid, None) is not None:
                self.sent += 1
            else:
                self._early_acks.add(mid)
            self._cv.notify_all()

    # -- our worker: queue -> client, within the in-flight window ---------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._client.connect_async(self.target.host, self.target.port, keepalive=self.target.keepalive_s)
        self._client.loop_start()  # connects, and reconnects with the configured delays, in its own thread
        super().start()

    def _run(self) -> None:
        prefix = self.target.topic_prefix
        while True:
            with self._cv:
                while True:
                    if self._give_up_flushing():
                        return
                    if self._stopping and not self._q and not self._inflight:
                        return  # flushed
                    if self.connected and self._q and len(self._inflight) < self._window:
                        break
                    self._cv.wait(0.5)
                msg = self._q.popleft()
                self._handing = 1
            topic = f"{prefix}/{msg.camera}/{topic_part(msg.kind)}"
            try:
                info = self._client.publish(topic, msg.body, qos=self._qos)
            except Exception as e:  # bad topic or payload: no retry can fix it
                with self._cv:
                    self._handing = 0
                    self.failed += 1
                    self.failed_attempts += 1
                log.error("notify %s: cannot publish %s to %r: %s", self.describe, msg.message_id, topic, e)
                continue
            with self._cv:
                self._handing = 0
                # QoS 1/2: the client keeps the message (re-sent after reconnects) unless it refused it.
                kept = info.rc != MQTTErrorCode.MQTT_ERR_QUEUE_SIZE if self._qos else info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS
                if not kept:
                    self.failed_attempts += 1
                    self._q.appendleft(msg)
                    self._cv.wait(0.1)  # the link just went; on_disconnect/on_connect will wake us
                elif info.mid in self._early_acks:
                    self._early_acks.discard(info.mid)
                    self.sent += 1
                else:
                    self._inflight[info.mid] = msg

    def _in_flight(self) -> int:
        return len(self._inflight) + self._handing

    def _close(self, deadline: float) -> None:
        try:
            self._client.disconnect()
        except Exception:  # pragma: no cover - paho does not raise here; never let stop() raise
            log.debug("notify %s: disconnect failed", self.describe, exc_info=True)
        # loop_stop joins the network thread, which may sit in a connect() of up to 5 s.
        t = threading.Thread(target=self._client.loop_stop, name="notify-mqtt-stop", daemon=True)
        t.start()
        t.join(max(0.5, deadline - time.monotonic()))
        with self._cv:
            self.connected = False
