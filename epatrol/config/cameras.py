"""The `cameras:` section: each camera's source, site type and zones (polygons, the violations
watched there, their schedule and clean reference)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from epatrol.config.base import Section
from epatrol.config.schedules import Window, check_time_zone
from epatrol.config.violations import Violation


class Site(str, Enum):
    school = "school"
    hospital = "hospital"
    station = "station"
    business = "business"
    other = "other"


Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]


class Zone(Section):
    name: str = Field(min_length=1, max_length=64)
    polygon: list[Point] = Field(min_length=3, description="Vertices in normalised 0..1 image coordinates (x, y).")
    violations: list[Violation] = Field(min_length=1)
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
