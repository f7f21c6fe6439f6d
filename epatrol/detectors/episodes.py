"""Episodes: one real-world violation from its alert to its end, whatever the number of samples.

A judge says, sample by sample, whether its zone is in violation; the Episode turns that
into exactly one start, updates only when something an officer cares about changed, and one
end once the zone has been clear for `end_after_s` (a missed detection or a passing van
does not end it).

Rules every judge shares live here, on the Episode (the worker sets them from the config):

- schedule: outside its active windows a zone never alerts, and an open episode ends with
  reason "schedule: inactive" at the first sample after the window closed;
- cooldown: after an episode ends "cleared", the zone does not start another for `cooldown_s`
  (counted from the moment the end was decided);
- camera outages: `suspend` ends an open episode ("camera disconnected: ...") but remembers it;
  if the violation is seen again within `end_after_s` of the camera's first sample after the
  reconnect, the episode *resumes* (EpisodeResumed: the recorder re-opens the same event)
  instead of alerting twice for one violation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from epatrol.detectors.schedule import Schedule
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample


@dataclass(frozen=True, slots=True)
class EpisodeKey:
    camera_id: str
    zone: str
    violation: str


@dataclass(frozen=True)
class EpisodeStarted:
    key: EpisodeKey
    onset: datetime  # when the violation began (e.g. the bike came to rest)
    alert: datetime  # when the judge decided
    detections: Detections  # the boxes that decided
    details: dict[str, Any]
    sample: Sample  # the deciding frame, for the snapshot


@dataclass(frozen=True)
class EpisodeUpdated:
    key: EpisodeKey
    utc: datetime
    detections: Detections
    details: dict[str, Any]


@dataclass(frozen=True)
class EpisodeEnded:
    key: EpisodeKey
    ended: datetime  # last time the violation was seen
    reason: str  # "cleared", "camera disconnected: ...", "shutdown", "schedule: inactive"
    resumable: bool = False  # the camera went away: the episode may resume after the reconnect


@dataclass(frozen=True)
class EpisodeResumed:
    """The violation of an episode ended by a camera outage is still there after the reconnect:
    the same event goes on (no second alert)."""

    key: EpisodeKey
    utc: datetime
    detections: Detections
    details: dict[str, Any]


EpisodeEvent = EpisodeStarted | EpisodeUpdated | EpisodeEnded | EpisodeResumed

CLEARED = "cleared"
INACTIVE = "schedule: inactive"


@dataclass
class Episode:
    key: EpisodeKey
    end_after_s: float
    cooldown_s: float = 0.0
    schedule: Schedule | None = None  # None: always active
    is_open: bool = False
    last_seen: datetime | None = None
    _summary: Any = field(default=None, repr=False)
    _quiet_until: datetime | None = field(default=None, repr=False)  # cooldown
    _suspended_at: datetime | None = field(default=None, repr=False)  # ended by a camera outage
    _resume_by: datetime | None = field(default=None, repr=False)

    def active(self, utc: datetime) -> bool:
        """Whether the zone's rules apply at this instant (its schedule)."""
        return self.schedule is None or self.schedule.active(utc)

    def observe(
        self,
        utc: datetime,
        violating: bool,
        *,
        onset: datetime | None = None,
        detections: Detections | None = None,
        details: dict[str, Any] | None = None,
        sample: Sample | None = None,
        summary: Any = None,
        seen_at: datetime | None = None,
    ) -> EpisodeEvent | None:
        """`summary` is what, when it changes, deserves an update (e.g. the set of parked bikes);
        `seen_at` is when the violation was last actually seen, if earlier than `utc` (an object
        hidden for a moment still counts, but the episode ends at its last sighting)."""
        if not self.active(utc):
            self._suspended_at = self._resume_by = None  # a new window is a new episode
            return self.close(utc, INACTIVE)
        if self._suspended_at is not None and self._resume_by is None:
            self._resume_by = utc + timedelta(seconds=self.end_after_s)  # first sample since the camera came back
        if violating:
            assert detections is not None and details is not None
            seen = seen_at or utc
            if not self.is_open:
                return self._open(utc, seen, onset, detections, details, sample, summary)
            self.last_seen = seen
            if summary != self._summary:
                self._summary = summary
                return EpisodeUpdated(self.key, utc, detections, details)
            return None
        if self.is_open and self.last_seen is not None and (utc - self.last_seen).total_seconds() >= self.end_after_s:
            ended = self.close(self.last_seen, CLEARED)
            self._quiet_until = utc + timedelta(seconds=self.cooldown_s) if self.cooldown_s else None
            return ended
        return None

    def _open(
        self,
        utc: datetime,
        seen: datetime,
        onset: datetime | None,
        detections: Detections,
        details: dict[str, Any],
        sample: Sample | None,
        summary: Any,
    ) -> EpisodeEvent | None:
        if self._suspended_at is not None:
            if seen <= self._suspended_at:
                return None  # only remembered from before the outage: wait for a sighting
            resume = self._resume_by is not None and utc <= self._resume_by
            self._suspended_at = self._resume_by = None
            if resume:
                self.is_open, self.last_seen, self._summary = True, seen, summary
                return EpisodeResumed(self.key, utc, detections, details)
        if self._quiet_until is not None and utc < self._quiet_until:
            return None  # cooling down after the last episode
        assert sample is not None
        self.is_open, self.last_seen, self._summary = True, seen, summary
        return EpisodeStarted(self.key, onset or utc, utc, detections, details, sample)

    def suspend(self, utc: datetime, reason: str) -> EpisodeEnded | None:
        """The camera went away (it will reconnect): end the open episode, but let the same
        violation resume it if it is seen within `end_after_s` of the camera's return."""
        ended = self.close(utc, reason)
        if ended is None:
            if self._suspended_at is not None:
                self._resume_by = None  # dropped again before it resumed: a fresh window at the next return
            return None
        self._suspended_at, self._resume_by = utc, None
        return EpisodeEnded(ended.key, ended.ended, ended.reason, resumable=True)

    def close(self, utc: datetime, reason: str) -> EpisodeEnded | None:
        if not self.is_open:
            return None
        self.is_open = False
        self._summary = None
        return EpisodeEnded(self.key, utc, reason)
