"""The sampler decodes only what the sample rate needs; the ring always starts at a keyframe."""

from datetime import datetime, timedelta, timezone

import pytest

from epatrol.streams.packets import EncodedPacket
from epatrol.streams.ring import PacketRing
from epatrol.streams.sampler import FrameSampler

FPS, GOP = 25, 50  # a typical camera: 25 fps, a keyframe every 2 s
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _run(interval_s: float, seconds: float = 60.0) -> tuple[int, list[float], list[float]]:
    sampler = FrameSampler(interval_s)
    decoded, taken, keyed = 0, [], []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        key = i % GOP == 0
        if sampler.should_decode(t, key):
            decoded += 1
            if sampler.take(t):
                taken.append(t)
                if key:
                    keyed.append(t)
    return decoded, taken, keyed


@pytest.mark.parametrize("interval_s", [2.0, 4.0, 10.0])
def test_sparse_rates_decode_keyframes_only(interval_s):
    decoded, taken, keyed = _run(interval_s)
    # Only the first GOP (before the GOP length is known) is decoded beyond its keyframe.
    assert decoded <= 60 / 2 + GOP
    # After the first GOP (whose length the sampler cannot know yet) every sample is a keyframe.
    assert [t for t in taken if t >= GOP / FPS] == [t for t in keyed if t >= GOP / FPS]
    steady = [t for t in taken if t >= GOP / FPS]
    gaps = [b - a for a, b in zip(steady, steady[1:])]
    assert all(abs(g - interval_s) < 1e-6 for g in gaps)


def test_one_per_second_decodes_half_a_gop_and_keeps_the_rate():
    decoded, taken, _ = _run(1.0)
    assert 55 <= len(taken) <= 61
    assert decoded < 0.6 * 60 * FPS  # the second half of each GOP is skipped
    assert max(b - a for a, b in zip(taken, taken[1:])) <= 1.5


def test_rate_between_gops_waits_for_keyframe_within_lateness():
    _, taken, keyed = _run(3.0)
    assert keyed == taken  # 3 s with a 2 s GOP: keyframes are close enough
    mean_gap = (taken[-1] - taken[0]) / (len(taken) - 1)
    assert 2.5 <= mean_gap <= 3.5


def _pkt(i: int) -> EncodedPacket:
    t = i / FPS
    return EncodedPacket(b"x", i, i, i % GOP == 0, t, T0 + timedelta(seconds=t))


def test_ring_keeps_preroll_from_a_keyframe():
    ring = PacketRing(seconds=5.0)
    for i in range(25 * 30):
        ring.push(_pkt(i))
        held = ring.snapshot()
        assert held[0].is_keyframe
    assert 5.0 <= ring.duration_s <= 5.0 + GOP / FPS
    clip_from = ring.snapshot(since_s=held[-1].time_s - 3.0)
    assert clip_from[0].is_keyframe and clip_from[0].time_s <= held[-1].time_s - 3.0


def test_ring_drops_packets_before_first_keyframe():
    ring = PacketRing(seconds=2.0)
    for i in range(10, 60):  # joins a live stream mid-GOP
        ring.push(_pkt(i))
    assert ring.snapshot()[0].time_s == 50 / FPS


def test_a_camera_can_switch_between_keyframes_only_and_dense_sampling():
    """Calm: keyframes every 2 s; when the fire gate fires the pipeline asks for 0.5 s, then back."""
    sampler = FrameSampler(2.0)
    taken, decoded = [], 0
    for i in range(int(30 * FPS)):
        t = i / FPS
        if t == 10.0:
            sampler.set_interval(0.5)
        elif t == 20.0:
            sampler.set_interval(2.0)
        if sampler.should_decode(t, i % GOP == 0):
            decoded += 1
            if sampler.take(t):
                taken.append(t)
    dense = [t for t in taken if 10.0 <= t < 20.0]
    assert 18 <= len(dense) <= 21  # 2 samples/s within a keyframe of the switch
    gaps = [b - a for a, b in zip(dense, dense[1:])]
    assert max(gaps) <= 2.0 + 1e-6 and sorted(gaps)[len(gaps) // 2] == pytest.approx(0.5, abs=0.05)
    calm = [t for t in taken if t >= 22.0]
    assert calm and all(abs(t % 2.0) < 1e-6 for t in calm)  # back on keyframes only
    with pytest.raises(ValueError):
        sampler.set_interval(0)


def test_going_dense_at_a_sample_keeps_decoding_that_gop():
    """The fire gate's flame cue at a keyframe sample: the very next frames are decodable, so the
    dense samples start at once instead of at the next keyframe."""
    sampler = FrameSampler(2.0)
    taken = []
    for i in range(int(8 * FPS)):
        t = i / FPS
        if sampler.should_decode(t, i % GOP == 0) and sampler.take(t):
            taken.append(t)
            if t == 4.0:
                sampler.set_interval(0.5)
    assert [t for t in taken if 4.0 <= t < 6.0] == pytest.approx([4.0, 4.5, 5.0, 5.5], abs=0.05)
