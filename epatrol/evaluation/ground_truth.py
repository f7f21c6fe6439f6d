"""The ground-truth file of a labelled set: which clips, watched how, and when each is truly in violation.

YAML, validated with pydantic; unknown keys are rejected and every error names the field path.
Times are media seconds from the start of the clip (what a player shows), not wall-clock time.

A clip may name a `reference`: a photo of its view with the zone empty, relative to the file
(street vending starts its background from it: the zone's `clean_reference`, see
detectors/zone_reference.py). Optional; a clip whose stall is there from the first frame needs one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from epatrol.config import Point, Site, Violation, Violations


class GroundTruthError(Exception):
    """A ground-truth file that cannot be used; the message names the file and each bad field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[float, Field(ge=0.0)]


class LabelledClip(_Strict):
    path: str = Field(min_length=1, description="Video file, relative to the ground-truth file.")
    camera: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Camera id (several clips may share one).")
    site: Site = Site.other
    zone: list[Point] = Field(min_length=3, description="The zone watched, normalised 0..1 (x, y) vertices.")
    violation: Violation
    truth: list[tuple[Seconds, Seconds]] = Field(
        default_factory=list, description="[start_s, end_s] of each real violation in media seconds; empty for a negative clip."
    )
    kind: str | None = Field(None, description="Free label grouping clips, e.g. positive, walkers, fire_photo.")
    notes: str | None = None
    reference: str | None = Field(None, min_length=1, description="Photo of the view with the zone empty, relative to the ground-truth file (the zone's clean_reference).")

    @field_validator("truth")
    @classmethod
    def _ordered_intervals(cls, truth: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for i, (start, end) in enumerate(truth):
            if end <= start:
                raise ValueError(f"interval {i} [{start}, {end}]: end must be after start")
            if i and start < truth[i - 1][1]:
                raise ValueError(f"interval {i} [{start}, {end}] overlaps or precedes interval {i - 1}: list them in order, apart")
        return truth


class GroundTruth(_Strict):
    tolerance_s: float = Field(
        10.0, ge=0, description="An alert up to this long after a truth interval's end still matches it (labels are imprecise)."
    )
    violations: Violations = Field(
        default_factory=Violations, description="Detector parameters for the run (default: the config defaults, as deployed)."
    )
    detector: str | None = Field(None, description="COCO detector from the model manifest (default: the config default).")
    clips: list[LabelledClip] = Field(min_length=1)
    base_dir: Path = Field(Path("."), exclude=True)  # where the file lives; clip paths are relative to it

    @model_validator(mode="after")
    def _unique_clips(self) -> "GroundTruth":
        seen = set()
        for i, c in enumerate(self.clips):
            key = (c.path, c.violation)
            if key in seen:
                raise ValueError(f"clips.{i}: {c.path} is labelled twice for {c.violation.value}")
            seen.add(key)
        return self

    def clip_path(self, clip: LabelledClip) -> Path:
        p = Path(clip.path)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def reference_path(self, clip: LabelledClip) -> Path | None:
        p = Path(clip.reference) if clip.reference else None
        return p if p is None or p.is_absolute() else (self.base_dir / p).resolve()


def _format(source: str, err: ValidationError) -> str:
    lines = [f"{source}: {err.error_count()} invalid field(s)"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {path}: {e['msg']}")
    return "\n".join(lines)


def parse_ground_truth(data: Any, source: str = "<ground truth>", base_dir: Path | None = None, check_files: bool = True) -> GroundTruth:
    if not isinstance(data, dict):
        raise GroundTruthError(f"{source}: expected a mapping with 'clips' at the top level, got {type(data).__name__}")
    if "base_dir" in data:
        raise GroundTruthError(f"{source}: base_dir: not a field of the file (clip paths are relative to the file)")
    try:
        gt = GroundTruth.model_validate({**data, "base_dir": base_dir or Path(".")})
    except ValidationError as e:
        raise GroundTruthError(_format(source, e)) from None
    if check_files:
        missing = [f"  clips.{i}.path: file not found: {gt.clip_path(c)}" for i, c in enumerate(gt.clips) if not gt.clip_path(c).is_file()]
        if missing:
            raise GroundTruthError("\n".join([f"{source}: {len(missing)} clip file(s) missing", *missing]))
    return gt


def load_ground_truth(path: Path | str, check_files: bool = True) -> GroundTruth:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GroundTruthError(f"{path}: ground-truth file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise GroundTruthError(f"{path}: cannot read: {e}") from None
    except yaml.YAMLError as e:
        raise GroundTruthError(f"{path}: not valid YAML: {e}") from None
    return parse_ground_truth(data, str(path), path.resolve().parent, check_files)
