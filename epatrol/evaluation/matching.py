"""Events against truth, per clip, then per violation. Pure: no files, no clocks, no pipeline.

The rule, precisely:

- An alert (an event's `alerted_at`, in media seconds of its clip) MATCHES a truth interval
  [start, end] of the same clip (and so the same violation) when start <= alert <= end + tolerance.
- Alerts are taken in time order; each takes the earliest-starting matching interval not yet
  matched. Each interval is matched at most once: a further alert inside an interval already
  matched is a DUPLICATE (one real violation must give one event) and counts as a false alert.
- An alert matching no interval is a false alert (OUTSIDE); an interval no alert matched is MISSED.
- onset-to-alert of a match = alert - start.
- precision = matched / alerts; recall = matched intervals / intervals (None when undefined), each
  with its 95 % Wilson score interval: with 3 of 3 found, recall can still be as low as 0.44.
- negative footage = the clip's duration outside every [start, end + tolerance]; positive
  footage = the duration inside the truth intervals. False alerts per camera-hour = false alerts
  (outside + duplicates) / negative camera-hours; duplicates happen in positive time, so
  charging them to negative time errs on the pessimistic side.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

Interval = tuple[float, float]


@dataclass(frozen=True)
class Alert:
    media_s: float
    event_id: int | None = None


@dataclass(frozen=True)
class Match:
    interval: Interval
    alert: Alert

    @property
    def onset_to_alert_s(self) -> float:
        return self.alert.media_s - self.interval[0]


@dataclass(frozen=True)
class ClipOutcome:
    duration_s: float
    truth: tuple[Interval, ...]
    matches: tuple[Match, ...]
    missed: tuple[Interval, ...]
    outside: tuple[Alert, ...]  # false alerts matching no interval
    duplicates: tuple[Alert, ...]  # false alerts inside an interval already matched
    tolerance_s: float

    @property
    def false_alerts(self) -> int:
        return len(self.outside) + len(self.duplicates)

    @property
    def positive_s(self) -> float:
        return _covered([(s, min(e, self.duration_s)) for s, e in self.truth])

    @property
    def negative_s(self) -> float:
        return max(0.0, self.duration_s - _covered([(s, min(e + self.tolerance_s, self.duration_s)) for s, e in self.truth]))


def _covered(intervals: Sequence[Interval]) -> float:
    total, reach = 0.0, -math.inf
    for s, e in sorted(intervals):
        s = max(s, reach)
        if e > s:
            total += e - s
            reach = e
    return total


def match_clip(truth: Sequence[Interval], alerts: Sequence[Alert], duration_s: float, tolerance_s: float) -> ClipOutcome:
    truth = tuple(sorted((float(s), float(e)) for s, e in truth))
    matched: dict[Interval, Alert] = {}
    outside: list[Alert] = []
    duplicates: list[Alert] = []
    for alert in sorted(alerts, key=lambda a: a.media_s):
        hits = [iv for iv in truth if iv[0] <= alert.media_s <= iv[1] + tolerance_s]
        free = [iv for iv in hits if iv not in matched]
        if free:
            matched[free[0]] = alert
        elif hits:
            duplicates.append(alert)
        else:
            outside.append(alert)
    return ClipOutcome(
        duration_s=duration_s,
        truth=truth,
        matches=tuple(Match(iv, matched[iv]) for iv in truth if iv in matched),
        missed=tuple(iv for iv in truth if iv not in matched),
        outside=tuple(outside),
        duplicates=tuple(duplicates),
        tolerance_s=tolerance_s,
    )


def poisson_upper(count: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound on a Poisson mean having seen `count` events (exact, by bisection):
    with 0 false alerts in H hours the rate can still be as high as 3.0 / H per hour at 95 %."""

    def cdf(k: int, mu: float) -> float:
        term = total = math.exp(-mu)
        for i in range(1, k + 1):
            term *= mu / i
            total += term
        return total

    lo, hi = 0.0, max(10.0, 10.0 * (count + 1))
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(count, mid) > 1 - confidence else (lo, mid)
    return hi


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Two-sided Wilson score interval of a proportion (None with no trials). Chosen over the plain
    normal interval because it stays inside [0, 1] and is honest at 0/n and n/n, which small
    evaluation sets hit all the time."""
    if trials <= 0:
        return None
    z = _normal_quantile(0.5 + confidence / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _normal_quantile(q: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(100):  # bisection on the normal CDF: exact enough, no scipy at run time
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(-mid / math.sqrt(2)) < q else (lo, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class ViolationMetrics:
    violation: str
    clips: int
    truth_intervals: int
    alerts: int
    matched: int
    missed: int
    false_alerts: int
    duplicates: int
    precision: float | None
    recall: float | None
    precision_95: tuple[float, float] | None  # Wilson interval
    recall_95: tuple[float, float] | None
    median_onset_to_alert_s: float | None
    max_onset_to_alert_s: float | None
    positive_hours: float
    negative_hours: float
    false_alerts_per_camera_hour: float | None
    false_alerts_per_camera_hour_95: float | None  # one-sided Poisson upper bound
    false_alerts_per_camera_day: float | None
    false_alerts_per_camera_day_95: float | None  # upper bound: what the negative footage can vouch for
    onset_to_alert_s: list[float] = field(default_factory=list)


def summarise(violation: str, outcomes: Sequence[ClipOutcome]) -> ViolationMetrics:
    matches = [m for o in outcomes for m in o.matches]
    intervals = sum(len(o.truth) for o in outcomes)
    false_alerts = sum(o.false_alerts for o in outcomes)
    alerts = len(matches) + false_alerts
    delays = sorted(m.onset_to_alert_s for m in matches)
    negative_h = sum(o.negative_s for o in outcomes) / 3600
    per_hour = false_alerts / negative_h if negative_h > 0 else None
    return ViolationMetrics(
        violation=violation,
        clips=len(outcomes),
        truth_intervals=intervals,
        alerts=alerts,
        matched=len(matches),
        missed=sum(len(o.missed) for o in outcomes),
        false_alerts=false_alerts,
        duplicates=sum(len(o.duplicates) for o in outcomes),
        precision=len(matches) / alerts if alerts else None,
        recall=len(matches) / intervals if intervals else None,
        precision_95=wilson_interval(len(matches), alerts),
        recall_95=wilson_interval(len(matches), intervals),
        median_onset_to_alert_s=statistics.median(delays) if delays else None,
        max_onset_to_alert_s=delays[-1] if delays else None,
        positive_hours=sum(o.positive_s for o in outcomes) / 3600,
        negative_hours=negative_h,
        false_alerts_per_camera_hour=per_hour,
        false_alerts_per_camera_hour_95=poisson_upper(false_alerts) / negative_h if negative_h > 0 else None,
        false_alerts_per_camera_day=per_hour * 24 if per_hour is not None else None,
        false_alerts_per_camera_day_95=poisson_upper(false_alerts) / negative_h * 24 if negative_h > 0 else None,
        onset_to_alert_s=delays,
    )
