"""Tracking, zones and the parked-bike judge on a fake clock: dwell, occlusion, riding through, episodes."""

from datetime import datetime, timedelta, timezone

import numpy as np

from epatrol.config import ParkedBikes
from epatrol.detectors.episodes import EpisodeEnded, EpisodeStarted, EpisodeUpdated
from epatrol.detectors.parked_bikes import ParkedBikesJudge
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.models.manifest import COCO80_CLASSES as COCO80
from epatrol.streams.packets import Sample

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
W, H = 640, 480
ZONE = ZoneShape("footway", ((0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)))  # lower-left quarter
BIKE = COCO80.index("bicycle")


def _dets(*boxes, label=BIKE, conf=0.8) -> Detections:
    if not boxes:
        return Detections.empty(COCO80)
    n = len(boxes)
    return Detections(np.array(boxes, np.float32), np.full(n, conf, np.float32), np.full(n, label, np.int32), COCO80)


def _sample(t: float) -> Sample:
    return Sample("cam", np.zeros((H, W, 3), np.uint8), T0 + timedelta(seconds=t), t, False)


def _judge(**kw) -> ParkedBikesJudge:
    params = ParkedBikes(dwell_s=30, end_after_s=20, sample_every_s=1.0, **kw)
    return ParkedBikesJudge("cam", [ZONE], params)


def _feed(judge, frames):
    events = []
    for t, dets in frames:
        events += judge.process(_sample(t), dets)
    return events


def test_zone_uses_bottom_centre():
    inside = ZONE.contains(np.array([[100, 400], [100, 200], [400, 400]]), W, H)
    assert inside.tolist() == [True, False, False]


def test_parked_bike_gives_one_episode_with_start_and_end():
    parked = (80, 300, 180, 400)
    frames = [(t, _dets(parked)) for t in range(0, 120)] + [(t, _dets()) for t in range(120, 200)]
    events = _feed(_judge(), frames)
    kinds = [type(e) for e in events]
    assert kinds == [EpisodeStarted, EpisodeEnded]
    start, end = events
    assert (start.alert - T0).total_seconds() == 30  # after exactly the dwell time
    assert start.onset == T0
    assert start.details["count"] == 1 and len(start.detections) == 1
    assert (end.ended - T0).total_seconds() == 119 and end.reason == "cleared"


def test_occlusion_and_missed_samples_continue_the_episode():
    parked = (80, 300, 180, 400)
    frames = []
    for t in range(0, 300):
        hidden = 60 <= t < 75 or t % 7 == 0  # a van stands in front for 15 s; flaky detector
        frames.append((t, _dets() if hidden else _dets(parked)))
    events = _feed(_judge(), frames)
    assert [type(e) for e in events] == [EpisodeStarted]


def test_bike_ridden_through_never_counts():
    frames = [(t, _dets((10 + 8 * t, 300, 110 + 8 * t, 400))) for t in range(0, 80)]
    assert _feed(_judge(), frames) == []


def test_bike_outside_zone_or_too_short_never_counts():
    outside = [(t, _dets((400, 300, 500, 400))) for t in range(0, 100)]
    short = [(t, _dets((80, 300, 180, 400))) for t in range(0, 25)]
    assert _feed(_judge(), outside) == []
    assert _feed(_judge(), short) == []


def test_min_count_and_count_updates():
    a, b = (20, 300, 100, 400), (150, 320, 230, 420)
    frames = [(t, _dets(a)) for t in range(0, 40)] + [(t, _dets(a, b)) for t in range(40, 100)]
    events = _feed(_judge(min_count=1), frames)
    assert [type(e) for e in events] == [EpisodeStarted, EpisodeUpdated]
    assert events[1].details["count"] == 2
    events = _feed(_judge(min_count=2), frames)
    assert [type(e) for e in events] == [EpisodeStarted]
    assert (events[0].alert - T0).total_seconds() == 70  # the second bike's dwell


def test_people_and_cars_are_not_bikes():
    person = _dets((80, 300, 180, 400), label=COCO80.index("person"))
    car = _dets((80, 300, 180, 400), label=COCO80.index("car"))
    assert _feed(_judge(), [(t, person) for t in range(100)]) == []
    assert _feed(_judge(), [(t, car) for t in range(100)]) == []


def test_close_on_disconnect_says_why():
    judge = _judge()
    _feed(judge, [(t, _dets((80, 300, 180, 400))) for t in range(40)])
    ended = judge.close(T0 + timedelta(seconds=40), "camera disconnected: stream ended")
    assert len(ended) == 1 and ended[0].reason.startswith("camera disconnected")
    assert judge.close(T0 + timedelta(seconds=41), "again") == []
