"""The box's configuration file, top level: one section per key, each a model of its own module
in this folder. Unknown keys are rejected; every duration is in seconds and named *_s."""

from __future__ import annotations

from pydantic import Field, model_validator

from epatrol.config.base import Section
from epatrol.config.cameras import Camera, Site
from epatrol.config.notify import NotifyConfig
from epatrol.config.processing import FastPath, Models, Streams
from epatrol.config.review import Review
from epatrol.config.schedules import SiteSchedules
from epatrol.config.storage import Evidence, Retention, Storage
from epatrol.config.uplink import Uplink
from epatrol.config.violations import Violations
from epatrol.config.web import Web


class Config(Section):
    storage: Storage = Field(default_factory=Storage)
    notify: NotifyConfig | None = Field(None, description="Event notifications over MQTT and webhooks.")
    models: Models = Field(default_factory=Models)
    fast_path: FastPath = Field(default_factory=FastPath)
    cameras: list[Camera] = Field(min_length=1)
    violations: Violations = Field(default_factory=Violations)
    evidence: Evidence = Field(default_factory=Evidence)
    streams: Streams = Field(default_factory=Streams)
    retention: Retention = Field(default_factory=Retention)
    review: Review = Field(default_factory=Review)
    sites: dict[Site, SiteSchedules] = Field(default_factory=dict, description="Default active windows per site type and violation.")
    uplink: Uplink | None = Field(None, description="Send events and evidence to the command centre.")
    web: Web = Field(default_factory=Web, description="How the API and review page are served: TLS, trusted proxies, /docs.")

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> Config:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _known_violations(self) -> Config:
        known = self.violations.names
        for i, c in enumerate(self.cameras):
            for j, z in enumerate(c.zones):
                for k, v in enumerate(z.violations):
                    if v not in known:
                        raise ValueError(
                            f"cameras.{i}.zones.{j}.violations.{k}: camera {c.id} zone {z.name}: unknown violation {v!r} "
                            f"(known: {', '.join(known)}; define others under violations.custom)"
                        )
        return self

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite:///{(self.storage.root / 'epatrol.db').as_posix()}"
