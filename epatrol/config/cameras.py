"""The `cameras:` section: each camera's source, site type and zones (polygons, the violations
watched there, their schedule and clean reference)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from epatrol.config.base import Section
from epatrol.config.schedules import Window, check_time_zone


class Site(str, Enum):
    school = "school"
    hospital = "hospital"
    station = "station"
    business = "business"
    other = "other"


Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]


class Responsible(Section):
    """门前三包: the unit (a shop, a company, an office) answering for the pavement of this zone.
    Its events, exports and centre cases name it."""

    name: str = Field(min_length=1, max_length=200, pattern=r"\S", description="The unit's name, e.g. 张记小吃.")
    contact: str | None = Field(None, min_length=1, max_length=100, pattern=r"\S", description="Who to call: a phone number or a person.")
    licence: str | None = Field(None, min_length=1, max_length=64, pattern=r"\S", description="Business licence or unified social credit code.")


class Zone(Section):
    name: str = Field(min_length=1, max_length=64)
    polygon: list[Point] = Field(min_length=3, description="Vertices in normalised 0..1 image coordinates (x, y).")
    violations: list[str] = Field(
        min_length=1,
        description="Violations watched here: built-in (street_vending, parked_bikes, overflowing_bins, open_burning) or `violations.custom` names.",
    )
    schedule: list[Window] | None = Field(
        None,
        min_length=1,
        description="When the zone's rules are active (local time, see the camera's timezone); omitted: the site's default, else always.",
    )
    clean_reference: Path | None = Field(
        None,
        description="Street vending: a photo (PNG/JPEG) of this camera's view with the zone empty (no stall, people or vehicles) at a quiet hour, "
        "in light like the patrol's; the background starts from it, so a stall already there at start is found. Relative to the config file; "
        "omitted: references/<camera>/<zone>.png under the storage root when present (see detectors/zone_reference.py).",
    )
    responsible: Responsible | None = Field(None, description="门前三包: the unit answering for this zone (name, contact, licence).")

    @field_validator("violations", mode="before")
    @classmethod
    def _plain_names(cls, names: object) -> object:
        # Code may pass the built-in Violation enum; the names are kept as plain strings.
        return [n.value if isinstance(n, Enum) else n for n in names] if isinstance(names, list) else names

    @field_validator("violations")
    @classmethod
    def _once_each(cls, names: list[str]) -> list[str]:
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"listed twice: {', '.join(dupes)}")
        return names


class Camera(Section):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Stable id: lower-case letters, digits, - and _.")
    name: str = Field(min_length=1)
    url: str = Field(min_length=1, description="rtsp://... or a video file path (relative to the config file).")
    site: Site = Site.other
    zones: list[Zone] = Field(default_factory=list)
    loop: bool = Field(False, description="File sources: start again at the end instead of stopping.")
    realtime: bool = Field(False, description="File sources: pace at the file's frame rate instead of as fast as possible.")
    enabled: bool = True
    timezone: str | None = Field(None, description="IANA time zone of the schedules (default: review.timezone, else the box's zone).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        return check_time_zone(name)

    @field_validator("zones")
    @classmethod
    def _unique_zone_names(cls, zones: list[Zone]) -> list[Zone]:
        names = [z.name for z in zones]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate zone names: {', '.join(dupes)}")
        return zones

    @property
    def is_live(self) -> bool:
        return "://" in self.url
