"""Sustained: whether a per-sample condition held in `min_share` of the samples of the last
`window_s` seconds, once the judge has watched a whole window (wall-clock time, not sample counts:
a camera sampled more slowly still needs the same seconds). A missed detection in one sample does
not reset it; a sample that could not be judged (hidden) counts neither way."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from epatrol.detectors.episodes import Episode, EpisodeEnded

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


class SustainedZones:
    """close and suspend for a judge with one Sustained window and one Episode per zone
    (`windows`, `episodes`): a camera that dropped keeps the windows of its open episodes, so the
    same violation resumes its event at once; other zones start watching afresh."""

    windows: dict[str, Sustained]
    episodes: dict[str, Episode]

    def close(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        for window in self.windows.values():
            window.reset()
        ended = [e.close(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]

    def suspend(self, utc: datetime, reason: str) -> list[EpisodeEnded]:
        for name, window in self.windows.items():
            if not self.episodes[name].is_open:
                window.reset()
        ended = [e.suspend(utc, reason) for e in self.episodes.values()]
        return [e for e in ended if e is not None]
