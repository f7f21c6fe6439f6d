"""How often a camera is sampled, and which samples the fire model sees: sparsely while nothing burns, densely while a fire gate sees a cue.

Bikes and stalls take minutes and bins hours, but open burning needs a sample every 0.5 s once it
starts. Sampling every camera at 0.5 s would decode nearly every frame (a 2 s GOP holds 50), which
costs more CPU than the models on a box with tens of cameras. So a camera watching open burning
with its gate on samples at `gate_every_s` (2 s: keyframes only with a 2 s GOP) until fire may be
there, then at the judge's `sample_every_s` for `gate_hold_s`. "Fire may be there": the model found
fire or smoke, or the gate's flame cues fired (flame colour or its flicker: detectors/fire/fire_gate.py).
The gate's smoke cue (grey pixels that changed) only runs the model on that sample: it fires on
every busy-street sample (walkers in grey), and switching on it kept busy 1080p cameras at
2 samples/s decoding whole GOPs (epatrol bench, 2026-12-02: 9 cameras against 22 without).
A switch decided at the sample itself starts at once (the sampler keeps decoding that GOP); one
decided when the model's answer comes back starts at the next keyframe. The fire judge is due at every sample either
way, so its window and hit floor count real samples; the switch comes at the next keyframe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from epatrol.detectors.crops import zones_crop
from epatrol.detectors.fire.fire_gate import FireGate
from epatrol.detectors.fire.open_burning import OpenBurningJudge


class Pace:
    def __init__(self, judges: Sequence[Any]) -> None:
        intervals = [j.params.sample_every_s for j in judges] or [1.0]
        self.dense_s = min(intervals)
        gated = [j.params for j in judges if getattr(j.params, "gate", False) and hasattr(j.params, "gate_every_s")]
        calm = [max(p.sample_every_s, p.gate_every_s) for p in gated]
        calm += [j.params.sample_every_s for j in judges if j.params not in gated]
        self.calm_s = min(calm) if calm else self.dense_s
        self.hold_s = max((p.gate_hold_s for p in gated), default=0.0)
        self._dense_until_s: float | None = None

    def interval_after(self, time_s: float, fire_may_be_there: bool) -> float:
        """The interval to sample at after what the sample at time_s showed."""
        if fire_may_be_there:
            self._dense_until_s = time_s + max(self.hold_s, self.dense_s)
        if self._dense_until_s is not None and time_s > self._dense_until_s + self.calm_s:
            self._dense_until_s = None  # media time jumped (a reconnect, a looped file)
        dense = self._dense_until_s is not None and time_s <= self._dense_until_s
        return self.dense_s if dense else self.calm_s

    def reset(self) -> None:
        self._dense_until_s = None


def fire_gates(judges: Sequence[Any]) -> dict[str, FireGate]:
    """A fire gate for the open-burning judge's model, over the judge's zones up to the top of the
    frame (smoke rises): that model runs only on samples that could show fire (detectors/fire/fire_gate.py)."""
    return {
        j.model: FireGate(j.params.gate_smoke_change, j.params.gate_hold_s, j.params.gate_refresh_s, zones_crop(j.zones, max_area=1.0))
        for j in judges
        if isinstance(j, OpenBurningJudge) and j.params.gate
    }
