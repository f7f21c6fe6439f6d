"""Where evidence goes and how long it stays: `storage:`, `evidence:` (clip length) and `retention:`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from epatrol.config.base import Section


class Storage(Section):
    root: Path = Path("./data")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<root>/epatrol.db")


class Evidence(Section):
    pre_s: float = Field(10.0, ge=0, le=120, description="Seconds of video kept before the alert.")
    post_s: float = Field(10.0, ge=0, le=600, description="Seconds of video recorded after the alert.")


class Retention(Section):
    """Old evidence goes first; confirmed events and events in a case are never deleted (legal hold)."""

    max_age_days: float | None = Field(30.0, gt=0, description="Delete unheld evidence older than this (None: keep by age).")
    min_free_mb: float = Field(2048.0, ge=0, description="Keep at least this much free on the storage: delete the oldest unheld evidence.")
    check_every_s: float = Field(300.0, ge=5, description="How often the running service applies the policy.")
