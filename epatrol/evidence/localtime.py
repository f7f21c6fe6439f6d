"""Local time for officers and exports: evidence is stored in UTC, people read wall clocks.

The zone is the ``review.timezone`` config value (an IANA name such as Asia/Shanghai) or,
when unset, the box's own zone. Local strings always carry their UTC offset, so they
are as exact as the UTC ones."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo


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
