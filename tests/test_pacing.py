"""A camera watching open burning samples sparsely until fire may be there (epatrol/pacing.py)."""

from __future__ import annotations

from types import SimpleNamespace

from epatrol.config import OpenBurning, OverflowingBins, ParkedBikes
from epatrol.pacing import Pace


def _judge(params):
    return SimpleNamespace(params=params)


def test_calm_until_fire_may_be_there_then_dense_for_the_hold_then_calm_again():
    pace = Pace([_judge(ParkedBikes(sample_every_s=2.0)), _judge(OpenBurning(gate_every_s=2.0)), _judge(OverflowingBins())])
    assert (pace.calm_s, pace.dense_s, pace.hold_s) == (2.0, 0.5, 30.0)
    assert pace.interval_after(0.0, False) == 2.0  # nothing burns: keyframes only
    assert pace.interval_after(2.0, False) == 2.0
    assert pace.interval_after(4.0, True) == 0.5  # a flame cue, or the model found fire or smoke
    assert pace.interval_after(20.0, False) == 0.5  # within the hold
    assert pace.interval_after(33.9, True) == 0.5  # the model keeps finding it: the hold goes on
    assert pace.interval_after(63.8, False) == 0.5
    assert pace.interval_after(64.5, False) == 2.0
    assert pace.interval_after(500.0, False) == 2.0


def test_without_the_gate_or_without_open_burning_the_rate_is_fixed():
    ungated = Pace([_judge(ParkedBikes()), _judge(OpenBurning(gate=False, gate_every_s=2.0))])
    assert ungated.calm_s == ungated.dense_s == 0.5
    # The default: no sparse pacing (gate_every_s 0.5, the measured choice; config/violations.py).
    default = Pace([_judge(ParkedBikes()), _judge(OpenBurning())])
    assert default.calm_s == default.dense_s == 0.5
    bikes = Pace([_judge(ParkedBikes(sample_every_s=1.0))])
    assert bikes.calm_s == bikes.dense_s == 1.0 and bikes.interval_after(5.0, True) == 1.0
    # A slow judge alone keeps its own slower rate.
    assert Pace([_judge(OverflowingBins())]).calm_s == OverflowingBins().sample_every_s
