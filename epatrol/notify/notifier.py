"""The Notifier: one call per event from the camera threads, delivery in the background.

    notifier = Notifier(cfg.notify)
    notifier.start()
    notifier.publish("event.started", event_payload(view))   # returns in microseconds, never raises
    ...
    notifier.stop(timeout_s=5)                                 # flush what can be flushed

Each target (the MQTT broker, each webhook) has its own bounded queue and worker, so a dead
broker or a hanging web server delays only its own messages and never the caller."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from epatrol.config.notify import NotifyConfig
from epatrol.notify.base import RateLimitedLog, Sender, log
from epatrol.notify.message import KINDS, MessageIds, build_message


class Notifier:
    def __init__(self, cfg: NotifyConfig) -> None:
        self.cfg = cfg
        self.senders: list[Sender] = []
        if cfg.mqtt is not None:
            from epatrol.notify.mqtt import (
                MqttSender,  # paho only when MQTT is configured
            )

            self.senders.append(MqttSender(cfg.mqtt, cfg))
        if cfg.webhooks:
            from epatrol.notify.webhook import WebhookSender

            self.senders.extend(WebhookSender(i, t, cfg) for i, t in enumerate(cfg.webhooks))
        self._ids = MessageIds()
        self._rejected = 0  # payloads that could not be serialised
        self._ratelog = RateLimitedLog()
        self._lock = threading.Lock()
        self._started = self._stopped = False

    def start(self) -> None:
        """Start every target's worker (MQTT connects in the background). Idempotent."""
        with self._lock:
            if self._started or self._stopped:
                return
            self._started = True
        for s in self.senders:
            try:
                s.start()
            except Exception:  # e.g. TLS set-up; the other targets still run
                log.exception("notify %s: cannot start", s.describe)
        if self.senders:
            log.info("notify: started %s", ", ".join(s.describe for s in self.senders))

    def publish(self, kind: str, payload: Mapping[str, Any], *, message_id: str | None = None) -> bool:
        """Queue one notification for every target. Never blocks on I/O and never raises.

        `kind` is one of KINDS; `payload` a JSON-able mapping with "camera" (the camera id, used in
        the MQTT topic) and, for events, "event_id". The message carries `message_id` (given, or
        "<kind>:<event_id or camera>:<seq>"), which every retry and re-send repeats.
        Returns False when a message was dropped: a target's queue was full (its oldest message
        went), the notifier is stopped, or the payload could not be serialised."""
        try:
            if kind not in KINDS:
                self._ratelog(f"kind:{kind}", logging.WARNING, "notify: unknown kind %r (sent anyway)", kind)
            mid = message_id if message_id is not None else self._ids.next(kind, payload)
            msg = build_message(kind, payload, mid)
        except Exception as e:  # noqa: BLE001 - the camera thread must never see it
            with self._lock:
                self._rejected += 1
            self._ratelog("build", logging.ERROR, "notify: cannot serialise a %r message: %s", kind, e)
            return False
        ok = True
        for s in self.senders:
            try:
                ok = s.enqueue(msg) and ok
            except Exception:  # noqa: BLE001 - pragma: no cover (enqueue only appends to a deque)
                ok = False
                self._ratelog("enqueue", logging.ERROR, "notify %s: enqueue failed", s.describe)
        return ok

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop accepting messages, deliver what can be delivered within `timeout_s`, close the
        connections. True when nothing was left undelivered. Idempotent."""
        with self._lock:
            if self._stopped:
                return all(s.queued() == 0 for s in self.senders)
            self._stopped = True
        deadline = time.monotonic() + max(0.0, timeout_s)
        for s in self.senders:
            s.begin_stop(deadline)
        flushed = True
        for s in self.senders:
            try:
                flushed = s.finish_stop(deadline) and flushed
            except Exception:  # noqa: BLE001
                flushed = False
                log.exception("notify %s: stop failed", s.describe)
        return flushed

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per target ("mqtt", "webhook-0", ...): target (URL without secrets), sent,
        failed_attempts, failed (given up), dropped, queued (waiting, including in_flight),
        in_flight (handed to the transport: MQTT awaiting PUBACK, webhook being posted),
        connected (None: not tried yet)."""
        return {s.name: s.stats() for s in self.senders}

    @property
    def rejected(self) -> int:
        """Payloads that could not be serialised (never queued)."""
        return self._rejected

    def __enter__(self) -> Notifier:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
