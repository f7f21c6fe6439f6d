"""The rules every judge shares, on a fake clock: cooldown, continuity through occlusions and
missed samples, schedules, camera outages (suspend and resume), learning from dismissals; the
recorder re-opening a resumed event in a real database; then the real pipeline: a real RTSP
camera killed and restarted under a parked bike, and a dismissal on the real parked-bike footage."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from conftest import BIKE_ZONE, camera_entry, make_config, patrolling
from rtsp import RtspServer, rtsp_unavailable_reason
from test_open_burning import _breathing, _frame
from waiting import wait_for

from epatrol.config import OpenBurning, ParkedBikes, parse_config
from epatrol.detectors.episodes import INACTIVE, EpisodeResumed, EpisodeStarted
from epatrol.detectors.fire.open_burning import OpenBurningJudge
from epatrol.detectors.parked_bikes import ParkedBikesJudge
from epatrol.detectors.schedule import Schedule, window
from epatrol.detectors.suppression import (
    Dismissed,
    Suppressions,
    dismissed_from_records,
)
from epatrol.detectors.zones import ZoneShape
from epatrol.evidence.export.verify import verify_ledger
from epatrol.evidence.recording.recorder import CameraRecorder
from epatrol.evidence.review import decisions
from epatrol.migrations import open_database
from epatrol.models.detections import Detections
from epatrol.models.manifest import COCO80_CLASSES as COCO80
from epatrol.models.manifest import FIRE_SMOKE_CLASSES
from epatrol.streams.packets import Sample
from epatrol.streams.ring import PacketRing
from epatrol.supervisor import run_cameras

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # a Monday
W, H = 640, 480
ZONE = ZoneShape("footway", ((0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)))  # lower-left quarter
BIKE = COCO80.index("bicycle")
PARKED = (80, 300, 180, 400)
OTHER = (200, 320, 300, 420)  # another bike, also in the zone, not overlapping PARKED


def _dets(*boxes) -> Detections:
    if not boxes:
        return Detections.empty(COCO80)
    n = len(boxes)
    return Detections(np.array(boxes, np.float32), np.full(n, 0.8, np.float32), np.full(n, BIKE, np.int32), COCO80)


def _sample(t: float) -> Sample:
    return Sample("cam", np.zeros((H, W, 3), np.uint8), T0 + timedelta(seconds=t), t, False)


def _judge(**kw) -> ParkedBikesJudge:
    params = ParkedBikes(**{"dwell_s": 30, "end_after_s": 20, "sample_every_s": 1.0, **kw})
    return ParkedBikesJudge("cam", [ZONE], params)


def _run(judge, seconds, *boxes):
    """One sample a second showing `boxes`; returns [(t, event)]."""
    return _play(judge, seconds, lambda t: boxes)


def _play(judge, seconds, boxes_at):
    """`boxes_at(t)`: the boxes detected at t, or None for no sample at all (dropped)."""
    events = []
    for t in seconds:
        boxes = boxes_at(t)
        if boxes is not None:
            events += [(t, e) for e in judge.process(_sample(t), _dets(*boxes))]
    return events


def _kinds(events):
    return [type(e).__name__ for _, e in events]


# -- cooldown -----------------------------------------------------------------------------------


def test_cooldown_holds_back_a_new_alert_in_the_same_zone():
    judge = _judge(cooldown_s=300)
    events = _run(judge, range(0, 60), PARKED)  # alert at 30 s
    events += _run(judge, range(60, 85))  # cleared: ends at its last sighting (59 s), decided at 80 s
    assert _kinds(events) == ["EpisodeStarted", "EpisodeEnded"]
    ended_at = events[1][0]
    assert events[1][1].reason == "cleared" and ended_at == 80 and events[1][1].ended == T0 + timedelta(seconds=59)
    # Another bike parks at 100 s: it would alert at 130 s, but the zone cools down until 380 s.
    later = _run(judge, range(100, 500), OTHER)
    assert _kinds(later) == ["EpisodeStarted"]
    t, start = later[0]
    assert t == ended_at + 300 and start.onset == T0 + timedelta(seconds=100)  # onset stays true


def test_without_cooldown_the_next_bike_alerts_after_its_dwell():
    judge = _judge()
    events = _run(judge, range(0, 60), PARKED) + _run(judge, range(60, 100)) + _run(judge, range(100, 200), OTHER)
    assert _kinds(events) == ["EpisodeStarted", "EpisodeEnded", "EpisodeStarted"]
    assert events[2][0] == 130


# -- continuity: occlusion and missed samples -----------------------------------------------------


def test_occlusion_shorter_than_end_after_continues_the_episode():
    judge = _judge(end_after_s=60)
    # Parked from 0 s; a van hides it from 50 s to 105 s (55 s); the detector also misses 1 in 4.
    events = _play(judge, range(0, 300), lambda t: () if 50 <= t < 105 or t % 4 == 0 else (PARKED,))
    assert _kinds(events) == ["EpisodeStarted"]
    assert judge.tracker.tracks[0].id == 1  # one track throughout


def test_missed_samples_are_not_a_clear_zone():
    judge = _judge(end_after_s=20)
    # From 40 s, no sample at all for 15 s in every 50 s (a busy box dropping them): the episode goes on.
    events = _play(judge, range(0, 300), lambda t: None if t > 35 and t % 50 >= 35 else (PARKED,))
    assert _kinds(events) == ["EpisodeStarted"]
    assert judge.tracker.tracks[0].id == 1


def test_occlusion_longer_than_end_after_ends_the_episode_at_the_last_sighting():
    judge = _judge(end_after_s=20)
    events = _run(judge, range(0, 50), PARKED) + _run(judge, range(50, 80)) + _run(judge, range(80, 140), PARKED)
    assert _kinds(events) == ["EpisodeStarted", "EpisodeEnded", "EpisodeStarted"]
    assert events[1][1].ended == T0 + timedelta(seconds=49)
    assert events[2][0] == 110  # a new track: a full dwell again


# -- schedules ------------------------------------------------------------------------------------


def test_schedule_closes_the_episode_and_reopens_with_the_window():
    judge = _judge()
    # Active 08:00:00-08:02:00 UTC and from 08:05:00 (on Mondays).
    judge.episodes["footway"].schedule = Schedule(
        (window(["mon"], "08:00", "08:02"), window(["mon"], "08:05", "09:00")), timezone.utc
    )
    events = _run(judge, range(0, 600), PARKED)
    assert _kinds(events) == ["EpisodeStarted", "EpisodeEnded", "EpisodeStarted"]
    (t0, start), (t1, end), (t2, again) = events
    assert t0 == 30
    assert t1 == 120 and end.reason == INACTIVE and end.ended == T0 + timedelta(seconds=120)
    # The bike never left: it counts as soon as the window opens again (its dwell is long done).
    assert t2 == 300 and again.onset == T0


def test_no_alert_outside_the_window():
    judge = _judge()
    judge.episodes["footway"].schedule = Schedule((window(["tue-sun"], "00:00", "24:00"),), timezone.utc)
    assert _run(judge, range(0, 300), PARKED) == []  # a Monday


# -- camera outages -------------------------------------------------------------------------------


def test_outage_suspends_and_the_same_bike_resumes_the_episode():
    judge = _judge()
    events = _run(judge, range(0, 60), PARKED)
    ended = judge.suspend(T0 + timedelta(seconds=60), "camera disconnected: stream ended")
    assert len(ended) == 1 and ended[0].resumable and ended[0].reason.startswith("camera disconnected")
    # Back after 10 minutes: far longer than end_after_s (20 s) and dwell_s; the bike is still there.
    resumed = _run(judge, range(660, 700), PARKED)
    assert _kinds(events) == ["EpisodeStarted"] and _kinds(resumed) == ["EpisodeResumed"]
    t, event = resumed[0]
    assert t == 660 and event.key == events[0][1].key
    assert event.details["tracks"][0]["still_since"] == T0.isoformat()  # the same track, its rest time kept


def test_outage_then_zone_empty_never_resumes_and_a_new_bike_is_a_new_episode():
    judge = _judge()
    _run(judge, range(0, 60), PARKED)
    judge.suspend(T0 + timedelta(seconds=60), "camera disconnected: x")
    # The old track is remembered, but never seen again: no resume, no start from memory alone.
    assert _run(judge, range(660, 700)) == []
    later = _run(judge, range(700, 800), OTHER)
    assert _kinds(later) == ["EpisodeStarted"] and later[0][0] == 730


def test_outage_resume_needs_a_sighting_within_end_after_of_the_return():
    judge = _judge()
    _run(judge, range(0, 60), PARKED)
    judge.suspend(T0 + timedelta(seconds=60), "camera disconnected: x")
    # Back at 660 s, but the detector misses the bike for 25 s (> end_after_s 20 s): its track ages
    # out, and when it is seen again it is a new episode after a new dwell.
    events = _run(judge, range(660, 685)) + _run(judge, range(685, 760), PARKED)
    assert _kinds(events) == ["EpisodeStarted"] and events[0][0] == 715


def test_a_second_drop_before_the_resume_still_resumes():
    judge = _judge()
    _run(judge, range(0, 60), PARKED)
    judge.suspend(T0 + timedelta(seconds=60), "camera disconnected: a")
    _run(judge, range(300, 303))  # back for 3 s, the bike not detected, then gone again
    assert judge.suspend(T0 + timedelta(seconds=303), "camera disconnected: b") == []
    assert _kinds(_run(judge, range(900, 910), PARKED)) == ["EpisodeResumed"]


def test_close_is_final_no_resume():
    judge = _judge()
    _run(judge, range(0, 60), PARKED)
    assert not judge.close(T0 + timedelta(seconds=60), "shutdown")[0].resumable
    events = _run(judge, range(70, 120), PARKED)
    assert _kinds(events) == ["EpisodeStarted"]


# -- learning from dismissals -----------------------------------------------------------------------


def test_dismissed_object_is_not_flagged_but_another_in_the_zone_is():
    judge = _judge()
    judge.suppressions.load([dismissed_from_records(7, "footway", "parked_bikes", [{"label": "bicycle", "xyxy": [82, 302, 178, 401]}])])
    assert _run(judge, range(0, 100), PARKED) == []
    # The dismissed bike still stands there when another parks: only the other counts.
    events = _run(judge, range(100, 200), PARKED, OTHER)
    assert _kinds(events) == ["EpisodeStarted"]
    start = events[0][1]
    assert events[0][0] == 130 and start.details["count"] == 1
    assert start.details["tracks"][0]["xyxy"] == [float(v) for v in OTHER]
    [suppressed] = start.details["suppressed"]
    assert suppressed["dismissed_event"] == 7 and suppressed["iou"] >= 0.9
    assert [tuple(b) for b in start.detections.xyxy] == [OTHER]


def test_suppression_is_per_zone_violation_and_iou():
    box = np.array([[80, 300, 180, 400]], np.float32)
    sup = Suppressions("parked_bikes", iou_threshold=0.5)
    sup.load([Dismissed(1, "footway", "parked_bikes", box), Dismissed(2, "footway", "open_burning", box + 200)])
    moved = (80 + 40, 300, 180 + 40, 400)  # IoU 60/140 = 0.43
    hits = sup.match("footway", np.array([PARKED, moved, OTHER], np.float32))
    assert hits[0] is not None and hits[0].event_id == 1
    assert hits[1] is None and hits[2] is None
    assert sup.match("road", np.array([PARKED], np.float32)) == [None]  # another zone
    assert sup.match("footway", np.array([(280, 500, 380, 600)], np.float32)) == [None]  # the burning box: another violation
    assert len(Suppressions("parked_bikes", iou_threshold=0.4).match("footway", box)) == 1


def test_dismissed_fire_region_is_not_alerted():
    params = OpenBurning()
    base = (300, 200, 380, 300)
    fire = FIRE_SMOKE_CLASSES.index("fire")

    def feed(judge):
        events = []
        for i in range(30):
            t = i * params.sample_every_s
            box = _breathing(t, base)
            dets = Detections(np.array([box], np.float32), np.array([0.8], np.float32), np.array([fire], np.int32), FIRE_SMOKE_CLASSES)
            events += judge.process(Sample("cam", _frame(box), T0 + timedelta(seconds=t), t, False), dets)
        return events

    zone = ZoneShape("yard", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))
    assert [type(e) for e in feed(OpenBurningJudge("cam", [zone], params))] == [EpisodeStarted]
    judge = OpenBurningJudge("cam", [zone], params)
    judge.suppressions.load([Dismissed(3, "yard", "open_burning", np.array([base], np.float32))])
    assert feed(judge) == []


# -- the recorder: a resumed episode re-opens its event -------------------------------------------


def test_recorder_reopens_the_event_of_a_resumed_episode(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'e.db'}")
    db.upsert_camera("cam", "cam", "other", "cam.mp4")
    recorder = CameraRecorder(db, tmp_path, "cam", "cam", [ZONE], 2.0, 2.0)
    ring = PacketRing(5.0)
    judge = _judge()
    events = _run(judge, range(0, 60), PARKED)
    events += [(60, e) for e in judge.suspend(T0 + timedelta(seconds=60), "camera disconnected: gone")]
    events += _run(judge, range(300, 320), PARKED)
    events += [(320, e) for e in judge.close(T0 + timedelta(seconds=320), "shutdown")]
    assert _kinds(events) == ["EpisodeStarted", "EpisodeEnded", "EpisodeResumed", "EpisodeEnded"]
    ids = []
    for _, event in events:
        ids.append(recorder.on_episode(event, ring))
        if isinstance(event, EpisodeResumed):
            reopened = db.get_event(ids[0])
            assert reopened.ended_at is None and reopened.end_reason is None
    assert len(set(ids)) == 1 and len(db.list_events()) == 1
    ev = db.get_event(ids[0])
    assert ev.end_reason == "shutdown" and ev.ended_at == T0 + timedelta(seconds=320)
    [gap] = ev.details["resumed"]
    assert gap["reason"] == "camera disconnected: gone" and gap["resumed_at"] == (T0 + timedelta(seconds=300)).isoformat()
    assert verify_ledger(db).problems == []  # the re-open is chained like every other write


# -- the real pipeline ------------------------------------------------------------------------------


needs_rtsp = pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=str(rtsp_unavailable_reason()))


@needs_rtsp
def test_camera_restart_under_a_parked_bike_gives_one_event(footage, detector, tmp_path):
    """A real RTSP camera killed and restarted while the bike it alerted on stays parked."""
    with RtspServer({"/cam": footage["parked_bike.mp4"]}) as server:
        raw = make_config(
            tmp_path / "data",
            [camera_entry("live-1", server.url("/cam"), BIKE_ZONE)],
            violations={"parked_bikes": {"dwell_s": 6, "sample_every_s": 1.0, "end_after_s": 30}},
            evidence={"pre_s": 2, "post_s": 2},
            streams={"reconnect_initial_s": 0.3, "reconnect_max_s": 1.0},
        )
        cfg = parse_config(raw)
        db = open_database(cfg.database_url)
        with patrolling(cfg, detector, db) as (worker, _):
            first = wait_for(lambda: db.list_events(), 90, "the first alert")[0]
            server.kill()
            closed = wait_for(lambda: db.get_event(first.id).ended_at is not None and db.get_event(first.id), 30, "the close on disconnect")
            assert closed.end_reason.startswith("camera disconnected")
            server.start()
            wait_for(lambda: db.get_event(first.id).ended_at is None, 60, "the event to resume after the reconnect")
            samples = worker.stats.samples
            wait_for(lambda: worker.stats.samples > samples + 8, 60, "samples after the resume")
        events = db.list_events()
        assert [e.id for e in events] == [first.id]  # one violation, one event: no second alert
        ev = events[0]
        assert ev.end_reason == "shutdown"
        assert ev.details["resumed"][0]["reason"].startswith("camera disconnected")
        assert worker.feed.reconnects >= 1


def test_dismissed_bike_is_not_flagged_again_on_the_real_footage(footage, detector, tmp_path):
    """The real parked-bike footage runs once (one event); an officer dismisses that event, and
    the same footage runs again: the same bike raises nothing in that zone, while a second zone
    drawn over the same spot still alerts. (Its own database: the session's patrol database is
    shared with tests that put its event in cases.)"""
    first = parse_config(make_config(tmp_path / "data", [camera_entry("wall-street-1", footage["parked_bike.mp4"], BIKE_ZONE)]))
    db = open_database(first.database_url)
    run_cameras(first, detector, db, threading.Event())
    [event] = db.list_events(camera_id="wall-street-1")
    assert event.zone == BIKE_ZONE["name"] and event.detections
    decisions.decide(db, event.id, "dismiss", by="li", reason="the shop's own bicycle, inside its permit area")
    [dismissed] = decisions.dismissed_events(db, "wall-street-1")
    assert dismissed.event_id == event.id

    camera = camera_entry("wall-street-1", footage["parked_bike.mp4"], BIKE_ZONE)
    camera["zones"].append({**BIKE_ZONE, "name": "shop-front"})
    cfg = parse_config(make_config(tmp_path / "data", [camera]))
    run_cameras(cfg, detector, db, threading.Event())
    new = [e for e in db.list_events() if e.id != event.id]
    assert [e.zone for e in new] == ["shop-front"]  # the dismissed object's zone stayed quiet
    assert new[0].detections[0]["label"] == "bicycle"

    # An officer changes their mind (confirms): nothing is suppressed any more.
    decisions.decide(db, event.id, "confirm", by="li")
    assert decisions.dismissed_events(db, "wall-street-1") == []
