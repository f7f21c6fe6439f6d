"""What every target shares: a bounded drop-oldest queue, counters, a worker thread, stopping.

The caller's side (`enqueue`) only appends to a deque under a lock that no worker ever holds
while doing I/O, so it costs microseconds whatever the broker or the web server is doing."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from epatrol.notify.message import Message

log = logging.getLogger("epatrol.notify")


class RateLimitedLog:
    """At most one record per `every_s` per key; the next one says how many were held back."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str, level: int, msg: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every_s:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            msg += " (%d similar messages held back)"
            args = (*args, held)
        log.log(level, msg, *args)


class Sender:
    """One target. Subclasses implement `_run` (the worker loop) and may extend `_close`."""

    kind = "target"

    def __init__(self, name: str, describe: str, queue_size: int) -> None:
        self.name = name
        self.describe = describe
        self._maxsize = queue_size
        self._q: deque[Message] = deque()
        self._cv = threading.Condition(threading.Lock())
        self.sent = 0  # delivered (MQTT: acknowledged by the broker; webhook: 2xx)
        self.failed = 0  # given up: rejected (4xx) or out of retries
        self.failed_attempts = 0  # attempts that did not deliver (each retry counts)
        self.dropped = 0  # pushed out of the full queue (oldest first), or published after stop
        self.connected: bool | None = None  # None: not tried yet
        self._thread: threading.Thread | None = None
        self._closed = False  # no more messages accepted
        self._stopping = False  # flush what is queued, then exit
        self._deadline = float("inf")  # monotonic time to give up flushing
        self._abort = False  # exit now
        self._ratelog = RateLimitedLog()

    # -- the caller's side (any thread) ----------------------------------------------------

    def enqueue(self, msg: Message) -> bool:
        """Never blocks on I/O. False when a message was dropped (the oldest, or `msg` after stop)."""
        with self._cv:
            if self._closed:
                self.dropped += 1
                return False
            dropped = len(self._q) >= self._maxsize
            if dropped:
                self._q.popleft()
                self.dropped += 1
            self._q.append(msg)
            self._cv.notify()
        if dropped:
            self._ratelog("drop", logging.WARNING, "notify %s: queue full (%d), dropped the oldest message",
                          self.describe, self._maxsize)
        return not dropped

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._guarded_run, name=f"notify-{self.name}", daemon=True)
        self._thread.start()

    def begin_stop(self, deadline: float) -> None:
        """Accept no more messages; the worker flushes until `deadline` (time.monotonic) then exits."""
        with self._cv:
            self._closed = True
            self._stopping = True
            self._deadline = deadline
            self._cv.notify_all()

    def finish_stop(self, deadline: float) -> bool:
        """Wait for the worker until `deadline`, then shut the transport. True if nothing was left."""
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._cv:
            self._abort = True
            self._cv.notify_all()
        self._close(deadline)
        left = self.queued()
        if left:
            log.warning("notify %s: stopped with %d message(s) undelivered", self.describe, left)
        return left == 0

    def _guarded_run(self) -> None:
        try:
            self._run()
        except Exception:  # a bug here must not go unnoticed, nor take anything else down
            log.exception("notify %s: worker failed", self.describe)

    def _run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self, deadline: float) -> None:
        pass

    # -- helpers for workers ---------------------------------------------------------------

    def _give_up_flushing(self) -> bool:
        """Under self._cv: stop now, or stopping and out of time."""
        return self._abort or (self._stopping and time.monotonic() >= self._deadline)

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds` unless stopped meanwhile; False when the worker should give up."""
        end = time.monotonic() + seconds
        with self._cv:
            while True:
                if self._give_up_flushing():
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return True
                if self._stopping:
                    left = min(left, self._deadline - time.monotonic())
                self._cv.wait(max(0.0, min(left, 1.0)))

    # -- numbers --------------------------------------------------------------------------------

    def _in_flight(self) -> int:
        return 0

    def queued(self) -> int:
        with self._cv:
            return len(self._q) + self._in_flight()

    def stats(self) -> dict[str, Any]:
        with self._cv:
            return {
                "target": self.describe,
                "sent": self.sent,
                "failed_attempts": self.failed_attempts,
                "failed": self.failed,
                "dropped": self.dropped,
                "queued": len(self._q) + self._in_flight(),
                "in_flight": self._in_flight(),
                "connected": self.connected,
            }
