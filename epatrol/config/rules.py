"""The built-in violations' rules, one section each (`violations.parked_bikes:` ...), with what
every violation's rules share (ViolationRules). The district's own rule kinds (district.py) reuse
them; the `violations:` section itself is violations.py."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from epatrol.config.base import Section


class ViolationRules(Section):
    """What every violation's section shares: cooldown and learning from dismissals."""

    cooldown_s: float = Field(0.0, ge=0, le=7 * 86400, description="After an episode ends (zone cleared), the zone does not alert for this violation again for this long.")
    suppress_iou: float = Field(0.5, gt=0, le=1, description="An object overlapping a box of a dismissed event (same camera, zone, violation) by this IoU or more is not flagged again.")


class ParkedBikes(ViolationRules):
    dwell_s: float = Field(120.0, gt=0, description="How long a bike must stay in the zone before it is a violation.")
    min_count: int = Field(1, ge=1, description="Parked bikes in one zone needed to raise an episode.")
    confidence: float = Field(0.3, gt=0, lt=1)
    # 1 s, by measurement: at 2 s (keyframes only) the eval found 1 of its 3 parked bikes against 3.
    sample_every_s: float = Field(1.0, gt=0, description="Seconds between analysed frames.")
    classes: list[str] = Field(default_factory=lambda: ["bicycle", "motorcycle"], min_length=1)
    max_motion: float = Field(0.35, gt=0, description="A track moving more than this many box-diagonals is not parked.")
    end_after_s: float = Field(60.0, gt=0, description="Zone seen without enough parked bikes this long ends the episode.")


class StreetVending(ViolationRules):
    """Street vending (占道经营): something that appeared in the zone and stayed (scene change
    against a long-term background, see detectors/scene_change.py), not explained by people or
    vehicles, or a stall-like object (umbrella, table...) that did. See detectors/street_vending.py."""

    sample_every_s: float = Field(2.0, gt=0, description="Seconds between analysed frames (stalls are slow).")
    confidence: float = Field(0.3, gt=0, lt=1, description="Detector score a box needs to count (objects and explaining boxes).")
    dwell_s: float = Field(180.0, gt=0, description="How long the change must stay before it is a violation.")
    end_after_s: float = Field(60.0, gt=0, description="Zone seen without a staying stall this long ends the episode.")
    classes: list[str] = Field(
        default_factory=lambda: ["umbrella", "dining table", "chair", "bench"], min_length=1,
        description="Stall-like detector classes: one standing on staying change decides even below min_area.",
    )
    explained_classes: list[str] = Field(
        default_factory=lambda: ["person", "car", "truck", "bus"],
        description="Change inside these boxes does not count (people waiting, parked cars).",
    )
    min_area: float = Field(0.04, gt=0, le=1, description="Share of the zone that must have changed, stayed and be unexplained.")
    min_object_overlap: float = Field(0.3, ge=0, le=1, description="Share of a stall-like object's box that must be staying change.")
    explained_share: float = Field(0.5, gt=0, le=1, description="A changed cell inside explaining boxes in this share of its sightings is explained.")
    work_width: int = Field(320, ge=64, le=1920, description="Width (px) at which the scene is compared.")
    cell_px: int = Field(8, ge=4, le=64, description="Side (work px) of the cells compared one by one.")
    short_term_samples: int = Field(5, ge=1, le=31, description="Samples in the short-term background (a median: passers-by vanish).")
    background_tau_s: float = Field(300.0, gt=0, description="Time constant with which the long-term background follows unchanged cells.")
    change_threshold: float = Field(0.5, gt=0, lt=1, description="1 - SSIM contrast-structure of a cell above this: its structure changed.")
    min_stay_fraction: float = Field(0.6, gt=0, le=1, description="Share of the samples since onset in which a staying cell must be seen changed.")
    max_gap_s: float = Field(20.0, gt=0, description="A staying cell showing other content (or the background) this long is dropped.")
    persist_every_s: float = Field(300.0, ge=0, description="Save each zone's learned background (its trusted cells) under the storage root this often, and reload it at start (0: never).")

    @model_validator(mode="after")
    def _consistent(self) -> StreetVending:
        both = sorted(set(self.classes) & set(self.explained_classes))
        if both:
            raise ValueError(f"classes and explained_classes both list {', '.join(both)}: a class either hints at a stall or explains change away")
        window = self.short_term_samples * self.sample_every_s
        if self.dwell_s < window:
            raise ValueError(
                f"dwell_s={self.dwell_s} is shorter than the short-term background it needs "
                f"(short_term_samples x sample_every_s = {window} s)"
            )
        if self.max_gap_s < self.sample_every_s:
            raise ValueError(f"max_gap_s={self.max_gap_s} is shorter than one sample interval (sample_every_s={self.sample_every_s})")
        if self.end_after_s < self.sample_every_s:
            raise ValueError(f"end_after_s={self.end_after_s} is shorter than one sample interval (sample_every_s={self.sample_every_s})")
        if self.background_tau_s <= self.sample_every_s:
            raise ValueError(f"background_tau_s={self.background_tau_s} must be longer than sample_every_s={self.sample_every_s}")
        return self


class OpenBurning(ViolationRules):
    """Open burning (露天焚烧): the fire_smoke model's boxes, followed as regions over time and
    confirmed by a decision fitted on real footage (`epatrol fit-fire`; see
    epatrol/detectors/fire/open_burning.py and docs/reports/open_burning.md)."""

    confidence: float = Field(0.3, gt=0, lt=1, description="Detector score a fire or smoke box needs to be a candidate.")
    sample_every_s: float = Field(0.5, gt=0, description="Seconds between analysed frames (fire is fast: sampled faster than the slow violations; the decision was fitted at 0.5 s).")
    decision: Path | None = Field(None, description="Fitted decision file (JSON from `epatrol fit-fire`); None: the one shipped with epatrol. Relative to the config file.")
    persist_window_s: float | None = Field(None, gt=0, description="Window over which a region's cues are measured (None: the decision file's, 4 s). Change it only with a decision fitted for it.")
    persist_min_hits: int = Field(3, ge=2, description="Floor: samples in the window that must detect a region before the fitted score may confirm it (a one-frame false positive never does).")
    smoke_alone: bool = Field(True, description="Smoke with no confirmed flame alerts when its fitted smoke score passes (open burning of rubbish, leaves or straw is mostly smoke); false: smoke is only reported beside a confirmed flame.")
    end_after_s: float = Field(60.0, gt=0, description="No confirmed fire in the zone this long ends the episode.")
    gate: bool = Field(True, description="Run the fire model only on samples whose cheap cues (flame colour, flicker, changing grey smoke-like pixels) say fire could be there; the judge gets the others with no detections (epatrol/detectors/fire/fire_gate.py).")
    gate_smoke_change: float = Field(0.04, gt=0, le=1, description="Share of the watched view that must be greyish and changed since the previous sample to run the model. 0.04 is 0.8 of 0.0496, the least that skips a labelled fire frame (a distant truck fire's first); it skips 32 % of vtest.avi's walker samples (tests/test_fire_gate.py).")
    # 0.5 (no sparse pacing) by measurement: at 2 s the eval confirmed 8 of its 20 fires, at 1 s 11,
    # at 0.5 s 14 (its dataset sequences last 2.5-16 s); at 2 s `epatrol bench` sustained 22 cameras.
    gate_every_s: float = Field(0.5, gt=0, description="With the gate on, sample this sparsely until a flame cue or the model's find (then sample_every_s for gate_hold_s; epatrol/pacing.py). 2 s (keyframes only) patrols more cameras per box at the cost of early samples of a fire.")
    gate_hold_s: float = Field(30.0, ge=0, description="After the model finds fire or smoke, run it on every sample this long (a tracked fire is never skipped). The 3 labelled samples the cues skipped came 0.5 s after a find; 30 s spans the judge's 4 s window many times over.")
    gate_refresh_s: float = Field(30.0, gt=0, description="Run the model at least this often whatever the cues say (a slow smoke they miss is seen within it, well inside end_after_s); costs 1 run in 60 samples.")

    @model_validator(mode="after")
    def _hits_fit_the_window(self) -> OpenBurning:
        if self.persist_window_s is not None:
            possible = int(self.persist_window_s / self.sample_every_s + 1e-9) + 1
            if self.persist_min_hits > possible:
                raise ValueError(
                    f"persist_min_hits={self.persist_min_hits} can never be reached: {self.persist_window_s} s at one sample every "
                    f"{self.sample_every_s} s holds at most {possible} samples"
                )
        return self


class OverflowingBins(ViolationRules):
    """Overflowing bins (垃圾满溢): the bin zone's crop scored by the trained clean/overflowing
    classifier and compared with the zone's clean reference; see epatrol/detectors/bins/overflowing_bins.py."""

    confidence: float = Field(0.3, gt=0, lt=1, description="Detector score a person or vehicle box needs to count as hiding the bin.")
    sample_every_s: float = Field(10.0, gt=0, description="Seconds between analysed frames (bins fill over hours: sparse sampling is enough).")
    margin: float = Field(0.25, ge=0, le=2, description="The crop is the zone's bounding box grown by this fraction of its size on each side (rubbish lies around the bin).")
    min_score: float | None = Field(None, gt=0, lt=1, description="Classifier P(overflowing) a sample needs (None: the threshold chosen in training).")
    min_change: float = Field(0.08, ge=0, le=1, description="Once the zone has a clean reference, a sample must also differ from it in this share of its cells (0..1) to count: light changes measured at most 0.041.")
    reference_samples: int = Field(3, ge=1, description="Clean-looking samples averaged into the zone's clean reference before it is used.")
    max_occlusion: float = Field(0.3, gt=0, le=1, description="Skip a sample when person/vehicle boxes cover more than this share of the crop.")
    occluders: list[str] = Field(default_factory=lambda: ["person", "bicycle", "car", "motorcycle", "bus", "truck"], description="Detector classes that hide the bin when in front of it.")
    persist_window_s: float = Field(60.0, gt=0, description="Wall-clock window over which the zone must keep looking overflowing.")
    persist_min_hits: int = Field(4, ge=1, description="Overflowing samples needed within persist_window_s to start an episode.")
    end_after_s: float = Field(300.0, gt=0, description="No overflowing sample this long ends the episode.")
    presence_samples: int = Field(3, ge=1, description="Unhidden samples at start-up whose mean P(bin) decides whether the zone holds a bin; a zone without one is reported as a configuration problem and never alerts.")
    min_presence: float | None = Field(None, gt=0, lt=1, description="Mean P(bin) a zone needs to count as holding a bin (None: the threshold chosen in fitting, `epatrol train-bins --presence`).")

    @model_validator(mode="after")
    def _hits_fit_the_window(self) -> OverflowingBins:
        possible = int(self.persist_window_s / self.sample_every_s + 1e-9) + 1
        if self.persist_min_hits > possible:
            raise ValueError(
                f"persist_min_hits={self.persist_min_hits} can never be reached: {self.persist_window_s} s at one "
                f"sample every {self.sample_every_s} s holds at most {possible} samples"
            )
        return self
