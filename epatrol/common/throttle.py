"""Password guessing: failed sign-ins counted per account and per client address, with a lockout.

After ``max_failures`` wrong passwords for one username within ``window_s`` seconds, that
account is locked for ``lockout_s``: every sign-in for it answers 429 (even with the right
password) until the lock ends. Likewise for one client address after ``client_max_failures``
failures for any usernames (one client spraying many names). A successful sign-in clears the
account's count. The state lives in memory, per process: one process serves each API, and a
restart forgets the counts (as a lockout should not outlive an operator's restart anyway).

Both APIs (the box's and the centre's) use it the same way::

    locked = throttle.locked(username, client)     # before checking the password
    if locked: answer 429 with locked.headers (Retry-After, seconds) and detail locked.message
    ...wrong password: started = throttle.failed(username, client)  # the locks this began
    ...right password: throttle.succeeded(username)
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_TRACKED = 10_000  # keys kept at most per kind; beyond it, expired ones are dropped first


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock in force: on an account (``scope`` "account", ``key`` the username) or a client."""

    scope: str
    key: str
    retry_after_s: int  # whole seconds until it ends, at least 1 (the Retry-After header)
    failures: int  # the failures that started it

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}

    @property
    def message(self) -> str:
        who = f"for {self.key}" if self.scope == "account" else f"from {self.key}"
        return f"too many failed sign-ins {who}; try again in {self.retry_after_s} s"


class _Counter:
    """Failure times per key within the window, and the locks in force."""

    def __init__(self, scope: str, limit: int) -> None:
        self.scope, self.limit = scope, limit
        self.failures: dict[str, deque[float]] = {}
        self.until: dict[str, tuple[float, int]] = {}  # key -> (lock end, failures that started it)

    def locked(self, key: str, now: float) -> Lock | None:
        end = self.until.get(key)
        if end is None:
            return None
        if end[0] <= now:
            del self.until[key]
            return None
        return Lock(self.scope, key, max(1, math.ceil(end[0] - now)), end[1])

    def failed(self, key: str, now: float, window_s: float, lockout_s: float) -> Lock | None:
        times = self.failures.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - window_s:
            times.popleft()
        if len(times) < self.limit:
            return None
        count = len(times)
        del self.failures[key]  # the lock starts the count afresh when it ends
        self.until[key] = (now + lockout_s, count)
        return Lock(self.scope, key, max(1, math.ceil(lockout_s)), count)

    def prune(self, now: float, window_s: float) -> None:
        if len(self.failures) > MAX_TRACKED:
            for key in [k for k, t in self.failures.items() if not t or t[-1] <= now - window_s]:
                del self.failures[key]
            while len(self.failures) > MAX_TRACKED:  # still too many: forget the oldest
                del self.failures[next(iter(self.failures))]
        if len(self.until) > MAX_TRACKED:
            for key in [k for k, (end, _) in self.until.items() if end <= now]:
                del self.until[key]


class LoginThrottle:
    """Counts failed sign-ins; see the module's docstring. ``clock``: seconds, monotonic."""

    def __init__(self, *, max_failures: int = 5, client_max_failures: int = 20, window_s: float = 900,
                 lockout_s: float = 900, clock: Callable[[], float] = time.monotonic) -> None:
        if max_failures < 1 or client_max_failures < 1 or window_s <= 0 or lockout_s <= 0:
            raise ValueError("login throttle: limits must be at least 1 and times above 0")
        self.window_s, self.lockout_s, self.clock = window_s, lockout_s, clock
        self._accounts = _Counter("account", max_failures)
        self._clients = _Counter("client", client_max_failures)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, clock: Callable[[], float] = time.monotonic) -> LoginThrottle:
        """From a settings section with ``login_max_failures``, ``login_client_max_failures``,
        ``login_window_s`` and ``login_lockout_s`` (the box's `review:`, the centre's `auth:`)."""
        return cls(max_failures=settings.login_max_failures, client_max_failures=settings.login_client_max_failures,
                   window_s=settings.login_window_s, lockout_s=settings.login_lockout_s, clock=clock)

    def locked(self, username: str, client: str | None) -> Lock | None:
        """The lock that refuses this sign-in, if any (the account's first, then the client's)."""
        now = self.clock()
        with self._lock:
            found = self._accounts.locked(username, now)
            if found is None and client:
                found = self._clients.locked(client, now)
            return found

    def failed(self, username: str, client: str | None) -> list[Lock]:
        """Count a wrong password; the locks this failure started (none, the account's, the client's)."""
        now = self.clock()
        with self._lock:
            started = [self._accounts.failed(username, now, self.window_s, self.lockout_s)]
            if client:
                started.append(self._clients.failed(client, now, self.window_s, self.lockout_s))
            self._accounts.prune(now, self.window_s)
            self._clients.prune(now, self.window_s)
            return [lock for lock in started if lock is not None]

    def succeeded(self, username: str) -> None:
        """A right password: the account's failures are forgiven (the client's are not)."""
        with self._lock:
            self._accounts.failures.pop(username, None)
