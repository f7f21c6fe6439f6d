"""The motion gate on real footage, alone and in the real pipeline with the real model."""

from __future__ import annotations

import threading

import av
import numpy as np
import pytest
from conftest import SHARED, camera_entry, make_config

from epatrol.config import ConfigError, parse_config
from epatrol.migrations import open_database
from epatrol.streams.motion import MotionGate
from epatrol.supervisor import run_cameras

VTEST = SHARED / "media" / "vtest.avi"  # a fixed CCTV camera, 10 fps, pedestrians walking


def _frames(path, indices: set[int]) -> dict[int, np.ndarray]:
    out = {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in indices:
                out[i] = f.to_ndarray(format="bgr24")
            if len(out) == len(indices):
                break
    return out


def _noisy(frame: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def vtest_frames():
    return _frames(VTEST, {0, 10, 20})


def test_sensor_noise_is_no_change_but_walking_people_are(vtest_frames):
    gate = MotionGate()
    first = vtest_frames[0]
    assert gate.should_infer(first, 0.0)  # nothing to compare with: infer
    # The same scene with fresh sensor noise (sigma 3) is not a change ...
    assert not gate.should_infer(_noisy(first, 3.0, 1), 1.0)
    assert gate.last_changed_fraction < gate.min_changed
    # ... one second later the pedestrians have moved: it is.
    assert gate.should_infer(vtest_frames[10], 2.0)
    assert gate.last_changed_fraction > 10 * gate.min_changed


def test_compares_with_the_last_inferred_sample_not_the_previous_one(vtest_frames):
    """A slow change adds up: each step is compared with the reference, not with the step before."""
    gate = MotionGate()
    a, b = vtest_frames[0], vtest_frames[10]
    assert gate.should_infer(a, 0.0)
    # Fade towards b in 4% steps: no pixel moves more than ~10 grey levels from one step to the
    # next (under the threshold of 12), but the fade as a whole is a change.
    decisions = [gate.should_infer(cv_blend(a, b, k * 0.04), float(k)) for k in range(1, 10)]
    assert decisions[0] is False
    assert True in decisions


def cv_blend(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (a.astype(np.float32) * (1 - t) + b.astype(np.float32) * t).round().astype(np.uint8)


def test_refresh_and_a_new_connection_force_an_inference(vtest_frames):
    gate = MotionGate(refresh_s=5.0)
    f = vtest_frames[0]
    assert gate.should_infer(f, 100.0)
    assert not gate.should_infer(f, 104.0)
    assert gate.should_infer(f, 105.0)  # refresh: stationary objects are re-checked
    assert not gate.should_infer(f, 106.0)
    assert gate.should_infer(f, 0.5)  # media time restarted (reconnect)


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": 300}, {"min_changed": 0}, {"refresh_s": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        MotionGate(**kwargs)


def test_config_section_is_validated():
    base = {"cameras": [{"id": "a", "name": "a", "url": "x.mp4"}]}
    assert parse_config(base).fast_path.motion_gate is True
    with pytest.raises(ConfigError, match="fast_path.refresh_s"):
        parse_config({**base, "fast_path": {"refresh_s": 0}})
    with pytest.raises(ConfigError, match="fast_path.nonsense"):
        parse_config({**base, "fast_path": {"nonsense": 1}})


# --------------------------------------------------------------------------- in the pipeline


@pytest.fixture(scope="module")
def still_bike(tmp_path_factory):
    """12 s of a parked bicycle that never moves (bikes.mp4 frame 230 + sensor noise), 25 fps, 2 s GOP."""
    from sample_videos.build import encode_h264

    frame = _frames(SHARED / "media" / "bikes.mp4", {230})[230]
    path = tmp_path_factory.mktemp("still") / "still_bike.mp4"
    return encode_h264((_noisy(frame, 2.0, i) for i in range(300)), path)


ZONE = {"name": "wall-footway", "polygon": [[0.30, 0.45], [1.00, 0.45], [1.00, 1.00], [0.30, 1.00]], "violations": ["parked_bikes"]}


def _patrol(tmp_path, video, detector, fast_path: dict):
    raw = make_config(tmp_path, [camera_entry("still-1", video, ZONE)], fast_path=fast_path)
    raw["violations"]["parked_bikes"].update(dwell_s=4, end_after_s=30)
    cfg = parse_config(raw)
    db = open_database(cfg.database_url)
    (worker,) = run_cameras(cfg, detector, db, threading.Event())
    return worker, db.list_events()


def test_a_parked_bike_stays_alive_through_reused_detections(tmp_path, still_bike, detector):
    """Gate on, a refresh every 4 s: the detector runs on 3 of the 12 samples, the judge is fed
    every sample (the others with the last inferred detections), and the parked bicycle, still
    for longer than the dwell only across reused samples, becomes an event as without the gate."""
    gated, gated_events = _patrol(tmp_path / "on", still_bike, detector, {"motion_gate": True, "refresh_s": 4.0, "zone_crops": False})
    plain, plain_events = _patrol(tmp_path / "off", still_bike, detector, {"motion_gate": False, "zone_crops": False})
    assert plain.stats.times.calls["inference"] == plain.stats.judged >= 11
    assert gated.stats.judged == plain.stats.judged
    # Samples at media time 0, 0.92, 1.92, 2.92, 4.0, ...: refreshes at 0, 4.0 and 8.0 s.
    assert gated.stats.times.calls["inference"] == 3
    assert gated.stats.gated == gated.stats.judged - 3
    assert len(plain_events) == len(gated_events) == 1
    a, b = plain_events[0], gated_events[0]
    assert (a.violation, a.zone) == (b.violation, b.zone) == ("parked_bikes", "wall-footway")
    assert b.clip_state == "complete" and b.detections[0]["label"] == "bicycle"
    assert b.details["dwell_s"] >= 4.0
