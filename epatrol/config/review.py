"""The `review:` section: officer sign-ins, local time, and signing of case exports."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from epatrol.config.base import Section
from epatrol.config.schedules import check_time_zone


class Review(Section):
    """Officer review: the API's sign-ins, local time, and signing of case exports."""

    timezone: str | None = Field(None, description="IANA time zone for local times in the API and case exports (default: the box's zone).")
    session_ttl_s: float = Field(8 * 3600, ge=60, le=30 * 86400, description="How long a sign-in (token or cookie) lasts.")
    signing_key: Path | None = Field(None, description="Ed25519 private key (PEM) that signs case exports; relative to the config file.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        return check_time_zone(name)
