"""The `review:` section: officer sign-ins (and their lockout), local time, and signing of case exports."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from epatrol.config.base import Section
from epatrol.config.schedules import check_time_zone


class Review(Section):
    """Officer review: the API's sign-ins, local time, and signing of case exports."""

    timezone: str | None = Field(None, description="IANA time zone for local times in the API and case exports (default: the box's zone).")
    session_ttl_s: float = Field(8 * 3600, ge=60, le=30 * 86400, description="How long a sign-in (token or cookie) lasts.")
    login_max_failures: int = Field(5, ge=1, le=1000, description="Wrong passwords for one username within login_window_s that lock the account for login_lockout_s (sign-ins answer 429).")
    login_client_max_failures: int = Field(20, ge=1, le=100_000, description="Wrong passwords from one client address (any usernames) within login_window_s that lock that client out for login_lockout_s.")
    login_window_s: float = Field(900, gt=0, le=86400, description="The window in which failed sign-ins are counted.")
    login_lockout_s: float = Field(900, gt=0, le=86400, description="How long a locked account or client is refused.")
    signing_key: Path | None = Field(None, description="Ed25519 private key (PEM) that signs case exports; relative to the config file. Unset: the box's own key, <storage>/keys/export-signing.pem, made at first start.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        return check_time_zone(name)
