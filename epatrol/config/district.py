"""District-defined violations (`violations.custom:`): a named violation built from one of four
rule kinds, the model it reads, its labels and the department that leads its cases.

    dwell         objects of `classes` standing still in the zone for dwell_s (the parked-bikes logic)
    count         at least min_count objects of `classes` in the zone, sustained over dwell_s
    scene_change  staying change not explained by `explained_classes` (the street-vending logic)
    region_state  the zone's crop classified as `state` by a region classifier, sustained over dwell_s

Each kind is a pydantic model told apart by `rule` (a discriminated union), so an error names the
kind's own fields. Whether `classes` exist in the model is checked against the manifest by
`epatrol config check` and when the judges are built (epatrol/judges.py): config/ reads no model."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from epatrol.config.base import Section
from epatrol.config.rules import ParkedBikes, StreetVending, ViolationRules

NAME = r"^[a-z][a-z0-9_]{0,63}$"
DEPARTMENT = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # the centre's department codes (centre/config.py)


class Labels(Section):
    zh: str = Field(min_length=1, max_length=64, description="Chinese name shown to officers, e.g. 乱堆物料.")
    en: str = Field(min_length=1, max_length=120, description="English name, e.g. materials piled on the pavement.")


class CustomRules(ViolationRules):
    """What every district rule shares (besides cooldown_s and suppress_iou)."""

    model: str | None = Field(None, min_length=1, description="Manifest name of the model the rule reads (built-in or `epatrol models add`); None: models.detector.")
    labels: Labels = Field(description="Names in Chinese and English for the review page, exports and the centre.")
    department: str | None = Field(None, pattern=DEPARTMENT, description="Department code that leads its cases at the centre (None: the centre's default).")

    def _check_timing(self) -> None:
        """Errors for times no sampling can honour: each must span at least one sample."""
        for name in ("dwell_s", "end_after_s"):
            value = getattr(self, name, None)
            if value is not None and value < self.sample_every_s:
                raise ValueError(f"{name}={value} is shorter than one sample (sample_every_s={self.sample_every_s})")


class DwellRule(CustomRules, ParkedBikes):
    """Objects of `classes` standing still (within max_motion box diagonals) inside the zone for
    dwell_s; min_count of them at once is a violation (detectors/parked_bikes.py's DwellJudge)."""

    rule: Literal["dwell"]
    classes: list[str] = Field(min_length=1, description="Detector classes whose objects must stay (e.g. [truck]).")

    @model_validator(mode="after")
    def _timing(self) -> DwellRule:
        self._check_timing()
        return self


class CountRule(CustomRules):
    """At least min_count objects of `classes` in the zone (by where they touch the ground) in
    min_share of the samples of the last dwell_s (detectors/counting.py)."""

    rule: Literal["count"]
    classes: list[str] = Field(min_length=1, description="Detector classes counted (e.g. [person]).")
    min_count: int = Field(2, ge=1, le=1000, description="Objects needed in the zone at once.")
    confidence: float = Field(0.3, gt=0, lt=1, description="Detector score a box needs to count.")
    sample_every_s: float = Field(1.0, gt=0, description="Seconds between analysed frames.")
    dwell_s: float = Field(60.0, gt=0, description="How long the count must hold before it is a violation.")
    min_share: float = Field(0.7, gt=0, le=1, description="Share of the samples within dwell_s that must reach min_count (a missed detection does not reset it).")
    end_after_s: float = Field(30.0, gt=0, description="No sample reaching min_count this long ends the episode.")

    @model_validator(mode="after")
    def _timing(self) -> CountRule:
        self._check_timing()
        return self


class SceneChangeRule(CustomRules, StreetVending):
    """Staying change in the zone not explained by `explained_classes`, or an object of `classes`
    standing on it (detectors/street_vending.py's judge with these parameters). `classes` may be empty."""

    rule: Literal["scene_change"]
    classes: list[str] = Field(default_factory=list, description="Detector classes that decide on staying change even below min_area (may be empty).")

    @model_validator(mode="after")
    def _timing(self) -> SceneChangeRule:
        self._check_timing()
        return self


class RegionStateRule(CustomRules):
    """The zone's crop (its bounding box grown by `margin`) classified as `state` by the region
    classifier `model` with min_score, in min_share of the unhidden samples of the last dwell_s.
    Samples where `occluders` (boxes of `detector`) hide the crop say nothing (detectors/region_state.py)."""

    rule: Literal["region_state"]
    model: str | None = Field(None, min_length=1, description="The region classifier (a `classify` model from `epatrol train`/`epatrol models add`). Required.")
    state: str = Field("violating", min_length=1, description="The classifier's class that means the violation.")
    min_score: float = Field(0.5, gt=0, lt=1, description="Probability of `state` a sample needs.")
    detector: str | None = Field(None, min_length=1, description="Detector whose boxes hide the crop (None: models.detector).")
    occluders: list[str] = Field(default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"], description="Detector classes that hide the region when in front of it.")
    confidence: float = Field(0.3, gt=0, lt=1, description="Detector score an occluder box needs.")
    max_occlusion: float = Field(0.3, gt=0, le=1, description="Skip a sample when occluder boxes cover more than this share of the crop.")
    margin: float = Field(0.0, ge=0, le=2, description="The crop is the zone's bounding box grown by this fraction of its size on each side.")
    sample_every_s: float = Field(5.0, gt=0, description="Seconds between analysed frames.")
    dwell_s: float = Field(60.0, gt=0, description="How long the region must keep the state before it is a violation.")
    min_share: float = Field(0.7, gt=0, le=1, description="Share of the unhidden samples within dwell_s that must show the state.")
    end_after_s: float = Field(120.0, gt=0, description="No sample showing the state this long ends the episode.")

    @model_validator(mode="after")
    def _needs_classifier(self) -> RegionStateRule:
        if self.model is None:
            raise ValueError("a region_state rule needs `model`: the region classifier that tells its state (epatrol train --task classify, epatrol models add)")
        self._check_timing()
        return self


CustomRule = Annotated[Union[DwellRule, CountRule, SceneChangeRule, RegionStateRule], Field(discriminator="rule")]
RULE_KINDS = ("dwell", "count", "scene_change", "region_state")
