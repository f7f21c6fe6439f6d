"""The configuration file: one pydantic model per section, unknown keys rejected.

Every duration is in seconds and named *_s. Errors name the field path (see ConfigError)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from epatrol.notify.settings import NotifyConfig


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and each bad field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(str, Enum):
    school = "school"
    hospital = "hospital"
    station = "station"
    business = "business"
    other = "other"


class Violation(str, Enum):
    street_vending = "street_vending"
    parked_bikes = "parked_bikes"
    overflowing_bins = "overflowing_bins"
    open_burning = "open_burning"


Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]


class Zone(_Section):
    name: str = Field(min_length=1, max_length=64)
    polygon: list[Point] = Field(min_length=3, description="Vertices in normalised 0..1 image coordinates (x, y).")
    violations: list[Violation] = Field(min_length=1)


class Camera(_Section):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Stable id: lower-case letters, digits, - and _.")
    name: str = Field(min_length=1)
    url: str = Field(min_length=1, description="rtsp://... or a video file path (relative to the config file).")
    site: Site = Site.other
    zones: list[Zone] = Field(default_factory=list)
    loop: bool = Field(False, description="File sources: start again at the end instead of stopping.")
    realtime: bool = Field(False, description="File sources: pace at the file's frame rate instead of as fast as possible.")
    enabled: bool = True

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


class ParkedBikes(_Section):
    dwell_s: float = Field(120.0, gt=0, description="How long a bike must stay in the zone before it is a violation.")
    min_count: int = Field(1, ge=1, description="Parked bikes in one zone needed to raise an episode.")
    confidence: float = Field(0.3, gt=0, lt=1)
    sample_every_s: float = Field(1.0, gt=0, description="Seconds between analysed frames.")
    classes: list[str] = Field(default_factory=lambda: ["bicycle", "motorcycle"], min_length=1)
    max_motion: float = Field(0.35, gt=0, description="A track moving more than this many box-diagonals is not parked.")
    end_after_s: float = Field(60.0, gt=0, description="Zone seen without enough parked bikes this long ends the episode.")


class OpenBurning(_Section):
    """Open burning (露天焚烧): the fire_smoke model's boxes, confirmed over time by physical cues.

    Defaults come from measurements on real footage (see epatrol/detectors/open_burning.py)."""

    confidence: float = Field(0.3, gt=0, lt=1, description="Detector score a fire or smoke box needs to be a candidate.")
    sample_every_s: float = Field(0.5, gt=0, description="Seconds between analysed frames (fire is fast: sampled faster than the slow violations).")
    persist_window_s: float = Field(3.0, gt=0, description="Wall-clock window in which a candidate region must keep being detected.")
    persist_min_hits: int = Field(4, ge=2, description="Samples in the window that must detect the region.")
    min_flicker: float = Field(6.0, ge=0, description="Median change of the region's content between its samples (grey levels 0..255): flames change, a photo, lamp or sign does not.")
    min_shape_change: float = Field(0.1, ge=0, description="Median |ln(area ratio)| of the region's box between its samples: flames change shape, a rigid object keeps its size.")
    smoke_alone: bool = Field(False, description="Also alert on smoke with no confirmed flame (fog, steam and foggers look the same to the cues: off by default).")
    smoke_window_s: float = Field(6.0, gt=0, description="smoke_alone: window in which a smoke region must persist, grow or rise.")
    smoke_min_hits: int = Field(8, ge=2, description="smoke_alone: samples in smoke_window_s that must detect the smoke region.")
    min_smoke_growth: float = Field(0.3, ge=0, description="smoke_alone: relative growth of the smoke box's area over the window (0.3 = +30%), or ...")
    min_smoke_rise: float = Field(0.2, ge=0, description="smoke_alone: ... rise of its top edge over the window, in box heights.")
    end_after_s: float = Field(60.0, gt=0, description="No confirmed fire in the zone this long ends the episode.")

    @model_validator(mode="after")
    def _hits_fit_the_window(self) -> "OpenBurning":
        checks = [(self.persist_min_hits, self.persist_window_s, "persist")]
        if self.smoke_alone:
            checks.append((self.smoke_min_hits, self.smoke_window_s, "smoke"))
        for hits, window, name in checks:
            possible = int(window / self.sample_every_s + 1e-9) + 1
            if hits > possible:
                raise ValueError(
                    f"{name}_min_hits={hits} can never be reached: {window} s at one sample every "
                    f"{self.sample_every_s} s holds at most {possible} samples"
                )
        return self


class Violations(_Section):
    parked_bikes: ParkedBikes = Field(default_factory=ParkedBikes)
    open_burning: OpenBurning = Field(default_factory=OpenBurning)


class Storage(_Section):
    root: Path = Path("./data")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///<root>/epatrol.db")


class Models(_Section):
    dir: Path | None = Field(None, description="Folder with the ONNX weights (EPATROL_MODELS overrides).")
    detector: str = Field("yolov8n_int8", description="COCO detector from the model manifest.")
    # Measured (benchmarks/concurrency.py): on 2 cores, one single-threaded inference per core
    # sustains 1.9x the samples/s of one inference at a time on both cores.
    threads: int | None = Field(1, ge=1, le=64, description="onnxruntime intra-op threads per inference (None: all cores).")
    workers: int | None = Field(None, ge=1, le=64, description="Inferences run at once on each model's shared session (None: one per core).")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$")


class Streams(_Section):
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up opening a camera after this long.")
    read_timeout_s: float = Field(10.0, gt=0, le=120, description="No data this long: the camera is frozen, reconnect.")
    reconnect_initial_s: float = Field(1.0, gt=0, le=600, description="First wait before reconnecting; doubles each try.")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="Longest wait between reconnect attempts.")


class Retention(_Section):
    """Old evidence goes first; confirmed events and events in a case are never deleted (legal hold)."""

    max_age_days: float | None = Field(30.0, gt=0, description="Delete unheld evidence older than this (None: keep by age).")
    min_free_mb: float = Field(2048.0, ge=0, description="Keep at least this much free on the storage: delete the oldest unheld evidence.")
    check_every_s: float = Field(300.0, ge=5, description="How often the running service applies the policy.")


class Evidence(_Section):
    pre_s: float = Field(10.0, ge=0, le=120, description="Seconds of video kept before the alert.")
    post_s: float = Field(10.0, ge=0, le=600, description="Seconds of video recorded after the alert.")


class Review(_Section):
    """Officer review: the API's sign-ins, local time, and signing of case exports."""

    timezone: str | None = Field(None, description="IANA time zone for local times in the API and case exports (default: the box's zone).")
    session_ttl_s: float = Field(8 * 3600, ge=60, le=30 * 86400, description="How long a sign-in (token or cookie) lasts.")
    signing_key: Path | None = Field(None, description="Ed25519 private key (PEM) that signs case exports; relative to the config file.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from None
        return name


class Config(_Section):
    storage: Storage = Field(default_factory=Storage)
    notify: NotifyConfig | None = Field(None, description="Event notifications over MQTT and webhooks.")
    models: Models = Field(default_factory=Models)
    cameras: list[Camera] = Field(min_length=1)
    violations: Violations = Field(default_factory=Violations)
    evidence: Evidence = Field(default_factory=Evidence)
    streams: Streams = Field(default_factory=Streams)
    retention: Retention = Field(default_factory=Retention)
    review: Review = Field(default_factory=Review)

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> "Config":
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
        return self

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite:///{(self.storage.root / 'epatrol.db').as_posix()}"


def _format_errors(source: str, err: ValidationError) -> str:
    lines = [f"{source}: {err.error_count()} invalid field(s)"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {path}: {e['msg']}")
    return "\n".join(lines)


def _resolve_relative(cfg: Config, base: Path) -> Config:
    """Paths in the file are relative to the file, not to the caller's working directory."""

    def rel(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p).resolve()

    cameras = [
        c if c.is_live or Path(c.url).is_absolute() else c.model_copy(update={"url": str((base / c.url).resolve())})
        for c in cfg.cameras
    ]
    return cfg.model_copy(
        update={
            "storage": cfg.storage.model_copy(update={"root": rel(cfg.storage.root)}),
            "models": cfg.models.model_copy(update={"dir": rel(cfg.models.dir)}),
            "review": cfg.review.model_copy(update={"signing_key": rel(cfg.review.signing_key)}),
            "cameras": cameras,
        }
    )


def parse_config(data: object, source: str = "<config>", base: Path | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(source, e)) from None
    return _resolve_relative(cfg, base) if base is not None else cfg


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse_config(data, str(path), base=path.resolve().parent)


def json_schema() -> str:
    return json.dumps(Config.model_json_schema(), indent=2, ensure_ascii=False)
