"""The `uplink:` section: sending this box's events and evidence to the command centre."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from epatrol.config.base import Section


class CameraLocation(Section):
    street: str | None = Field(None, min_length=1, max_length=200, description="Street (街道) whose chief answers for this camera's area.")
    grid: str | None = Field(None, min_length=1, max_length=200, description="Grid (网格) of the camera's area.")


class Uplink(Section):
    """Store-and-forward of events and evidence from this box to the command centre (NATS JetStream)."""

    enabled: bool = True
    box_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="This box's id at the centre (unique per district).")
    servers: list[str] = Field(min_length=1, description="The centre's NATS servers, e.g. nats://centre.example:4222.")
    locations: dict[str, CameraLocation] = Field(default_factory=dict, description="Camera id -> its street and grid.")
    poll_s: float = Field(1.0, gt=0, le=60, description="How often new evidence is looked for and sent.")
    retry_initial_s: float = Field(0.5, gt=0, le=60, description="First wait after a failed send or connect; doubles each try.")
    retry_max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between attempts while the link is down.")
    reinspect: bool = Field(True, description="Answer the centre's re-inspection (回头看) requests.")
    keep_sent_days: float = Field(7.0, gt=0, description="Outbox rows the centre acknowledged are deleted after this long.")
    tls_ca: Path | None = Field(None, description="CA certificate (PEM) that signed the centre's NATS server certificate, for tls:// servers; relative to the config file.")
