"""`epatrol eval`: the matching rule and metrics (pure), the ground-truth file's validation, and one
run of the real pipeline over a tiny labelled set whose report must follow from the events in the DB."""

from __future__ import annotations

import json

import pytest
import yaml

from epatrol.cli import main
from epatrol.evaluation.ground_truth import (
    GroundTruthError,
    load_ground_truth,
    parse_ground_truth,
)
from epatrol.evaluation.matching import (
    Alert,
    match_clip,
    poisson_upper,
    summarise,
    wilson_interval,
)
from epatrol.migrations import open_database

HOUR = 3600.0


# --------------------------------------------------------------------------- matching


def test_alert_inside_an_interval_is_a_match_with_its_onset_to_alert():
    o = match_clip([(10.0, 200.0)], [Alert(130.0, 1)], duration_s=300, tolerance_s=5)
    assert [m.interval for m in o.matches] == [(10.0, 200.0)]
    assert o.matches[0].onset_to_alert_s == pytest.approx(120.0)
    assert o.missed == () and o.false_alerts == 0


def test_a_second_alert_in_a_matched_interval_is_a_duplicate_and_a_false_alert():
    o = match_clip([(0.0, 100.0)], [Alert(60.0), Alert(90.0)], duration_s=100, tolerance_s=0)
    assert len(o.matches) == 1 and o.matches[0].alert.media_s == 60.0
    assert [a.media_s for a in o.duplicates] == [90.0]
    assert o.false_alerts == 1


def test_alert_outside_every_interval_is_false_and_an_unmatched_interval_is_missed():
    o = match_clip([(0.0, 10.0), (50.0, 60.0)], [Alert(30.0)], duration_s=100, tolerance_s=2)
    assert o.matches == ()
    assert [a.media_s for a in o.outside] == [30.0]
    assert o.missed == ((0.0, 10.0), (50.0, 60.0))


def test_tolerance_extends_only_the_end_of_an_interval():
    truth = [(20.0, 40.0)]
    assert len(match_clip(truth, [Alert(45.0)], 100, tolerance_s=5).matches) == 1  # end + 5 is inclusive
    assert len(match_clip(truth, [Alert(45.01)], 100, tolerance_s=5).outside) == 1
    assert len(match_clip(truth, [Alert(19.99)], 100, tolerance_s=5).outside) == 1  # never before the start


def test_each_alert_takes_the_earliest_free_interval():
    # Two overlapping-by-tolerance intervals: the first alert takes the first, the second the next.
    o = match_clip([(0.0, 10.0), (12.0, 30.0)], [Alert(13.0), Alert(14.0)], duration_s=40, tolerance_s=5)
    assert [(m.interval, m.alert.media_s) for m in o.matches] == [((0.0, 10.0), 13.0), ((12.0, 30.0), 14.0)]
    assert o.false_alerts == 0


def test_positive_and_negative_footage():
    o = match_clip([(0.0, 60.0), (100.0, 130.0)], [], duration_s=200, tolerance_s=10)
    assert o.positive_s == pytest.approx(90.0)
    assert o.negative_s == pytest.approx(200 - 70 - 40)  # truth plus tolerance is not negative footage
    clipped = match_clip([(150.0, 200.0)], [], duration_s=180, tolerance_s=10)
    assert clipped.positive_s == pytest.approx(30.0) and clipped.negative_s == pytest.approx(150.0)


def test_summary_precision_recall_delay_and_false_alerts_per_camera_hour():
    positive = match_clip([(0.0, 300.0)], [Alert(120.0), Alert(200.0)], duration_s=300, tolerance_s=0)  # 1 TP + 1 duplicate
    missed = match_clip([(0.0, 300.0)], [], duration_s=300, tolerance_s=0)
    negative = match_clip([], [Alert(50.0)], duration_s=2 * HOUR, tolerance_s=0)  # 1 false alert in 2 h
    late = match_clip([(0.0, 100.0)], [Alert(100.0)], duration_s=100, tolerance_s=0)
    m = summarise("parked_bikes", [positive, missed, negative, late])
    assert (m.truth_intervals, m.matched, m.missed, m.alerts) == (3, 2, 1, 4)
    assert (m.false_alerts, m.duplicates) == (2, 1)
    assert m.precision == pytest.approx(2 / 4)
    assert m.recall == pytest.approx(2 / 3)
    assert m.median_onset_to_alert_s == pytest.approx(110.0) and m.max_onset_to_alert_s == pytest.approx(120.0)
    assert m.negative_hours == pytest.approx(2.0)
    assert m.positive_hours == pytest.approx(700 / HOUR)
    assert m.false_alerts_per_camera_hour == pytest.approx(2 / 2.0)
    assert m.false_alerts_per_camera_day == pytest.approx(24.0)
    assert m.false_alerts_per_camera_day_95 == pytest.approx(poisson_upper(2) / 2.0 * 24)
    assert m.false_alerts_per_camera_hour_95 == pytest.approx(poisson_upper(2) / 2.0)
    assert m.precision_95 == pytest.approx(wilson_interval(2, 4)) and m.recall_95 == pytest.approx(wilson_interval(2, 3))


def test_no_alerts_leaves_precision_undefined_and_zero_false_alerts_still_bounded():
    m = summarise("open_burning", [match_clip([], [], duration_s=HOUR, tolerance_s=0)])
    assert m.precision is None and m.recall is None and m.median_onset_to_alert_s is None
    assert m.false_alerts_per_camera_day == 0.0
    assert m.false_alerts_per_camera_day_95 == pytest.approx(3.0 * 24, rel=0.01)  # the "rule of three"


def test_wilson_intervals_match_published_values():
    # Reference values: Wilson score intervals at 95 % as tabulated by statsmodels' proportion_confint(method="wilson").
    assert wilson_interval(3, 3) == pytest.approx((0.4385, 1.0), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(2, 4) == pytest.approx((0.1500, 0.8500), abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_poisson_upper_bounds():
    assert poisson_upper(0) == pytest.approx(2.996, abs=1e-3)
    assert poisson_upper(1) == pytest.approx(4.744, abs=1e-3)
    assert poisson_upper(10) == pytest.approx(17.0, abs=0.05)


def test_report_names_clips_that_could_not_run_and_why(tmp_path):
    from epatrol.evaluation.report import build_report, markdown_table
    from epatrol.evaluation.runner import ClipRun, EvalRun

    gt = parse_ground_truth(
        {"clips": [
            {"path": "bins.mp4", "camera": "bin-1", "zone": [[0, 0], [1, 0], [1, 1]], "violation": "overflowing_bins", "truth": [[0, 90]]},
            {"path": "bike.mp4", "camera": "wall-1", "zone": [[0, 0], [1, 0], [1, 1]], "violation": "parked_bikes", "truth": [[0, 240]]},
            {"path": "walk.mp4", "camera": "wall-1", "zone": [[0, 0], [1, 0], [1, 1]], "violation": "parked_bikes"},
        ]},
        check_files=False,
    )
    why = "judge cannot start: bin classifier parameters not found"
    runs = (
        ClipRun(0, gt.clips[0], tmp_path / "bins.mp4", "c000-bin-1", 90.0, False, (), 0, why),
        ClipRun(1, gt.clips[1], tmp_path / "bike.mp4", "c001-wall-1", 240.0, True, (Alert(121.0, 7),), 240),
        ClipRun(2, gt.clips[2], tmp_path / "walk.mp4", "c002-wall-1", 600.0, False, (), 0, "no judge implements this violation"),
    )
    report = build_report(gt, EvalRun(runs, 10.0, 5.0, "sqlite://", {}))
    bins, bikes = report["violations"]["overflowing_bins"], report["violations"]["parked_bikes"]
    assert not bins["judged"] and bins["not_run"] == [why]
    assert bikes["judged"] and bikes["clips"] == 1 and bikes["clips_not_run"] == 1  # metrics only from what ran
    assert bikes["recall"] == 1.0 and bikes["median_onset_to_alert_s"] == pytest.approx(121.0)
    table = markdown_table(report)
    assert f"| overflowing_bins | 1 | – | not run: {why} |" in table
    # 1 of 1: the Wilson interval printed beside each point score says how little one clip proves
    assert "| parked_bikes | 1 (+1 not run) | 1 | 1 | 1.00 (0.21–1.00) | 1.00 (0.21–1.00) | 121.0 / 121.0 s |" in table


# --------------------------------------------------------------------------- the ground-truth file


def _truth(**clip) -> dict:
    base = {"path": "a.mp4", "camera": "cam-1", "zone": [[0, 0], [1, 0], [1, 1]], "violation": "parked_bikes", "truth": [[0, 10]]}
    return {"clips": [{**base, **clip}]}


def _error(data, **kw) -> str:
    with pytest.raises(GroundTruthError) as e:
        parse_ground_truth(data, "set.yaml", check_files=False, **kw)
    return str(e.value)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (_truth(violation="loitering"), "clips.0.violation", "street_vending"),
        (_truth(truth=[[10, 5]]), "clips.0.truth", "end must be after start"),
        (_truth(truth=[[0, 10], [5, 20]]), "clips.0.truth", "overlaps"),
        (_truth(truth=[[-1, 10]]), "clips.0.truth.0.0", "greater than or equal to 0"),
        (_truth(zone=[[0, 0], [1, 0]]), "clips.0.zone", "at least 3"),
        (_truth(zone=[[0, 0], [1.5, 0], [1, 1]]), "clips.0.zone.1.0", "less than or equal to 1"),
        (_truth(camera="Cam 1"), "clips.0.camera", "pattern"),
        (_truth(colour="red"), "clips.0.colour", "Extra inputs"),
        ({**_truth(), "violations": {"parked_bikes": {"dwell_s": -1}}}, "violations.parked_bikes.dwell_s", "greater than 0"),
        ({**_truth(), "tolerance": 3}, "tolerance", "Extra inputs"),
        ({"clips": []}, "clips", "at least 1"),
    ],
)
def test_bad_ground_truth_is_refused_naming_the_field(data, field, words):
    msg = _error(data)
    assert msg.startswith("set.yaml:")
    assert f"  {field}: " in msg and words in msg


def test_ground_truth_names_missing_clip_files_and_resolves_paths_beside_the_file(tmp_path):
    f = tmp_path / "set.yaml"
    f.write_text(yaml.safe_dump(_truth()))
    with pytest.raises(GroundTruthError, match=r"clips\.0\.path: file not found: .*a\.mp4"):
        load_ground_truth(f)
    (tmp_path / "a.mp4").write_bytes(b"")
    gt = load_ground_truth(f)
    assert gt.clip_path(gt.clips[0]) == tmp_path / "a.mp4"
    assert gt.violations.parked_bikes.dwell_s == 120.0  # the deployed defaults unless the file says otherwise
    with pytest.raises(GroundTruthError, match="not valid YAML"):
        f.write_text("clips: [")
        load_ground_truth(f)


def test_the_same_clip_labelled_twice_for_one_violation_is_refused():
    data = _truth()
    data["clips"].append(dict(data["clips"][0]))
    assert "clips.1: a.mp4 is labelled twice for parked_bikes" in _error(data)


# --------------------------------------------------------------------------- end to end


def test_epatrol_eval_reports_what_the_events_in_the_database_say(tmp_path, footage):
    """A parked bicycle (truth: the whole clip) and the vtest walkers (no bike) through the real
    pipeline; dwell shortened to 20 s so the 60 s clip is a positive."""
    truth = {
        "tolerance_s": 5,
        "violations": {"parked_bikes": {"dwell_s": 20}},
        "clips": [
            {"path": str(footage["parked_bike.mp4"]), "camera": "wall-1", "violation": "parked_bikes",
             "zone": [[0.3, 0.45], [1.0, 0.45], [1.0, 0.95], [0.3, 0.95]], "truth": [[0, 60]], "kind": "positive"},
            {"path": str(footage["campus_walkers.mp4"]), "camera": "campus-1", "violation": "parked_bikes",
             "zone": [[0, 0.35], [1, 0.35], [1, 1], [0, 1]], "truth": [], "kind": "walkers"},
        ],
    }
    (tmp_path / "set.yaml").write_text(yaml.safe_dump(truth))
    storage = tmp_path / "run"
    rc = main(["eval", "--truth", str(tmp_path / "set.yaml"), "--out", str(tmp_path / "r.json"),
               "--markdown", str(tmp_path / "r.md"), "--storage", str(storage)])
    assert rc == 0
    report = json.loads((tmp_path / "r.json").read_text())


    db = open_database(f"sqlite:///{storage / 'epatrol.db'}")
    by_clip = {c["camera"]: c for c in report["clips"]}
    events = {cam: db.list_events(camera_id=by_clip[cam]["ran_as"]) for cam in by_clip}
    assert {cam: len(evs) for cam, evs in events.items()} == {cam: len(c["alerts_s"]) for cam, c in by_clip.items()}
    assert sorted(e.id for e in events["wall-1"]) == sorted(by_clip["wall-1"]["event_ids"])

    n_pos, n_neg = len(events["wall-1"]), len(events["campus-1"])
    assert n_pos >= 1, "the parked bicycle raised no event"
    matched = min(n_pos, 1)
    m = report["violations"]["parked_bikes"]
    assert (m["alerts"], m["matched"], m["false_alerts"]) == (n_pos + n_neg, matched, n_pos - matched + n_neg)
    assert m["precision"] == pytest.approx(matched / (n_pos + n_neg))
    assert m["recall"] == pytest.approx(matched / 1)

    # Media time: the bike is in view from the first frame, so it cannot alert before the dwell;
    # the event's own onset -> alert span is the same in media seconds as in its UTC stamps.
    first = events["wall-1"][-1]  # newest first
    alert_s = by_clip["wall-1"]["alerts_s"][0]
    assert 20.0 <= alert_s <= 60.0
    assert m["median_onset_to_alert_s"] == pytest.approx(alert_s)
    assert (first.alerted_at - first.started_at).total_seconds() >= 20.0
    assert m["negative_hours"] == pytest.approx(79.5 / HOUR, rel=0.01)

    table = (tmp_path / "r.md").read_text()
    assert table.startswith("| violation |") and "| parked_bikes | 2 | 1 |" in table
