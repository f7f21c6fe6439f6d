"""The open-burning decision: the shipped file matches the judge, and the fit runs on real data.

The fit test runs the whole `epatrol fit-fire` path (real fire_smoke model on real scenes of
../shared, region replay, grouped cross-validation, threshold, JSON, report) on a small subset.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from epatrol.config import OpenBurning
from epatrol.detectors.fire.fire_features import (
    DEFAULT_DECISION,
    FEATURES,
    FireDecision,
    RegionTracker,
    region_features,
)
from epatrol.detectors.fire.open_burning import OpenBurningJudge

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def test_shipped_decision_loads_and_matches_the_judges_features():
    raw = json.loads(DEFAULT_DECISION.read_text())
    decision = FireDecision.load()
    assert decision.version == raw["version"] and raw["date"] and "fit-fire" in raw["command"]
    assert tuple(raw["features"]) == FEATURES
    assert set(decision.kinds) == {"fire", "smoke"}
    for kind in decision.kinds.values():
        assert 0.0 < kind.threshold < 1.0 and np.all(kind.scale > 0) and np.all(np.isfinite(kind.weights))
    summary = raw["training_data"]
    assert summary["positive_scenes"] >= 20 and summary["negative_scenes"] >= 100 and summary["negative_camera_s"] > 1000
    # the judge computes exactly these features, in this order, and uses the shipped file by default
    tracker = RegionTracker(decision.window_s)
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for n in range(4):
        tracker.update(T0 + timedelta(seconds=n * 0.5), frame, np.array([[50, 50, 150, 150]], np.float32), np.array([0.8]), ["fire"])
    features = region_features(tracker.regions[0], T0 + timedelta(seconds=1.5), decision.window_s, 0.5)
    assert tuple(features) == FEATURES and all(np.isfinite(list(features.values())))
    judge = OpenBurningJudge("cam", [], OpenBurning())
    assert judge.decision.version == decision.version and judge.window_s == decision.window_s == raw["window_s"]


def test_a_decision_file_with_other_features_is_refused(tmp_path):
    raw = json.loads(DEFAULT_DECISION.read_text())
    raw["features"] = raw["features"][::-1]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw))
    try:
        FireDecision.load(path)
    except ValueError as e:
        assert "refit" in str(e)
    else:
        raise AssertionError("a decision fitted on other features was accepted")


def test_fit_on_a_small_subset_writes_a_valid_decision(tmp_path):
    from epatrol.training.fire_fit import run

    out = tmp_path / "decision.json"
    decision = run(SHARED, out, tmp_path / "report", SHARED / "models", tmp_path / "boxes.json", limit=6, log=lambda s: None)
    loaded = FireDecision.load(out)
    assert loaded.version == decision["version"] and set(loaded.kinds) == {"fire", "smoke"}
    assert decision["training_data"]["scenes"] == 6 and decision["training_data"]["positive_scenes"] >= 2
    assert all(0 < k.threshold < 1 for k in loaded.kinds.values())
    report = (tmp_path / "report" / "open_burning.md").read_text()
    assert "AUC" in report and (tmp_path / "report" / "open_burning_roc.png").stat().st_size > 1000
    # the judge runs with the refitted file
    judge = OpenBurningJudge("cam", [], OpenBurning(decision=out))
    assert judge.decision.version == decision["version"]


def test_the_fit_replays_exactly_what_the_judge_computes():
    """The fit's rows and the judge's verdicts on the same real frames and boxes: same features,
    same score (one code path, fire_features.py)."""
    from epatrol.detectors.fire.fire_features import feature_vector
    from epatrol.models.detections import Detections
    from epatrol.models.detector import load_detector
    from epatrol.models.manifest import FIRE_SMOKE_CLASSES
    from epatrol.streams.packets import Sample
    from epatrol.training.fire_data import STEP_S, dataset_runs, sequence
    from epatrol.training.fire_data import Scene as FitScene
    from epatrol.training.fire_replay import T0 as FIT_T0
    from epatrol.training.fire_replay import replay

    frames = dataset_runs(SHARED)["fire1_mp4"][:8]
    scene = FitScene("fire1_mp4", "fire_sequence", True, sequence(frames), [True] * len(frames))
    model = load_detector("fire_smoke", SHARED / "models", threads=2)
    boxes = {}
    for key, frame in scene.samples():
        d = model.detect(frame, conf=0.3)
        boxes[key] = np.column_stack([d.xyxy, d.confidence, d.class_id]).astype(np.float32)
    decision = FireDecision.load()
    rows = replay([scene], boxes, decision.window_s, 0.3)
    judge = OpenBurningJudge("cam", [], OpenBurning())
    for n, (key, frame) in enumerate(scene.samples()):
        b = boxes[key]
        judge.process(Sample("cam", frame, FIT_T0 + timedelta(seconds=n * STEP_S), n * STEP_S, False),
                      Detections(b[:, :4], b[:, 4], b[:, 5].astype(np.int32), FIRE_SMOKE_CLASSES))
    last = rows.t == rows.t.max()
    assert last.any() and len(judge.regions) == int(last.sum())
    for region in judge.regions:
        verdict = judge.judge(region, FIT_T0 + timedelta(seconds=rows.t.max()))
        row = np.nonzero(last & (rows.region == region.id))[0][0]
        assert np.allclose(rows.x[row], feature_vector(verdict.cues["features"]), atol=1e-3)
        assert abs(decision.kinds[region.kind].score(dict(zip(FEATURES, rows.x[row]))) - verdict.score) < 1e-9
