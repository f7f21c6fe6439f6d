"""The fire gate (epatrol/detectors/fire/fire_gate.py) on real footage, then in the pipeline.

Recall: every frame of the fire-smoke-cctv runs labelled fire or smoke, every sample of the aerial
burn and the fire photos held still must run the fire model. The cues are replayed alone (no hold,
no refresh: either only adds runs); a labelled frame they skip counts as run only if the real model
found fire or smoke in a frame the cues ran within gate_hold_s before it (the hold then runs it).

Cost: the share of samples skipped on footage with no fire, with the real model run where the gate
says so (its detections start the hold, as in the pipeline). Figures are printed (run with -s).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import camera_entry, make_config

from epatrol.config import OpenBurning, parse_config
from epatrol.detectors.fire.fire_gate import FLAME_CHANGE, FireGate
from epatrol.evidence.store.db import Database
from epatrol.migrations import open_database
from epatrol.pipeline import CameraWorker
from epatrol.training.fire_data import STEP_S, dataset_runs, decoded, held
from sample_videos.build import encode_h264
from sample_videos.scenes import quiet

PARAMS = OpenBurning()  # the defaults are what is tested
WHOLE_FRAME = {"name": "street", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "violations": ["open_burning"]}
FIRE_PHOTOS = ("fire-basket.jpg", "pan-fire.jpg")
VTEST_MIN_SKIPPED = 0.25  # measured 0.32 (walkers in red and grey keep it running the rest)
QUIET_S = 60.0


def _gate(**overrides) -> FireGate:
    kwargs = {"smoke_change": PARAMS.gate_smoke_change, "hold_s": PARAMS.gate_hold_s, "refresh_s": PARAMS.gate_refresh_s}
    return FireGate(**{**kwargs, **overrides})


@pytest.fixture(scope="module")
def fire_model(shared_dir):
    from epatrol.models.detector import load_detector

    return load_detector("fire_smoke", shared_dir / "models", threads=2)


Labelled = Iterator[tuple[np.ndarray, bool]]  # (frame, labelled fire or smoke), one per STEP_S


def _positive_sequences(shared: Path) -> Iterator[tuple[str, Callable[[], Labelled]]]:
    for name, frames in dataset_runs(shared).items():
        if any(f.classes & {0, 2} for f in frames):
            yield name, lambda frames=frames: ((cv2.imread(str(f.path)), bool(f.classes & {0, 2})) for f in frames)
    aerial = decoded(shared / "media" / "aerial_vegetation_fire_smoke.mp4", "aerial")
    yield "aerial", lambda: ((frame, True) for _, frame in aerial())
    for k, name in enumerate(FIRE_PHOTOS):
        still = held(name, cv2.imread(str(shared / "media" / name)), 10.0, seed=k)
        yield name, lambda still=still: ((frame, True) for _, frame in still())


def _last_found(model, ran: Iterable[tuple[float, np.ndarray]], cache: dict[float, bool]) -> float | None:
    """The time of the latest of these frames in which the model finds fire or smoke (cache: by time)."""
    for t, frame in reversed(list(ran)):
        if t not in cache:
            cache[t] = len(model.detect(frame, conf=PARAMS.confidence)) > 0
        if cache[t]:
            return t
    return None


def test_every_labelled_fire_or_smoke_frame_runs_the_model(shared_dir, fire_model):
    why: Counter[str] = Counter()
    missed: list[str] = []
    held_after_s: list[float] = []  # labelled samples run by the hold: time since the model's find
    for name, sequence in _positive_sequences(shared_dir):
        gate = _gate(refresh_s=1e9)  # the cues alone: found() is never called
        ran: deque[tuple[float, np.ndarray]] = deque()  # frames the cues ran, within hold_s
        found: dict[float, bool] = {}
        for i, (frame, labelled) in enumerate(sequence()):
            t = i * STEP_S
            while ran and ran[0][0] < t - PARAMS.gate_hold_s:
                ran.popleft()
            run = gate.should_run(frame, t)
            if labelled:
                reason = gate.last_reason
                if not reason and (t_found := _last_found(fire_model, ran, found)) is not None:
                    reason = "hold"
                    held_after_s.append(t - t_found)
                why[reason or "skipped"] += 1
                if not reason:
                    missed.append(f"{name}#{i}")
            if run:
                ran.append((t, frame))
    total = sum(why.values())
    print(f"\n[fire_gate] recall on {total} labelled fire/smoke samples: {(total - len(missed)) / total:.3f} "
          f"(run by the cues {why['cue']}, with no previous sample {why['first']}, by the hold {why['hold']}); "
          f"smoke_change {PARAMS.gate_smoke_change}; the hold ran them {max(held_after_s, default=0):.1f} s or less "
          f"after the model's find")
    assert missed == []
    assert why["cue"] > 0.9 * total


def test_the_smoke_threshold_keeps_a_margin_below_the_hardest_labelled_onset(shared_dir):
    """The first labelled frame of a distant truck fire (img_601-669, 5th frame) is the labelled
    sample the cues run with the least to go on: a few flame pixels (under FLAME_CHANGE) and the
    traffic moving around it. A smoke_change above its value would skip it, and the model has found
    nothing in that run before it to hold on. The default keeps 20 % below it."""
    frames = dataset_runs(shared_dir)["img_601-669"][:5]
    assert [f.classes for f in frames] == [{1}] * 4 + [{0}]
    gate = _gate()
    for i, f in enumerate(frames):
        gate.should_run(cv2.imread(str(f.path)), i * STEP_S)
    onset = gate.last_cues
    print(f"\n[fire_gate] truck fire onset: {onset}; smoke_change {PARAMS.gate_smoke_change} is {PARAMS.gate_smoke_change / onset.smoke_change:.2f} of it")
    assert onset.flame_change < FLAME_CHANGE and gate.last_reason == "cue"
    assert PARAMS.gate_smoke_change <= 0.85 * onset.smoke_change


def _skipped(gate: FireGate, samples: Iterable[tuple[str, np.ndarray]], model, found: dict[str, bool]) -> tuple[int, int]:
    """(skipped, samples): the real model runs where the gate says, and its finds start the hold."""
    skipped = n = 0
    for i, (key, frame) in enumerate(samples):
        t = i * STEP_S
        n += 1
        if not gate.should_run(frame, t):
            skipped += 1
            continue
        if key not in found:
            found[key] = len(model.detect(frame, conf=PARAMS.confidence)) > 0
        if found[key]:
            gate.found(t)
    return skipped, n


def _default_frames(shared: Path) -> list[Path]:
    return [f.path for frames in dataset_runs(shared).values() for f in frames if f.classes == {1}]


def test_the_gate_skips_samples_of_streets_with_no_fire(shared_dir, fire_model):
    # The street the bound was measured on (bikes.mp4 and the dataset's no-fire stills were only
    # printed here, never asserted: dropped to keep CI inside its time).
    skipped, n = _skipped(_gate(), decoded(shared_dir / "media" / "vtest.avi", "vtest.avi")(), fire_model, {})
    print(f"\n[fire_gate] vtest.avi: {skipped} of {n} samples skipped ({skipped / n:.2f})")
    assert skipped / n >= VTEST_MIN_SKIPPED


def test_a_check_costs_about_a_millisecond(shared_dir):
    frames = [frame for _, frame in decoded(shared_dir / "media" / "vtest.avi", "vtest")()][:40]
    for size, sized in (("768x576", frames), ("1920x1080", [cv2.resize(f, (1920, 1080)) for f in frames])):
        gate = _gate()
        start = time.perf_counter()
        for i, frame in enumerate(sized):
            gate.should_run(frame, i * STEP_S)
        ms = 1000 * (time.perf_counter() - start) / len(sized)
        print(f"\n[fire_gate] {ms:.2f} ms per check on {size}")
        assert ms < 10


def test_hold_refresh_and_a_reconnect_run_the_model(shared_dir):
    still = cv2.imread(str(_default_frames(shared_dir)[0]))
    gate = _gate(hold_s=5.0, refresh_s=20.0)
    assert gate.should_run(still, 0.0) and gate.last_reason == "first"
    assert not gate.should_run(still, 0.5)
    gate.found(0.5)
    assert all(gate.should_run(still, t) and gate.last_reason == "hold" for t in np.arange(1.0, 5.51, 0.5))
    assert not any(gate.should_run(still, t) for t in np.arange(6.0, 25.0, 0.5))
    assert gate.should_run(still, 25.5) and gate.last_reason == "refresh"
    assert gate.should_run(still, 0.0) and gate.last_reason == "first"  # media time went back: a new connection


def test_zones_limit_what_the_gate_looks_at(shared_dir):
    """The gate watches the open-burning zones' crop: a fire photo pasted outside it is not seen."""
    street = cv2.imread(str(_default_frames(shared_dir)[0]))
    fire = cv2.resize(cv2.imread(str(shared_dir / "media" / "fire-basket.jpg")), (street.shape[1] // 2, street.shape[0]))
    burning = street.copy()
    burning[:, : fire.shape[1]] = fire
    left, right = _gate(rect=(0.0, 0.0, 0.5, 1.0)), _gate(rect=(0.5, 0.0, 1.0, 1.0))
    for gate in (left, right):
        gate.should_run(street, 0.0)
        gate.should_run(street, 0.5)
    assert left.should_run(burning, 1.0) and left.last_reason == "cue"
    assert not right.should_run(burning, 1.0)


@pytest.mark.parametrize("kwargs", [{"smoke_change": 0}, {"smoke_change": 1.5}, {"hold_s": -1}, {"refresh_s": 0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        _gate(**kwargs)


# -- in the pipeline --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quiet_street(tmp_path_factory, shared_dir) -> Path:
    """bus.jpg held as a fixed street camera's view (sample_videos/scenes/quiet.py: sensor noise,
    falling light, then rain streaks)."""
    name, _, view, _ = next(s for s in quiet.scenes(shared_dir) if s[0] == "quiet_street_bus")
    path = tmp_path_factory.mktemp("quiet") / f"{name}_{QUIET_S:g}s.mp4"
    return encode_h264(quiet.quiet_frames(view(), QUIET_S, seed=7), path, fps=quiet.FPS, crf=quiet.CRF)


def _patrol(clip: Path, storage: Path, fire_model) -> tuple[CameraWorker, Database]:
    """One file camera watching open burning (the defaults: the gate on) through the real pipeline."""
    cfg = parse_config(make_config(storage, [camera_entry("fire-watch-1", clip, WHOLE_FRAME)]))
    db = open_database(cfg.database_url)
    worker = CameraWorker(cfg.cameras[0], cfg, fire_model, db, threading.Event())
    worker.run()  # a file camera: returns at its end
    return worker, db


def test_a_quiet_street_skips_most_fire_model_runs_and_raises_nothing(quiet_street, fire_model, tmp_path):
    worker, db = _patrol(quiet_street, tmp_path / "data", fire_model)
    s = worker.stats
    print(f"\n[fire_gate] pipeline, {quiet_street.name}: {s.fire_gated} of {s.samples} fire-model runs skipped ({s.fire_gated / s.samples:.2f})")
    assert s.samples >= QUIET_S / STEP_S - 2 and s.fire_gated >= 0.8 * s.samples
    assert s.gated >= s.fire_gated
    assert db.list_events() == []


def test_a_burning_field_still_raises_open_burning(footage, fire_model, tmp_path):
    worker, db = _patrol(footage["open_burning.mp4"], tmp_path / "data", fire_model)
    events = db.list_events()
    print(f"\n[fire_gate] pipeline, open_burning.mp4: {worker.stats.fire_gated} of {worker.stats.samples} fire-model runs skipped")
    assert [(e.violation, e.camera_id) for e in events] == [("open_burning", "fire-watch-1")]
