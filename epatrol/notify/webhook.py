"""Webhook target: a worker thread POSTs each message as JSON, in order, with retries.

Connection errors, timeouts, 5xx, 408 and 429 are retried up to `max_retries` times with a
doubling delay (capped at `retry_backoff_max_s`, times a random 0.5-1.0 jitter; a Retry-After
header is honoured within the cap). Any other status outside 2xx (4xx, redirects) is not
retried: the message is logged and counted failed. Every attempt carries the same
`Idempotency-Key: <message_id>` header. Proxies from the environment are not used."""

from __future__ import annotations

import http.client
import logging
import random
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from epatrol.config.notify import NotifyConfig, WebhookTarget
from epatrol.notify.base import Sender, log
from epatrol.notify.message import Message

USER_AGENT = "epatrol-notify/1"
RETRY_STATUS = {408, 429}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # a redirect surfaces as an HTTPError (3xx), not retried


def _describe(url: str) -> str:
    """The URL without credentials or query string (which may carry tokens)."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return f"{p.scheme}://{host}{p.path}"


class WebhookSender(Sender):
    kind = "webhook"

    def __init__(self, index: int, target: WebhookTarget, cfg: NotifyConfig) -> None:
        super().__init__(f"webhook-{index}", _describe(target.url), cfg.queue_size)
        self.target = target
        self.max_retries = cfg.max_retries
        self.backoff_s = cfg.retry_backoff_s
        self.backoff_max_s = cfg.retry_backoff_max_s
        self._current = 0  # 1 while a message is out of the queue being delivered
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def _in_flight(self) -> int:
        return self._current

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._q:
                    if self._abort or self._stopping:
                        return
                    self._cv.wait(1.0)
                if self._give_up_flushing():
                    return
                msg = self._q.popleft()
                self._current = 1
            finished = self._deliver(msg)
            with self._cv:
                self._current = 0
                if not finished:  # stopped mid-retry: it stays counted as queued
                    self._q.appendleft(msg)
                    return

    def _deliver(self, msg: Message) -> bool:
        """True once the message is delivered or given up; False when stopped before either."""
        attempts = 1 + self.max_retries
        for attempt in range(attempts):
            outcome, detail, retry_after = self._post(msg)
            with self._cv:
                if outcome == "ok":
                    self.sent += 1
                    return True
                self.failed_attempts += 1
                if outcome == "fatal" or attempt == attempts - 1:
                    self.failed += 1
            if outcome == "fatal":
                log.error("notify %s: %s rejected (%s), not retried", self.describe, msg.message_id, detail)
                return True
            if attempt == attempts - 1:
                log.error("notify %s: %s given up after %d attempts (last: %s)",
                          self.describe, msg.message_id, attempts, detail)
                return True
            delay = min(self.backoff_max_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
            if retry_after is not None:
                delay = min(self.backoff_max_s, max(delay, retry_after))
            level = logging.WARNING if attempt == 0 else logging.DEBUG
            self._ratelog("retry", level, "notify %s: %s attempt %d failed (%s); retrying in %.1f s",
                          self.describe, msg.message_id, attempt + 1, detail, delay)
            if not self._sleep(delay):
                return False
        return True  # pragma: no cover - the loop always returns

    def _post(self, msg: Message) -> tuple[str, str, float | None]:
        """One attempt: ("ok" | "retry" | "fatal", what happened, Retry-After seconds or None)."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": msg.message_id,
            "X-Epatrol-Kind": msg.kind,
            **self.target.headers,
        }
        req = urllib.request.Request(self.target.url, data=msg.body, headers=headers, method="POST")
        try:
            with self._opener.open(req, timeout=self.target.timeout_s) as resp:
                resp.read(65536)
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
            retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
            try:
                e.read(65536)
                e.close()
            except Exception:  # noqa: BLE001 - the status is what matters
                pass
            with self._cv:
                self.connected = True
            retry = status >= 500 or status in RETRY_STATUS
            return ("retry" if retry else "fatal"), f"HTTP {status}", retry_after
        except ValueError as e:  # a URL urllib cannot use: no retry can fix it
            return "fatal", f"{type(e).__name__}: {e}", None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            with self._cv:
                self.connected = False
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            return "retry", f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__, None
        with self._cv:
            self.connected = True
        if 200 <= status < 300:
            return "ok", f"HTTP {status}", None
        return "fatal", f"HTTP {status}", None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use our own backoff
