"""Episodes: one real-world violation from its alert to its end, whatever the number of samples.

A judge says, sample by sample, whether its zone is in violation; the Episode turns that
into exactly one start, updates only when something an officer cares about changed, and one
end once the zone has been clear for `end_after_s` (a missed detection or a passing van
does not end it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    reason: str  # "cleared", "camera disconnected: ...", "shutdown"


EpisodeEvent = EpisodeStarted | EpisodeUpdated | EpisodeEnded


@dataclass
class Episode:
    key: EpisodeKey
    end_after_s: float
    is_open: bool = False
    last_seen: datetime | None = None
    _summary: Any = field(default=None, repr=False)

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
        if violating:
            assert detections is not None and details is not None
            self.last_seen = seen_at or utc
            if not self.is_open:
                assert sample is not None
                self.is_open = True
                self._summary = summary
                return EpisodeStarted(self.key, onset or utc, utc, detections, details, sample)
            if summary != self._summary:
                self._summary = summary
                return EpisodeUpdated(self.key, utc, detections, details)
            return None
        if self.is_open and self.last_seen is not None and (utc - self.last_seen).total_seconds() >= self.end_after_s:
            return self.close(self.last_seen, "cleared")
        return None

    def close(self, utc: datetime, reason: str) -> EpisodeEnded | None:
        if not self.is_open:
            return None
        self.is_open = False
        self._summary = None
        return EpisodeEnded(self.key, utc, reason)
