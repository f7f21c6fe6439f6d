"""When rules are active: weekly windows of local time (`schedule:` of a zone, `sites:`), the
HH:MM and day-name parsing they are written in, and the time-zone check of `timezone:` fields.

The parsing is pure (no clock is read); epatrol/detectors/schedule.py builds the running
Schedule from these windows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from epatrol.config.base import Section

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
DAY_MINUTES = 24 * 60
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")


def parse_clock(text: str, *, allow_24: bool = False) -> int:
    """'07:30' -> minutes after midnight. '24:00' only where it may end a window."""
    m = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"expected a time as HH:MM (e.g. 07:30), got {text!r}")
    hours, minutes = int(m[1]), int(m[2])
    if allow_24 and (hours, minutes) == (24, 0):
        return DAY_MINUTES
    if hours > 23 or minutes > 59:
        limit = "00:00-24:00" if allow_24 else "00:00-23:59"
        raise ValueError(f"{text!r} is not a time of day ({limit})")
    return hours * 60 + minutes


def parse_days(items: Iterable[str]) -> frozenset[int]:
    """['mon-fri', 'sun'] -> {0, 1, 2, 3, 4, 6}. A range may wrap ('fri-mon')."""
    days: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        first, _, last = text.partition("-")
        try:
            a = WEEKDAYS.index(first)
            b = WEEKDAYS.index(last) if last else a
        except ValueError:
            raise ValueError(f"unknown day {item!r}: use {', '.join(WEEKDAYS)} or a range such as mon-fri") from None
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    if not days:
        raise ValueError("a window needs at least one day")
    return frozenset(days)


def check_time_zone(name: str | None) -> str | None:
    """Field check of a `timezone:` value: an IANA name this machine knows, or None."""
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from None
    return name


class Window(Section):
    """One weekly window of local time, e.g. {days: [mon-fri], start: "07:00", end: "17:30"}."""

    days: list[str] = Field(default_factory=lambda: ["mon-sun"], min_length=1, description="Days it opens: mon..sun, or ranges such as mon-fri.")
    start: str = Field(description="Local time it opens, HH:MM.")
    end: str = Field(description="Local time it closes, HH:MM (24:00 = midnight); earlier than start: it runs past midnight.")

    @field_validator("days")
    @classmethod
    def _known_days(cls, days: list[str]) -> list[str]:
        parse_days(days)
        return days

    @field_validator("start")
    @classmethod
    def _start_clock(cls, text: str) -> str:
        parse_clock(text)
        return text

    @field_validator("end")
    @classmethod
    def _end_clock(cls, text: str) -> str:
        parse_clock(text, allow_24=True)
        return text

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if parse_clock(self.start) == parse_clock(self.end, allow_24=True):
            raise ValueError(f"start and end are both {self.start}: an empty window (use 00:00 to 24:00 for all day)")
        return self


class SiteSchedules(Section):
    """Default active windows per violation for every zone of a site type (a zone's own schedule wins)."""

    street_vending: list[Window] | None = Field(None, min_length=1)
    parked_bikes: list[Window] | None = Field(None, min_length=1)
    overflowing_bins: list[Window] | None = Field(None, min_length=1)
    open_burning: list[Window] | None = Field(None, min_length=1)
