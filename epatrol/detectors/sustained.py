"""Sustained: whether a per-sample condition held in `min_share` of the samples of the last
`window_s` seconds, once the judge has watched a whole window (wall-clock time, not sample counts:
a camera sampled more slowly still needs the same seconds). A missed detection in one sample does
not reset it; a sample that could not be judged (hidden) counts neither way."""

from __future__ import annotations

from collections import deque

EPS_S = 1e-6


class Sustained:
    def __init__(self, window_s: float, min_share: float) -> None:
        self.window_s = window_s
        self.min_share = min_share
        self._looks: deque[tuple[float, bool]] = deque()  # (time, condition held), within the window
        self._since: float | None = None  # first sample since the start or the last reset

    def add(self, t: float, held: bool | None) -> None:
        """One sample at t (seconds); held None: it could not be judged."""
        if self._since is None:
            self._since = t
        if held is not None:
            self._looks.append((t, held))
        while self._looks and self._looks[0][0] < t - self.window_s - EPS_S:
            self._looks.popleft()

    def holds(self, t: float) -> bool:
        if self._since is None or t - self._since < self.window_s - EPS_S or not self._looks:
            return False
        return self.share >= self.min_share

    @property
    def share(self) -> float:
        return sum(held for _, held in self._looks) / len(self._looks) if self._looks else 0.0

    @property
    def samples(self) -> int:
        return len(self._looks)

    def onset(self) -> float | None:
        """Time of the window's first sample where the condition held."""
        return next((t for t, held in self._looks if held), None)

    def reset(self) -> None:
        self._looks.clear()
        self._since = None
