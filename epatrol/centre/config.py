"""The centre's settings: centre.yaml for `epatrol centre` (CentreConfig, load_centre_config):
its database, the NATS link to the boxes, the sign-in lockout (auth), and the workflow section:
departments, who answers for each violation, deadlines, reminders, escalation, recurrence and
time zone.

Workflow defaults follow the district plan's lead units. A violation given in the file is merged
over its default, so `parked_bikes: {deadline_s: 3600}` keeps the departments. A district-defined
violation (a box's `violations.custom`) needs no rule here: its cases are led by the department its
events name (`details.lead_department`), else `default_department`, on `default_rule`'s clock; a
rule given here by its name (merged over `default_rule`, `lead` required) decides instead. Unknown
keys are refused and every error names the file and its field path (epatrol/common/yaml_file.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from epatrol.common.web import WebSettings
from epatrol.common.yaml_file import read_yaml, relative_to, validate

CODE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
VIOLATION_NAME = r"^[a-z][a-z0-9_]{0,63}$"  # the boxes' violation names (config/district.py)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Department(_Section):
    name: str = Field(min_length=1, max_length=200, description="Shown to people, e.g. 区城市管理综合执法局.")
    name_en: str | None = Field(None, max_length=200, description="English name for the page.")


DEFAULT_DEPARTMENTS: dict[str, dict[str, str]] = {
    "enforcement": {"name": "区城市管理综合执法局", "name_en": "District City-Management Enforcement Bureau"},
    "traffic": {"name": "交管大队", "name_en": "Traffic Police Brigade"},
    "town": {"name": "街镇", "name_en": "Sub-district / Town Office"},
}


class ViolationRule(_Section):
    lead: str = Field(pattern=CODE, description="Department code that leads (and answers for) the case.")
    assist: list[str] = Field(default_factory=list, description="Departments that work with the lead; their handlers see the case too.")
    deadline_s: float = Field(gt=0, le=90 * 86400, description="From dispatch (派遣) to handled (处置).")
    remind_before_s: float = Field(ge=0, le=90 * 86400, description="Remind the departments this long before the deadline.")
    escalate_every_s: float = Field(gt=0, le=90 * 86400, description="Overdue: escalate at the deadline, then again every this long.")

    def departments(self) -> list[str]:
        return [self.lead, *(d for d in self.assist if d != self.lead)]


DEFAULT_RULES: dict[str, dict[str, Any]] = {
    # Street vending moves on within hours; a stall left for a day is a complaint.
    "street_vending": {"lead": "enforcement", "deadline_s": 4 * 3600, "remind_before_s": 3600, "escalate_every_s": 4 * 3600},
    "overflowing_bins": {"lead": "enforcement", "deadline_s": 8 * 3600, "remind_before_s": 2 * 3600, "escalate_every_s": 8 * 3600},
    "parked_bikes": {"lead": "enforcement", "assist": ["traffic"], "deadline_s": 4 * 3600, "remind_before_s": 3600,
                     "escalate_every_s": 4 * 3600},
    # Fire: the town office leads with the enforcement bureau, and the clock is short.
    "open_burning": {"lead": "town", "assist": ["enforcement"], "deadline_s": 3600, "remind_before_s": 900, "escalate_every_s": 1800},
}


class DefaultRule(_Section):
    """The clock of a district-defined violation's cases that have no rule of their own."""

    assist: list[str] = Field(default_factory=list, description="Departments that work with the lead.")
    deadline_s: float = Field(8 * 3600, gt=0, le=90 * 86400, description="From dispatch (派遣) to handled (处置).")
    remind_before_s: float = Field(2 * 3600, ge=0, le=90 * 86400, description="Remind the departments this long before the deadline.")
    escalate_every_s: float = Field(8 * 3600, gt=0, le=90 * 86400, description="Overdue: escalate at the deadline, then again every this long.")


class ViolationRules(_Section):
    """The four built-ins' rules, and any district-defined violation's by its name (extra keys)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    __pydantic_extra__: dict[str, ViolationRule] = Field(init=False)

    street_vending: ViolationRule
    overflowing_bins: ViolationRule
    parked_bikes: ViolationRule
    open_burning: ViolationRule

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged: dict[str, Any] = {k: dict(v) for k, v in DEFAULT_RULES.items()}
        for key, value in data.items():
            if key in merged and isinstance(value, dict):
                merged[key].update(value)
            else:
                merged[key] = value  # unknown keys and non-mappings fail with their own path
        return merged

    @model_validator(mode="after")
    def _custom_names(self) -> ViolationRules:
        for name in self.model_extra or {}:
            if not re.fullmatch(VIOLATION_NAME, name):
                raise ValueError(f"{name!r} is not a violation name: lower-case letters, digits and '_', starting with a letter")
        return self

    def names(self) -> list[str]:
        """The violations with a rule: the built-ins, then the district's given here."""
        return [*type(self).model_fields, *(self.model_extra or {})]

    def of(self, violation: str) -> ViolationRule:
        rule = getattr(self, violation) if violation in type(self).model_fields else (self.model_extra or {}).get(violation)
        if not isinstance(rule, ViolationRule):
            raise KeyError(f"no workflow rule for violation {violation!r}")
        return rule


class CentreWorkflow(_Section):
    """The closed loop: 发现 -> 立案 -> 派遣 -> 处置 -> 核查 -> 结案."""

    departments: dict[str, Department] = Field(
        default_factory=lambda: {k: Department(**v) for k, v in DEFAULT_DEPARTMENTS.items()},
        description="Department code -> names. Handlers are bound to a code.",
    )
    violations: ViolationRules = Field(default_factory=lambda: ViolationRules.model_validate({}))
    default_department: str = Field("enforcement", pattern=CODE, description="Leads a district-defined violation's case when neither a rule here nor its event names a known department.")
    default_rule: DefaultRule = Field(default_factory=DefaultRule, description="Deadline, reminder and escalation of a district-defined violation without a rule here.")
    recurrence_days: float = Field(30, gt=0, le=366, description="A case filed for the same camera, zone and violation within this many days after one closed counts as a recurrence.")
    reinspect_retry_s: float = Field(1800, gt=0, le=7 * 86400, description="A re-inspection the box could not do (or whose photo failed its check) is asked again after this long.")
    tick_every_s: float = Field(30, gt=0, le=3600, description="How often the centre files new cases, reminds, escalates and reads re-inspection answers.")
    timezone: str | None = Field("Asia/Shanghai", description="IANA zone of the monthly report's month boundaries and the page's times.")
    max_photo_bytes: int = Field(8 * 2**20, ge=1024, le=64 * 2**20, description="Largest handling photo accepted.")

    @model_validator(mode="before")
    @classmethod
    def _custom_over_default(cls, data: Any) -> Any:
        """A district-defined violation's rule here is merged over default_rule (lead required)."""
        if not isinstance(data, dict) or not isinstance(data.get("violations"), dict):
            return data
        base = data.get("default_rule", {})
        base = base.model_dump() if isinstance(base, DefaultRule) else base
        if not isinstance(base, dict):
            return data  # fails with its own path
        base = {**DefaultRule().model_dump(), **base}
        violations = {k: ({**base, **v} if k not in DEFAULT_RULES and isinstance(v, dict) else v)
                      for k, v in data["violations"].items()}
        return {**data, "violations": violations}

    @model_validator(mode="after")
    def _departments_exist(self) -> CentreWorkflow:
        for code in self.departments:
            if not re.fullmatch(CODE, code):
                raise ValueError(f"departments.{code}: a code is lower-case letters, digits, '-' or '_'")
        known = ", ".join(sorted(self.departments))
        if self.default_department not in self.departments:
            raise ValueError(f"default_department: unknown department {self.default_department!r} (departments: {known})")
        for code in self.default_rule.assist:
            if code not in self.departments:
                raise ValueError(f"default_rule.assist: unknown department {code!r} (departments: {known})")
        for violation in self.violations.names():
            rule = self.violations.of(violation)
            for field, codes in (("lead", [rule.lead]), ("assist", rule.assist)):
                for code in codes:
                    if code not in self.departments:
                        raise ValueError(
                            f"violations.{violation}.{field}: unknown department {code!r} "
                            f"(departments: {', '.join(sorted(self.departments))})"
                        )
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone: unknown IANA time zone {self.timezone!r}") from None
        return self

    def rule_for(self, violation: str, lead: str | None = None) -> ViolationRule:
        """The rule of ``violation``'s cases: its own when given here; else (a district-defined
        violation) default_rule led by ``lead`` (what its event names) when that is a known
        department, else by default_department."""
        try:
            return self.violations.of(violation)
        except KeyError:
            pass
        d = self.default_rule
        return ViolationRule(lead=lead if lead in self.departments else self.default_department, assist=d.assist,
                             deadline_s=d.deadline_s, remind_before_s=d.remind_before_s, escalate_every_s=d.escalate_every_s)


class CentreNats(_Section):
    servers: list[str] = Field(default_factory=lambda: ["nats://127.0.0.1:4222"], min_length=1)
    durable: str = Field("centre-ingest", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="JetStream consumer name of the ingest.")
    batch: int = Field(64, ge=1, le=1024, description="Messages fetched at once.")
    ack_wait_s: float = Field(30.0, ge=1, le=3600, description="A message not acknowledged this long (the centre died mid-way) is delivered again.")
    tls_ca: Path | None = Field(None, description="CA certificate (PEM) of the NATS server's certificate, for tls:// servers; relative to the config file.")


class CentreAuth(_Section):
    """Sign-ins to the centre's API: the lockout against password guessing (epatrol.common.throttle)."""

    login_max_failures: int = Field(5, ge=1, le=1000, description="Wrong passwords for one username within login_window_s that lock the account for login_lockout_s (sign-ins answer 429).")
    login_client_max_failures: int = Field(20, ge=1, le=100_000, description="Wrong passwords from one client address (any usernames) within login_window_s that lock that client out for login_lockout_s.")
    login_window_s: float = Field(900, gt=0, le=86400, description="The window in which failed sign-ins are counted.")
    login_lockout_s: float = Field(900, gt=0, le=86400, description="How long a locked account or client is refused.")


class CentreConfig(_Section):
    """centre.yaml: the command centre (`epatrol centre`)."""

    database_url: str = Field(min_length=1, description="SQLAlchemy URL of the centre's database (PostgreSQL in production).")
    nats: CentreNats = Field(default_factory=CentreNats)
    workflow: CentreWorkflow = Field(default_factory=CentreWorkflow, description="The closed loop: departments, deadlines, escalation.")
    auth: CentreAuth = Field(default_factory=CentreAuth, description="Sign-ins: the lockout after repeated wrong passwords.")
    evidence_dir: Path | None = Field(None, description="Also keep a copy of every verified clip and snapshot here, named by its object key.")
    web: WebSettings = Field(default_factory=WebSettings, description="How the web app is served: TLS, trusted proxies, /docs (epatrol/common/web.py).")


def load_centre_config(path: Path | str) -> CentreConfig:
    """centre.yaml for `epatrol centre`; errors (ConfigError) name the file and each bad field."""
    path = Path(path)
    cfg = validate(CentreConfig, read_yaml(path), str(path))
    rel = relative_to(path.resolve().parent)  # paths in the file are relative to the file
    return cfg.model_copy(update={
        "evidence_dir": rel(cfg.evidence_dir),
        "nats": cfg.nats.model_copy(update={"tls_ca": rel(cfg.nats.tls_ca)}),
        "web": cfg.web.relative_to(rel),
    })
