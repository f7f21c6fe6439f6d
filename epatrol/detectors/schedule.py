"""Schedules: when a zone's rules are active, as weekly windows of local wall-clock time.

Rules depend on the place and the hour: vending beside a school matters during school hours,
a market street is allowed its evening market. A Schedule is a set of weekly windows in one
time zone; `active(utc)` answers for an instant. Pure logic: every function takes the time it
needs (no clock is read here), so tests pass any datetime. The HH:MM and day-name parsing
(parse_clock, parse_days) is the configuration's: epatrol/config/schedules.py.

Windows follow the wall clock of their zone (zoneinfo), so daylight saving time is handled the
way people read clocks: 07:00-08:00 is 07:00-08:00 local on both sides of a change; on the day
clocks spring forward a window inside the skipped hour does not happen, and in the repeated
hour of the autumn change it happens twice. A window whose end is earlier than its start runs
past midnight: `days` names the day it opens ("fri 22:00-06:00" covers Saturday 03:00).

Which schedule applies to a zone and violation (`zone_schedule`): the zone's own `schedule`
if it has one, else its camera's site default for that violation (`sites:`), else none
(always active)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from epatrol.config.schedules import DAY_MINUTES, parse_clock, parse_days


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # the days it opens on, 0 = Monday
    start_min: int  # minutes after local midnight, 0..1439
    end_min: int  # 1..1440; less than start_min: it ends the next day

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < DAY_MINUTES or not 0 < self.end_min <= DAY_MINUTES:
            raise ValueError(f"window times out of range: {self.start_min}..{self.end_min} minutes")
        if self.start_min == self.end_min:
            raise ValueError("a window that starts when it ends is empty (00:00-24:00 is all day)")

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute + local.second / 60
        day = local.weekday()
        if self.start_min < self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        # Past midnight: the evening part on an opening day, the morning part the day after one.
        return (day in self.days and minute >= self.start_min) or ((day - 1) % 7 in self.days and minute < self.end_min)


@dataclass(frozen=True)
class Schedule:
    windows: tuple[Window, ...]
    tz: tzinfo | None = None  # None: the box's own zone, resolved per instant (DST included)

    def active(self, utc: datetime) -> bool:
        if utc.tzinfo is None:
            raise ValueError("Schedule.active needs an aware datetime (UTC)")
        local = utc.astimezone(self.tz)
        return any(w.contains(local) for w in self.windows)


def window(days: Sequence[str], start: str, end: str) -> Window:
    """A Window from the configuration's strings (see config.Window)."""
    return Window(parse_days(days), parse_clock(start), parse_clock(end, allow_24=True))


def schedule_of(windows: Sequence[Any], tz: tzinfo | None) -> Schedule:
    """From config.Window models (anything with .days, .start, .end)."""
    return Schedule(tuple(window(w.days, w.start, w.end) for w in windows), tz)


def camera_zone(camera: Any, review_timezone: str | None) -> tzinfo | None:
    """The camera's own `timezone`, else the configured local zone (review.timezone), else the box's."""
    name = getattr(camera, "timezone", None) or review_timezone
    return ZoneInfo(name) if name else None


def zone_schedule(camera: Any, zone_name: str, violation: str, sites: Any, review_timezone: str | None = None) -> Schedule | None:
    """The schedule of one zone for one violation: the zone's own, else the site's default,
    else None (always active). `camera` is a config.Camera, `sites` the config's `sites`."""
    zone = next((z for z in camera.zones if z.name == zone_name), None)
    windows = getattr(zone, "schedule", None)
    if windows is None:
        site = sites.get(camera.site) if sites else None
        windows = getattr(site, violation, None) if site is not None else None
    if windows is None:
        return None
    return schedule_of(windows, camera_zone(camera, review_timezone))
