"""Open burning: the judge's mechanics on a fake clock, then the real fire/smoke model on real footage.

Mechanics (episodes, zones, the hit floor, smoke_alone) run with a hand-made decision (TEST_DECISION:
flicker and shape change for fire, growth and rise for smoke), so they do not depend on the fit.
Real parts use the SHIPPED fitted decision (detectors/fire/data/fire_decision.json) and the fire_smoke
ONNX model: the aerial burn (one episode, alert within 10 s), a large steady fire seen close (its box
barely changes size: the old AND rule vetoed it), smoke-led burning (black smoke, no flame: alert
within 30 s), negative footage (vtest.avi, bikes.mp4), photos held as stills with sensor noise
(zidane.jpg, bus.jpg, and photos of real fires: pan-fire.jpg, fire-basket.jpg), the fire-smoke-cctv
frames labelled `default` held as stills, and real CCTV sequences of that dataset (a night wall fire;
a security fogger behind a red "BANDIT" logo the model calls fire).

These real scenes are part of what the decision was fitted on (in-sample); the cross-validated
figures are in docs/reports/open_burning.md. Measurements are printed (run with -s).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from epatrol.config import OpenBurning, Violations
from epatrol.detectors.episodes import EpisodeEnded, EpisodeStarted, EpisodeUpdated
from epatrol.detectors.fire.fire_features import FEATURES, FireDecision, KindDecision
from epatrol.detectors.fire.open_burning import OpenBurningJudge
from epatrol.detectors.zones import ZoneShape
from epatrol.models.detections import Detections
from epatrol.models.manifest import FIRE_SMOKE_CLASSES
from epatrol.streams.packets import Sample

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MEDIA = SHARED / "media"
DATASET = SHARED / "datasets" / "fire-smoke-cctv"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
SMOKE, FIRE = FIRE_SMOKE_CLASSES.index("smoke"), FIRE_SMOKE_CLASSES.index("fire")
PARAMS = OpenBurning()  # the defaults are what is tested
STEP = PARAMS.sample_every_s
SHIPPED = FireDecision.load()


def _kind(weights: dict[str, float], bias: float) -> KindDecision:
    n = len(FEATURES)
    return KindDecision(np.zeros(n), np.ones(n), np.array([weights.get(f, 0.0) for f in FEATURES]), bias, 0.5)


# fire: flicker and shape change together; smoke: growth or rise (ln area ratio, box heights)
TEST_DECISION = FireDecision("test", SHIPPED.window_s, {
    "fire": _kind({"flicker_med": 0.5, "shape_med": 20.0}, -5.0),
    "smoke": _kind({"growth": 4.0, "rise": 4.0}, -1.0),
}, "test")


def _judge(params: OpenBurning = PARAMS, zones=()) -> OpenBurningJudge:
    return OpenBurningJudge("cam", list(zones), params, decision=TEST_DECISION)


# -- the judge on a fake clock -----------------------------------------------------------------

W, H = 640, 480
_rng = np.random.default_rng(7)


def _frame(box=None, flame: bool = True) -> np.ndarray:
    """A grey scene; inside `box` a fresh random bright pattern each call (a flame's content
    changes between samples) or, with flame=False, the same pattern every time (a sign)."""
    frame = np.full((H, W, 3), 90, np.uint8)
    if box is not None:
        x1, y1, x2, y2 = (int(v) for v in box)
        rng = _rng if flame else np.random.default_rng(1)
        tongues = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)  # coarse blobs, not pixel noise
        frame[y1:y2, x1:x2] = cv2.resize(tongues, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    return frame


def _dets(*boxes, label=FIRE, conf=0.8) -> Detections:
    if not boxes:
        return Detections.empty(FIRE_SMOKE_CLASSES)
    n = len(boxes)
    return Detections(np.array(boxes, np.float32), np.full(n, conf, np.float32), np.full(n, label, np.int32), FIRE_SMOKE_CLASSES)


def _breathing(t: float, base=(300, 200, 380, 300)) -> tuple[float, ...]:
    """A flame's box: same place, its top edge jumping by a third of its height every sample."""
    x1, y1, x2, y2 = base
    k = int(round(t / STEP)) % 2
    return (x1, y1 - k * (y2 - y1) / 3, x2, y2)


def _feed(judge, frames):
    events = []
    for t, frame, dets in frames:
        events += judge.process(Sample("cam", frame, T0 + timedelta(seconds=t), t, False), dets)
    return events


def _fire_at(times, box_fn=_breathing, flame=True):
    return [(t, _frame(box_fn(t), flame), _dets(box_fn(t))) for t in times]


def _clear(times):
    return [(t, _frame(), _dets()) for t in times]


def _ticks(start, stop):
    return [round(start + i * STEP, 3) for i in range(int(round((stop - start) / STEP)))]


def test_config_section_defaults_and_limits():
    assert Violations().open_burning == OpenBurning()
    assert PARAMS.sample_every_s == 0.5 and PARAMS.confidence == 0.3
    assert PARAMS.decision is None and PARAMS.smoke_alone and PARAMS.persist_min_hits == 3
    with pytest.raises(ValidationError, match="can never be reached"):
        OpenBurning(sample_every_s=1.0, persist_window_s=2.0, persist_min_hits=4)
    with pytest.raises(ValidationError):
        OpenBurning(flicker_hz=3)  # unknown keys are rejected
    with pytest.raises(ValidationError):
        OpenBurning(min_flicker=6)  # the hand-set thresholds are gone: the fitted decision replaces them
    with pytest.raises(ValidationError):
        PARAMS.model_copy().__setattr__("confidence", 0.5)  # frozen
    with pytest.raises(ValueError, match="can never be reached"):  # the decision's 4 s window holds 9 samples at 0.5 s
        OpenBurningJudge("cam", [], OpenBurning(persist_min_hits=10))


def test_flickering_fire_alerts_at_the_hit_floor_and_ends_after_end_after_s():
    judge = _judge()
    fire = _ticks(10, 40)
    events = _feed(judge, _clear(_ticks(0, 10)) + _fire_at(fire) + _clear(_ticks(40, 120)))
    assert [type(e) for e in events] == [EpisodeStarted, EpisodeEnded]
    start, end = events
    # the 3rd hit (persist_min_hits) is 1 s after the first; the score passed earlier, the floor held it
    assert (start.alert - T0).total_seconds() == 10 + (PARAMS.persist_min_hits - 1) * STEP
    assert start.onset == T0 + timedelta(seconds=10)
    assert start.key.zone == "frame" and start.key.violation == "open_burning"
    region = start.details["regions"][0]
    assert region["label"] == "fire" and region["persistence"] == PARAMS.persist_min_hits
    assert region["decision_score"] >= region["threshold"] == 0.5
    assert set(region["features"]) == set(FEATURES)
    assert {"colour", "score", "xyxy", "samples", "first_seen", "flicker", "shape_change"} <= set(region)
    assert len(region["samples"]) == PARAMS.persist_min_hits and all("utc" in s for s in region["samples"])
    assert start.details["rule"]["decision_version"] == "test" and start.details["rule"]["thresholds"] == {"fire": 0.5, "smoke": 0.5}
    assert len(start.detections) == 1 and start.detections.labels == ["fire"]
    # ends end_after_s after the last confirmed sighting (39.5 s), dated at that sighting
    assert end.reason == "cleared" and (end.ended - T0).total_seconds() == fire[-1]


def test_brief_candidates_never_alert_whatever_their_score():
    """One-frame and two-frame false positives (a brake light, a passing red shirt), and detections
    too sparse for the window (every 2.5 s: never 3 in 4 s), never reach the hit floor."""
    judge = _judge()
    frames = _clear(_ticks(0, 5)) + _fire_at([5.0]) + _clear(_ticks(5.5, 20))
    frames += _fire_at([20.0, 20.5]) + _clear(_ticks(21, 40))
    frames += _fire_at([40.0, 42.5, 45.0, 47.5, 50.0])
    assert _feed(judge, frames) == []


def test_steady_candidates_never_alert():
    """A photo, sign or lamp (content and box constant) is persistent but never confirmed: with the
    test decision, and with the shipped one."""
    still = (300, 200, 380, 300)
    steady = [(t, _frame(still, flame=False), _dets(still)) for t in _ticks(0, 60)]
    assert _feed(_judge(), steady) == []
    assert _feed(OpenBurningJudge("cam", [], PARAMS), steady) == []


def test_smoke_alone_alerts_by_default_and_only_when_it_grows_or_rises():
    def plume(t):  # smoke growing upwards by 10% of the frame height every sample
        return (100, max(0.0, 300 - 40 * (t % 6) / STEP), 400, 400)

    frames = [(t, _frame(plume(t)), _dets(plume(t), label=SMOKE)) for t in _ticks(0, 30)]
    events = _feed(_judge(), frames)
    assert [type(e) for e in events][:1] == [EpisodeStarted]
    assert events[0].details["regions"][0]["label"] == "smoke" and events[0].details["regions"][0]["growth"] > 0
    assert _feed(_judge(PARAMS.model_copy(update={"smoke_alone": False})), frames) == []
    # steady smoke (fog bank, haze) never confirms
    fog = [(t, _frame((100, 100, 400, 400)), _dets((100, 100, 400, 400), label=SMOKE)) for t in _ticks(0, 30)]
    assert _feed(_judge(), fog) == []


def test_zone_counts_the_box_not_its_bottom_centre():
    # the zone is the top third: flames standing on the ground below it, reaching into it, count
    sky = ZoneShape("sky", ((0.0, 0.0), (1.0, 0.0), (1.0, 0.45), (0.0, 0.45)))
    ground = ZoneShape("far-side", ((0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)))
    judge = _judge(zones=[sky, ground])
    events = _feed(judge, _fire_at(_ticks(0, 10)))  # box x 300-380, y 167-300: bottom-centre at y=300 (0.625)
    assert [(type(e), e.key.zone) for e in events] == [(EpisodeStarted, "sky")]


def test_second_fire_after_the_end_is_a_second_episode_and_close_ends_open_ones():
    judge = _judge()
    frames = _fire_at(_ticks(0, 10)) + _clear(_ticks(10, 80)) + _fire_at(_ticks(80, 90))
    events = _feed(judge, frames)
    assert [type(e) for e in events] == [EpisodeStarted, EpisodeEnded, EpisodeStarted]
    (closed,) = judge.close(T0 + timedelta(seconds=95), "shutdown")
    assert closed.reason == "shutdown"
    assert judge.close(T0 + timedelta(seconds=96), "shutdown") == []


def test_gaps_shorter_than_end_after_s_keep_one_episode():
    judge = _judge()
    frames = _fire_at(_ticks(0, 10)) + _clear(_ticks(10, 40)) + _fire_at(_ticks(40, 50))
    assert [type(e) for e in _feed(judge, frames)] == [EpisodeStarted]


def test_smoke_confirmed_during_a_fire_updates_the_episode():
    judge = _judge()
    plume = lambda t: (20, max(0.0, 150 - 15 * t / STEP), 250, 250)  # noqa: E731 (rising smoke)
    frames = []
    for t in _ticks(0, 8):  # the fire from 0 s, its smoke from 2 s
        frame = _frame(_breathing(t))
        boxes, labels = [_breathing(t)], [FIRE]
        if t >= 2:
            frame[:, :260] = _frame(plume(t))[:, :260]
            boxes, labels = boxes + [plume(t)], labels + [SMOKE]
        frames.append((t, frame, Detections(
            np.array(boxes, np.float32), np.full(len(boxes), 0.8, np.float32), np.array(labels, np.int32), FIRE_SMOKE_CLASSES)))
    events = _feed(judge, frames)
    assert [type(e) for e in events] == [EpisodeStarted, EpisodeUpdated]
    assert {r["label"] for r in events[0].details["regions"]} == {"fire"}
    assert {r["label"] for r in events[1].details["regions"]} == {"fire", "smoke"}


# -- the real model on real footage ------------------------------------------------------------


@pytest.fixture(scope="module")
def fire_model():
    from epatrol.models.detector import load_detector

    if not (SHARED / "models" / "light_yolov8_flame_416.onnx").is_file():
        pytest.fail(f"the shared fire model is missing: expected it under {SHARED / 'models'}")
    return load_detector("fire_smoke", SHARED / "models", threads=2)


def _decode(path: Path, every_s: float) -> list[tuple[float, np.ndarray]]:
    """Frames at the judge's sample rate, with their media time (the synthetic clock)."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        due = 0.0
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t + 1e-6 >= due:
                out.append((t, frame.to_ndarray(format="bgr24")))
                due += every_s
    return out


class _Run:
    def __init__(self, judge: OpenBurningJudge) -> None:
        self.judge = judge
        self.events: list = []
        self.judge_s: list[float] = []
        self.span_s = 0.0
        self.persistent_unconfirmed: list[tuple[str, float, float, float]] = []

    def feed(self, t: float, frame: np.ndarray, dets: Detections) -> None:
        sample = Sample("cam", frame, T0 + timedelta(seconds=t), t, False)
        start = time.perf_counter()
        self.events += self.judge.process(sample, dets)
        self.judge_s.append(time.perf_counter() - start)
        self.span_s = max(self.span_s, t)
        # cues of regions that passed persistence but were not confirmed: the margins the cues keep
        for region in self.judge.regions:
            verdict = self.judge.judge(region, sample.utc)
            if not verdict.confirmed and verdict.cues["persistence"] >= self.judge.params.persist_min_hits:
                self.persistent_unconfirmed.append((region.kind, verdict.cues["flicker"], verdict.cues["shape_change"], verdict.score))

    @property
    def starts(self) -> list[EpisodeStarted]:
        return [e for e in self.events if isinstance(e, EpisodeStarted)]


def _play(model, path: Path, params: OpenBurning = PARAMS) -> _Run:
    run = _Run(OpenBurningJudge("cam", [], params))
    for t, frame in _decode(path, params.sample_every_s):
        run.feed(t, frame, model.detect(frame, conf=params.confidence))
    run.span_s += params.sample_every_s
    return run


_NOISE: list[tuple[np.ndarray, np.ndarray]] = []  # sensor-noise fields, made once (each as + and - parts)


def _noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    """The image plus Gaussian sensor noise (sigma grey levels), from a pool of 8 noise fields
    at a random offset: a millisecond a frame instead of twenty."""
    if not _NOISE:
        pool_rng = np.random.default_rng(12345)
        for _ in range(8):
            noise = np.rint(pool_rng.standard_normal((1200, 1400, 3), dtype=np.float32) * sigma)
            _NOISE.append((np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8)))
    h, w = image.shape[:2]
    plus, minus = _NOISE[int(rng.integers(len(_NOISE)))]
    y, x = int(rng.integers(0, plus.shape[0] - h + 1)), int(rng.integers(0, plus.shape[1] - w + 1))
    return cv2.subtract(cv2.add(image, plus[y : y + h, x : x + w]), minus[y : y + h, x : x + w])


NOISE_VARIANTS = 4  # distinct noisy frames per still that the model sees (cycled over the hold)


def _hold_still(model, image: np.ndarray, hold_s: float, seed: int) -> tuple[_Run, list[Detections]]:
    """A photo held in front of the camera for hold_s: every sample is the photo plus fresh
    sensor noise; the model runs on NOISE_VARIANTS of them, cycled (its boxes on a still differ
    only by the noise)."""
    rng = np.random.default_rng(seed)
    variants = [_noisy(image, rng) for _ in range(NOISE_VARIANTS)]
    dets = [model.detect(v, conf=PARAMS.confidence) for v in variants]
    run = _Run(OpenBurningJudge("cam", [], PARAMS))
    for i, t in enumerate(_ticks(0, hold_s)):
        run.feed(t, variants[i % NOISE_VARIANTS], dets[i % NOISE_VARIANTS])
    run.span_s = hold_s
    return run, dets


NEGATIVE_SECONDS: dict[str, float] = {}  # camera-seconds of negative footage judged, for the report


def _report_negatives(name: str, runs: list[_Run]) -> None:
    seconds = sum(r.span_s for r in runs)
    alerts = sum(len(r.starts) for r in runs)
    NEGATIVE_SECONDS[name] = seconds
    total_h = sum(NEGATIVE_SECONDS.values()) / 3600
    held = [c for r in runs for c in r.persistent_unconfirmed]
    fires = [c for c in held if c[0] == "fire"]
    print(f"\n[open_burning] negatives {name}: {alerts} false alerts in {seconds:.0f} camera-s "
          f"(running total {total_h:.3f} camera-h); samples with a persistent unconfirmed region: "
          f"{len(held)} ({len(fires)} fire), max flicker {max((c[1] for c in held), default=0)}, "
          f"max shape change {max((c[2] for c in held), default=0)}, "
          f"max of both on fire regions ({max((c[1] for c in fires), default=0)}, {max((c[2] for c in fires), default=0)})")


def test_aerial_vegetation_fire_gives_one_episode_within_10_s(fire_model):
    run = _play(fire_model, MEDIA / "aerial_vegetation_fire_smoke.mp4")
    assert len(run.starts) == 1, [type(e).__name__ for e in run.events]
    assert not any(isinstance(e, EpisodeEnded) for e in run.events)  # the fire burns to the end
    start = run.starts[0]
    alert_s = (start.alert - T0).total_seconds()
    # smoke is visible from the first frame and flames from 1.5 s: the alert counts from 0
    assert alert_s <= 10.0
    region = start.details["regions"][0]
    assert region["label"] == "fire" and region["persistence"] >= PARAMS.persist_min_hits
    assert start.details["smoke"] and start.details["smoke"][0]["label"] == "smoke"
    costs = np.array(run.judge_s) * 1000
    print(f"\n[open_burning] aerial: alert at {alert_s:.1f} s of video (smoke visible from 0 s, flames from 1.5 s), "
          f"onset {(start.onset - T0).total_seconds():.1f} s; cues flicker {region['flicker']} "
          f"shape {region['shape_change']} colour {region['colour']} persistence {region['persistence']}; "
          f"judge per sample (cues, matching, zones) median {np.median(costs):.2f} ms, max {costs.max():.2f} ms")


def test_negative_footage_gives_no_episode(fire_model):
    runs = [_play(fire_model, MEDIA / "vtest.avi"), _play(fire_model, MEDIA / "bikes.mp4")]
    assert [len(r.starts) for r in runs] == [0, 0]
    _report_negatives("vtest.avi + bikes.mp4", runs)


def test_photos_held_as_stills_give_no_episode(fire_model):
    """zidane.jpg (the model sees "smoke" in it on every sample) and bus.jpg. And photos of real
    fires, pan-fire.jpg and fire-basket.jpg: the model sees fire at ~0.9 on every sample, but a
    picture of a fire does not flicker or change shape, so it is not confirmed (the decision
    documented in open_burning.py: a fire-coloured thing that never changes is a picture, a sign
    or a lamp)."""
    runs = []
    for seed, name in enumerate(["zidane.jpg", "bus.jpg", "pan-fire.jpg", "fire-basket.jpg"]):
        run, dets = _hold_still(fire_model, cv2.imread(str(MEDIA / name)), 60.0, seed)
        labels = {lab for d in dets for lab in d.labels}
        if name == "zidane.jpg":
            assert "smoke" in labels  # the false positive is there: the judge must reject it
        if name in ("pan-fire.jpg", "fire-basket.jpg"):
            assert "fire" in labels and max(float(d.confidence.max()) for d in dets) > 0.8
            assert any(c[0] == "fire" for c in run.persistent_unconfirmed)  # persistent: the decision refused it
        assert run.starts == [], name
        runs.append(run)
    _report_negatives("4 photos held 60 s", runs)


def _default_frames() -> list[Path]:
    """Dataset frames whose label is `default`: a whole-frame box on a scene with no fire."""
    paths = []
    for label in sorted(DATASET.glob("*/labels/*.txt")):
        lines = label.read_text().split("\n")
        if any(line.startswith("1 ") for line in lines):
            paths.append(next(label.parent.parent.joinpath("images").glob(label.stem + ".*")))
    return paths


def test_dataset_no_fire_frames_held_as_stills_give_no_episode(fire_model):
    """Each `default` frame held for 10 s with fresh noise every sample. The model sees smoke in
    many of them (up to 0.81: fogger scenes, washed-out CCTV), steadily: the worst case for
    persistence. One model run per frame (its boxes on a still differ only by the noise)."""
    frames = _default_frames()
    assert len(frames) >= 150
    runs, flagged = [], 0
    rng = np.random.default_rng(0)
    for path in frames:
        image = cv2.imread(str(path))
        variants = [_noisy(image, rng) for _ in range(NOISE_VARIANTS)]
        dets = fire_model.detect(variants[0], conf=PARAMS.confidence)
        flagged += len(dets) > 0
        run = _Run(OpenBurningJudge("cam", [], PARAMS))
        for i, t in enumerate(_ticks(0, 10.0)):
            run.feed(t, variants[i % NOISE_VARIANTS], dets)
        run.span_s = 10.0
        runs.append(run)
    assert flagged >= 20  # the model does fire on these scenes: the judge is what rejects them
    assert [p.name for p, r in zip(frames, runs) if r.starts] == []
    print(f"\n[open_burning] dataset `default` frames: {len(frames)} held 10 s each; model boxes >= "
          f"{PARAMS.confidence} on {flagged}")
    _report_negatives(f"{len(frames)} dataset no-fire frames held 10 s", runs)


def _sequence(name: str, first: int, last: int) -> list[tuple[int, Path]]:
    found = []
    for p in DATASET.glob(f"*/images/{name}-*"):
        index = int(re.search(r"mp4-(\d+)_", p.name).group(1))
        if first <= index <= last:
            found.append((index, p))
    return sorted(found)


def _play_sequence(model, name: str, first: int = 0, last: int = 10**6) -> _Run:
    """Consecutive frames of one source video of the dataset (about 1 s apart in the source),
    shown 0.5 s each as in the eval set and the fit: media times run about twice real speed."""
    run = _Run(OpenBurningJudge("cam", [], PARAMS))
    frames = _sequence(name, first, last)
    assert len(frames) >= 5, name
    for k, (_, path) in enumerate(frames):
        frame = cv2.imread(str(path))
        run.feed(k * STEP, frame, model.detect(frame, conf=PARAMS.confidence))
    run.span_s = len(frames) * STEP
    return run


def _img_run(first: int, last: int) -> list[tuple[int, Path]]:
    found = {}
    for p in DATASET.glob("*/images/img_*"):
        m = re.match(r"img_(\d+)_jpg", p.name)
        if m and first <= int(m.group(1)) <= last:
            found.setdefault(int(m.group(1)), p)  # the splits hold copies: one each
    return sorted(found.items())


@pytest.mark.parametrize(
    ("name", "first", "last", "fires"),
    [
        ("fire2_mp4", 28, 45, 1),  # night CCTV, a fire against a street-side wall (flames white: colour ~0)
        ("newsmoke2_mp4", 40, 49, 0),  # a security fogger; the red "BANDIT" logo is "fire" 0.3-0.7 throughout
    ],
)
def test_dataset_cctv_sequences(fire_model, name, first, last, fires):
    """A static camera at night, and a persistent red logo the model calls fire with fogger fog
    (which it calls smoke) churning behind it: smoke_alone is on, and the fog stays quiet."""
    run = _play_sequence(fire_model, name, first, last)
    assert len(run.starts) == fires
    held = [c for c in run.persistent_unconfirmed if c[0] == "fire"]
    if not fires:  # quiet because the judge held the model's persistent "fire" back, not because it saw none
        assert held, f"{name}: the model found no persistent fire: the sequence no longer tests the judge"
    print(f"\n[open_burning] {name}: {len(run.starts)} episode(s)"
          + (f", alert at {(run.starts[0].alert - T0).total_seconds():.1f} s; "
             f"cues {({k: v for k, v in run.starts[0].details['regions'][0].items() if k != 'samples'})}" if fires else "")
          + f"; persistent unconfirmed samples {len(run.persistent_unconfirmed)}, max score {max((c[3] for c in run.persistent_unconfirmed), default=0):.3f}")


OLD_MIN_SHAPE_CHANGE = 0.1  # the hand-set rule this decision replaced required shape change >= 0.1 AND flicker >= 6


def test_large_steady_close_fire_is_confirmed(fire_model):
    """fire1_mp4: a large fire seen close (its box covers most of the frame), so its box hardly
    changes size (median shape change under 0.1: the old rule's veto) while it persists and
    flickers hard. The fitted decision confirms it within 10 s (media time)."""
    run = _play_sequence(fire_model, "fire1_mp4")
    assert run.starts, "the steady close fire was never confirmed"
    start = run.starts[0]
    region = start.details["regions"][0]
    alert_s = (start.alert - T0).total_seconds()
    assert region["label"] == "fire" and alert_s <= 10.0
    assert region["shape_change"] < OLD_MIN_SHAPE_CHANGE  # the old rule would have vetoed it here
    assert region["flicker"] > 20 and region["features"]["area_share"] > np.log10(0.3)  # flickers hard; over 30% of the frame
    assert region["decision_score"] >= region["threshold"] == SHIPPED.kinds["fire"].threshold
    print(f"\n[open_burning] steady close fire fire1_mp4: alert at {alert_s:.1f} s; cues "
          f"{({k: v for k, v in region.items() if k not in ('samples', 'features')})}")


def test_smoke_led_burning_is_confirmed_within_30_s(fire_model):
    """Black smoke from a fire over buildings, the flames hidden (img_800-828, labelled smoke
    throughout): confirmed within 30 s of the source (15 s of media: frames ~1 s apart shown 0.5 s
    each). The region that confirms is the model's "fire" box at the smoke's base, not the smoke
    box: the smoke score cannot tell this smoke from the fit's fogger fog (docs/reports/open_burning.md)."""
    run = _Run(OpenBurningJudge("cam", [], PARAMS))
    frames = _img_run(800, 828)
    assert len(frames) == 29
    for k, (_, path) in enumerate(frames):
        frame = cv2.imread(str(path))
        run.feed(k * STEP, frame, fire_model.detect(frame, conf=PARAMS.confidence))
    assert len(run.starts) == 1
    start = run.starts[0]
    alert_s = (start.alert - T0).total_seconds()
    assert alert_s <= 30.0 / 2
    region = start.details["regions"][0]
    assert region["decision_score"] >= region["threshold"]
    assert start.details["rule"]["decision_version"] == SHIPPED.version
    print(f"\n[open_burning] smoke-led img_800-828: alert at {alert_s:.1f} s media; region {region['label']}, cues "
          f"{({k: v for k, v in region.items() if k not in ('samples', 'features')})}")
