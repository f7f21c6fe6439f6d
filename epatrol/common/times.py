"""Time: evidence is stored in aware UTC (``utcnow``, the ``UTCDateTime`` column type); officers
and exports read local wall clocks (``local_zone``, ``to_local``).


The zone is the ``review.timezone`` config value (an IANA name such as Asia/Shanghai) or,
when unset, the box's own zone. Local strings always carry their UTC offset, so they
are as exact as the UTC ones."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def local_zone(name: str | None) -> tzinfo | None:
    """The configured zone; None means the box's zone (resolved per instant, so DST is right)."""
    return ZoneInfo(name) if name else None


def to_local(t: datetime | None, zone: tzinfo | None) -> str | None:
    return None if t is None else t.astimezone(zone).isoformat()


def zone_name(zone: tzinfo | None) -> str:
    """A name for the zone: the IANA key when configured, else the box's abbreviation."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    return datetime.now().astimezone().tzname() or "local"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime; pass a timezone-aware UTC time")
    return value


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the column (SQLite has no time zones).

    Naive datetimes are refused: guessing whether one meant local time or UTC is how
    evidence ends up an hour off."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return aware(value, "timestamp").astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)
