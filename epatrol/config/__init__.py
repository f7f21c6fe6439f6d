"""The box's configuration (config.yaml): one pydantic model per section, unknown keys rejected,
every duration in seconds (*_s), errors naming the field path (ConfigError).

    base.py        Section: what every section shares
    box.py         Config: the file's top level
    cameras.py     cameras: Site, Zone, Camera
    violations.py  violations: the section (built-in and custom), labels_of, department_of
    rules.py       the four built-in violations' rules
    district.py    custom violations: the rule kinds dwell, count, scene_change, region_state
    schedules.py   zone and site schedules (Window, SiteSchedules), HH:MM and day parsing
    processing.py  streams, models, fast_path
    storage.py     storage, evidence, retention
    review.py      review
    notify.py      notify
    uplink.py      uplink
    web.py         web (TLS, trusted proxies, API docs; the fields are epatrol/common/web.py's)
    loading.py     parse_config, load_config, json_schema

Read by the whole box; imports nothing from epatrol but common/. The centre's settings are
epatrol/centre/config.py."""

from epatrol.common.errors import ConfigError
from epatrol.config.base import Section
from epatrol.config.box import Config
from epatrol.config.cameras import Camera, Point, Site, Zone
from epatrol.config.district import (
    RULE_KINDS,
    CountRule,
    CustomRule,
    DwellRule,
    Labels,
    RegionStateRule,
    SceneChangeRule,
)
from epatrol.config.loading import json_schema, load_config, parse_config
from epatrol.config.notify import MqttTarget, NotifyConfig, WebhookTarget
from epatrol.config.processing import FastPath, Models, Streams
from epatrol.config.review import Review
from epatrol.config.rules import (
    OpenBurning,
    OverflowingBins,
    ParkedBikes,
    StreetVending,
    ViolationRules,
)
from epatrol.config.schedules import (
    SiteSchedules,
    Window,
    check_time_zone,
    parse_clock,
    parse_days,
)
from epatrol.config.storage import Evidence, Retention, Storage
from epatrol.config.uplink import CameraLocation, Uplink
from epatrol.config.violations import BUILTIN_LABELS, Violation, Violations
from epatrol.config.web import Web

__all__ = [
    "BUILTIN_LABELS",
    "CountRule",
    "CustomRule",
    "DwellRule",
    "Labels",
    "RULE_KINDS",
    "RegionStateRule",
    "SceneChangeRule",
    "Camera",
    "CameraLocation",
    "Config",
    "ConfigError",
    "Evidence",
    "FastPath",
    "Models",
    "MqttTarget",
    "NotifyConfig",
    "OpenBurning",
    "OverflowingBins",
    "ParkedBikes",
    "Point",
    "Retention",
    "Review",
    "Section",
    "Site",
    "SiteSchedules",
    "Storage",
    "Streams",
    "StreetVending",
    "Uplink",
    "Violation",
    "ViolationRules",
    "Violations",
    "Web",
    "WebhookTarget",
    "Window",
    "Zone",
    "check_time_zone",
    "json_schema",
    "load_config",
    "parse_clock",
    "parse_config",
    "parse_days",
]
