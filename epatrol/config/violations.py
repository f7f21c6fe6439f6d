"""The `violations:` section: the four built-in violations' rules (rules.py) and the district's own
(`custom:`, district.py), with the names every part shows for them (labels_of) and the department
that leads a custom violation's cases at the centre (department_of)."""

from __future__ import annotations

import re
from enum import Enum

from pydantic import Field, field_validator

from epatrol.config.base import Section
from epatrol.config.district import NAME, CustomRule
from epatrol.config.rules import (
    OpenBurning,
    OverflowingBins,
    ParkedBikes,
    StreetVending,
    ViolationRules,
)


class Violation(str, Enum):
    """The four built-in violations (judged by code of their own in detectors/)."""

    street_vending = "street_vending"
    parked_bikes = "parked_bikes"
    overflowing_bins = "overflowing_bins"
    open_burning = "open_burning"


BUILTIN_LABELS: dict[str, dict[str, str]] = {
    Violation.street_vending.value: {"zh": "占道经营", "en": "street vending"},
    Violation.parked_bikes.value: {"zh": "非机动车乱停放", "en": "parked bikes"},
    Violation.overflowing_bins.value: {"zh": "垃圾满溢", "en": "overflowing bins"},
    Violation.open_burning.value: {"zh": "露天焚烧", "en": "open burning"},
}


class Violations(Section):
    parked_bikes: ParkedBikes = Field(default_factory=ParkedBikes)
    street_vending: StreetVending = Field(default_factory=StreetVending)
    open_burning: OpenBurning = Field(default_factory=OpenBurning)
    overflowing_bins: OverflowingBins = Field(default_factory=OverflowingBins)
    custom: dict[str, CustomRule] = Field(
        default_factory=dict,
        description="District-defined violations: name -> rule (dwell | count | scene_change | region_state), see docs/district-violations.md.",
    )

    @field_validator("custom")
    @classmethod
    def _names(cls, custom: dict[str, object]) -> dict[str, object]:
        for name in custom:
            if name in BUILTIN_LABELS:
                raise ValueError(f"{name!r} is a built-in violation: a custom violation needs a name of its own")
            if not re.fullmatch(NAME, name):
                raise ValueError(f"{name!r} is not a violation name: lower-case letters, digits and '_', starting with a letter, at most 64")
        return custom

    @property
    def names(self) -> tuple[str, ...]:
        """Every violation a zone may watch: the built-ins, then the custom ones."""
        return (*BUILTIN_LABELS, *self.custom)

    def labels_of(self, name: str) -> dict[str, str]:
        """{"zh": ..., "en": ...} of a built-in or custom violation."""
        if name in BUILTIN_LABELS:
            return dict(BUILTIN_LABELS[name])
        if name in self.custom:
            labels = self.custom[name].labels
            return {"zh": labels.zh, "en": labels.en}
        raise KeyError(f"unknown violation {name!r} (known: {', '.join(self.names)})")

    def department_of(self, name: str) -> str | None:
        """The department leading a custom violation's cases; None for the built-ins (the centre's
        own workflow rules decide them) and for custom ones that name none."""
        if name in BUILTIN_LABELS:
            return None
        if name in self.custom:
            return self.custom[name].department
        raise KeyError(f"unknown violation {name!r} (known: {', '.join(self.names)})")


__all__ = [
    "BUILTIN_LABELS",
    "OpenBurning",
    "OverflowingBins",
    "ParkedBikes",
    "StreetVending",
    "Violation",
    "ViolationRules",
    "Violations",
]
