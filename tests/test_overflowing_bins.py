"""Overflowing bins: the trained classifier on real held-out photos, its robustness to light, the
bin-presence precondition (no bin in the zone: never an alert, a configuration problem in
/healthz), the judge through the real pipeline on clips built from real photos and footage, the
config's checks, and the training code on a small subset of the real data set."""

from __future__ import annotations

import hashlib
import itertools
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import MODELS, SHARED, camera_entry, make_config
from fastapi.testclient import TestClient

from epatrol.api.app import create_app
from epatrol.config import ConfigError, OverflowingBins, parse_config
from epatrol.detectors.bins import bin_embedding_runtime
from epatrol.detectors.bins.bin_classifier import (
    BinClassifier,
    BinEmbedder,
    BinParameters,
    load_classifier,
)
from epatrol.detectors.bins.bin_reference import structure, structure_change
from epatrol.detectors.bins.overflowing_bins import (
    OverflowingBinsJudge,
    covered_fraction,
    crop_box,
)
from epatrol.detectors.episodes import EpisodeEnded, EpisodeStarted
from epatrol.detectors.suppression import Dismissed
from epatrol.detectors.zones import ZoneShape
from epatrol.migrations import open_database
from epatrol.models import runners
from epatrol.models.detections import Detections
from epatrol.streams.packets import Sample
from epatrol.supervisor import run_cameras
from epatrol.training.bin_training import read_dataset, split, train
from epatrol.training.bins_presence_data import negative_crops
from epatrol.training.bins_runtime import WholeGraph
from sample_videos.build import encode_h264
from sample_videos.scenes.bins import (
    NO_BIN,
    NOISE_SIGMA,
    ZONE,
    build_bin_clip,
    camera_view,
    light_at,
    no_bin_frames,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bins-clean-dirty"
# Measured on the full held-out split (413 photos): accuracy 0.83 (docs/reports/overflowing_bins.md).
# This test scores a fixed sample of 30 clean + 30 dirty of them (first by name hash), measured
# 0.817 (49 of 60); the floor allows two more misses than measured, no more.
ACCURACY_SAMPLE = 30
ACCURACY_FLOOR = 0.78
LIGHTS = ("dusk", "headlights", "shadow", "rain")
# Presence: a fixed sample of 20 held-out bin photos and 20 no-bin crops of held-out sources.
# Measured on the whole held-out side: 0.986 of 413 bin photos found, 0.995 of 211 crops rejected;
# on this sample 20/20 found and 19/20 rejected. The floors allow one more miss each.
PRESENCE_SAMPLE = 20
PRESENCE_FOUND_FLOOR = 0.95
PRESENCE_REJECTED_FLOOR = 0.9


def _noisy(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise as the clips have it."""
    return np.clip(frame + rng.normal(0.0, NOISE_SIGMA, frame.shape), 0, 255).astype(np.uint8)


def _by_name_hash(photos):
    return sorted(photos, key=lambda p: hashlib.sha256(p.path.name.encode()).hexdigest())


@pytest.fixture(scope="module")
def dataset(shared_dir):
    if not DATA.is_dir():
        pytest.fail(f"the bins data set is missing: expected {DATA}")
    return read_dataset(DATA)


@pytest.fixture(scope="module")
def held_out(dataset):
    return split(dataset[0])[1]


@pytest.fixture(scope="module")
def classifier(shared_dir):
    return load_classifier(MODELS)


def test_dataset_is_deduplicated_and_split_by_scene(dataset, held_out):
    photos, report = dataset
    assert report.files == 1615
    assert report.duplicates_removed + 2 * report.conflicting_labels_dropped >= 40  # "about 44" byte-identical copies
    assert len({p.sha256 for p in photos}) == len(photos)  # no two photos with the same bytes remain
    train_set, test_set = split(photos)
    assert {p.group for p in train_set}.isdisjoint({p.group for p in test_set})
    # Street View headings of one spot (00123_04, 00123_05) never straddle the split
    spots = lambda ps: {p.path.stem.split("_")[0] for p in ps if p.source == "streetview"}  # noqa: E731
    assert spots(train_set).isdisjoint(spots(test_set))
    assert [p.path for p in test_set] == [p.path for p in held_out]
    assert 0.2 < len(test_set) / len(photos) < 0.32


def test_classifier_accuracy_on_held_out_photos(held_out, classifier):
    sample = _by_name_hash([p for p in held_out if p.label == 0])[:ACCURACY_SAMPLE] + _by_name_hash([p for p in held_out if p.label == 1])[:ACCURACY_SAMPLE]
    right = [(classifier.score(cv2.imread(str(p.path))) >= classifier.threshold) == bool(p.label) for p in sample]
    assert np.mean(right) >= ACCURACY_FLOOR, f"{np.mean(right):.2f} on {len(sample)} held-out photos"


def test_light_changes_leave_the_zone_reference_unchanged(held_out):
    """The structure the judge compares with its clean reference barely moves under dusk,
    headlights, a shadow or rain (sensor noise included), while another bin scene is far away."""
    photos = _by_name_hash([p for p in held_out if p.label == 0])[:6]
    limit = OverflowingBins().min_change
    rng = np.random.default_rng(0)
    for p in photos:
        view = camera_view(p.path)
        ref = structure(_noisy(view, rng))
        for light in LIGHTS:
            for t in (2.0, 5.0, 8.0, 11.0, 14.0):  # dusk falls over 2..10 s; shadow and glare sweep
                change = structure_change(ref, structure(_noisy(light_at(view.astype(np.float32), light, t, 15.0, rng), rng)))
                assert change is None or change < limit, f"{p.path.name} {light}: change {change:.3f} >= min_change {limit}"
    others = [structure_change(structure(camera_view(a.path)), structure(camera_view(b.path))) for a, b in zip(photos, photos[1:])]
    assert min(others) > limit


def test_classifier_mostly_keeps_its_verdict_under_light_changes(held_out, classifier):
    photos = _by_name_hash(held_out)[:10]
    kept, total = 0, 0
    rng = np.random.default_rng(1)
    for p in photos:
        view = camera_view(p.path)
        verdict = classifier.score(view) >= classifier.threshold
        for light in LIGHTS:
            frame = _noisy(light_at(view.astype(np.float32), light, 9.0, 12.0, rng), rng)  # dusk: 73% of the way down
            kept += (classifier.score(frame) >= classifier.threshold) == verdict
            total += 1
    assert kept / total >= 0.75, f"verdict kept in {kept} of {total} light changes"


def _sample(frame: np.ndarray, t: float) -> Sample:
    return Sample("bins-test", frame, datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=t), t, True)


def test_a_person_in_front_of_the_bin_skips_the_sample(held_out, classifier):
    dirty = camera_view(_by_name_hash([p for p in held_out if p.label == 1])[0].path)
    params = OverflowingBins(sample_every_s=1, persist_window_s=10, persist_min_hits=2)
    zone = ZoneShape("bin", ZONE)
    judge = OverflowingBinsJudge("bins-test", [zone], params, classifier=classifier)
    h, w = dirty.shape[:2]
    box = crop_box(zone, w, h, params.margin)
    names = ("person", "car")
    person = Detections(np.array([[0, 0, w, h]], np.float32), np.array([0.9], np.float32), np.array([0], np.int32), names)
    assert covered_fraction(box, person.xyxy) == 1.0
    for t in range(5):
        assert judge.process(_sample(dirty, t), person) == []
    assert all(look.score is None for look in judge.states["bin"].looks)


def test_a_dismissed_bin_scene_is_not_flagged_again_but_new_rubbish_is(held_out, classifier):
    """An officer dismissed the zone's event ("that bin always looks like this"): the same scene
    becomes the zone's clean reference and stays quiet; a different, overflowing scene in the same
    zone (another held-out photo standing in for new rubbish) still alerts."""
    views = (camera_view(p.path) for p in _by_name_hash([p for p in held_out if p.label == 1]))
    dirty = list(itertools.islice((v for v in views if classifier.score(v) >= classifier.threshold + 0.1), 2))  # the first two only
    assert len(dirty) == 2
    zone = ZoneShape("bin", ZONE)
    params = OverflowingBins(sample_every_s=1, persist_window_s=10, persist_min_hits=2, end_after_s=5)
    judge = OverflowingBinsJudge("bins-test", [zone], params, classifier=classifier)
    none = Detections.empty(("person",))
    rng = np.random.default_rng(3)
    events = [e for t in range(4) for e in judge.process(_sample(_noisy(dirty[0], rng), t), none)]
    started = [e for e in events if isinstance(e, EpisodeStarted)]
    assert len(started) == 1
    box = started[0].detections.xyxy  # the crop the officer saw, as recorded with the event
    judge.suppressions.load([Dismissed(event_id=7, zone="bin", violation="overflowing_bins", boxes=box)])
    later = [e for t in range(4, 30) for e in judge.process(_sample(_noisy(dirty[0], rng), t), none)]
    assert not [e for e in later if isinstance(e, EpisodeStarted)]
    assert [e for e in later if isinstance(e, EpisodeEnded)]  # the dismissed episode ran out
    assert judge.states["bin"].accepted == {7}
    rubbish = [e for t in range(30, 40) for e in judge.process(_sample(_noisy(dirty[1], rng), t), none)]
    assert [e for e in rubbish if isinstance(e, EpisodeStarted)]


def _clip(path: Path, photo: Path, light: str, seconds: float) -> Path:
    return build_bin_clip(path, photo, light, seconds, seed=7, force=True)


def test_judge_alerts_on_overflowing_bins_and_not_on_clean_ones_under_light_changes(held_out, classifier, detector, tmp_path):
    """The real pipeline on held photos: two overflowing bins alert once each, two clean ones at
    dusk and under passing headlights never do. The photos are the first held-out ones (by name
    hash) that the classifier scores right by a margin of 0.15 as a camera delivers them (the
    first frame of a short H.264 clip, whose compression alone moves some scores by 0.3): this
    checks the judge and the pipeline; the classifier's own accuracy is measured above and by
    `epatrol eval`."""
    def first_right(label: int, n: int) -> list[Path]:
        picked = []
        for p in _by_name_hash([p for p in held_out if p.label == label]):
            with av.open(str(_clip(tmp_path / "probe.mp4", p.path, "steady", 0.2))) as c:
                score = classifier.score(next(c.decode(video=0)).to_ndarray(format="bgr24"))
            if (score >= classifier.threshold + 0.15) if label else (score < classifier.threshold - 0.15):
                picked.append(p.path)
            if len(picked) == n:
                return picked
        raise AssertionError(f"fewer than {n} held-out photos of label {label} classified right")

    dirty, clean = first_right(1, 2), first_right(0, 2)
    seconds = 16.0
    clips = {
        "bins-dirty-a": _clip(tmp_path / "dirty_a.mp4", dirty[0], "steady", seconds),
        "bins-dirty-b": _clip(tmp_path / "dirty_b.mp4", dirty[1], "rain", seconds),
        "bins-clean-dusk": _clip(tmp_path / "clean_dusk.mp4", clean[0], "dusk", seconds),
        "bins-clean-lights": _clip(tmp_path / "clean_lights.mp4", clean[1], "headlights", seconds),
    }
    zone = {"name": "bin", "polygon": [list(p) for p in ZONE], "violations": ["overflowing_bins"]}
    raw = make_config(
        tmp_path / "data",
        [camera_entry(cid, path, zone) for cid, path in clips.items()],
        violations={"overflowing_bins": {"sample_every_s": 2.0, "persist_window_s": 8.0, "persist_min_hits": 3, "end_after_s": 60}},
    )
    cfg = parse_config(raw)
    db = open_database(cfg.database_url)
    workers = {w.camera.id: w for w in run_cameras(cfg, {detector.name: detector}, db, threading.Event())}
    events = db.list_events()
    assert sorted(e.camera_id for e in events) == ["bins-dirty-a", "bins-dirty-b"]
    for cid in ("bins-clean-dusk", "bins-clean-lights"):  # the clean zones learned their reference
        judge = next(j for j in workers[cid].judges if j.violation == "overflowing_bins")
        assert judge.states["bin"].reference_count >= cfg.violations.overflowing_bins.reference_samples
    for ev in events:
        assert ev.violation == "overflowing_bins" and ev.zone == "bin"
        assert ev.details["overflowing_samples"] >= 3
        assert all(s["score"] is not None for s in ev.details["samples"])
        assert ev.clip_state == "complete"


@pytest.fixture(scope="module")
def held_out_no_bin(shared_dir):
    """No-bin crops of the sources the shipped presence parameters were never fitted on."""
    crops = [c for c in negative_crops(SHARED) if c.held_out]
    assert {c.source for c in crops} == {"bikes", "fire-smoke-cctv"}
    return crops


def test_presence_classifier_on_held_out_bins_and_no_bin_crops(held_out, held_out_no_bin, classifier):
    """P(bin) on held-out bin photos (clean and dirty) and on no-bin crops of held-out sources."""
    bins = _by_name_hash(held_out)[:PRESENCE_SAMPLE]
    crops = held_out_no_bin[:: max(1, len(held_out_no_bin) // PRESENCE_SAMPLE)][:PRESENCE_SAMPLE]
    found = np.mean([classifier.assess(cv2.imread(str(p.path)))[1] >= classifier.presence_threshold for p in bins])
    rejected = np.mean([classifier.assess(c.image)[1] < classifier.presence_threshold for c in crops])
    assert found >= PRESENCE_FOUND_FLOOR and rejected >= PRESENCE_REJECTED_FLOOR, f"bins found {found:.2f}, no-bin rejected {rejected:.2f}"


def test_no_bin_crops_keep_their_scene_groups_apart(held_out_no_bin):
    crops = negative_crops(SHARED)
    assert len({c.key for c in crops}) == len(crops)
    held = {c.group for c in crops if c.held_out}
    assert held.isdisjoint({c.group for c in crops if not c.held_out})
    assert {"vtest", "dhaka"} <= {c.group for c in crops if not c.held_out}  # the two false-alert cases are learned


class _FixedScorer:
    """A scorer that always says "overflowing", with a fixed P(bin): the judge's logic alone."""

    threshold, presence_threshold = 0.5, 0.5

    def __init__(self, presence: float) -> None:
        self.presence = presence

    def assess(self, bgr):
        return 0.99, self.presence


@pytest.mark.parametrize(("presence", "alerts"), [(0.1, False), (0.9, True)])
def test_presence_is_established_first_and_a_zone_without_a_bin_never_alerts(presence, alerts):
    zone = ZoneShape("bin", ZONE)
    params = OverflowingBins(sample_every_s=1, persist_window_s=10, persist_min_hits=2, presence_samples=3)
    judge = OverflowingBinsJudge("bins-test", [zone], params, classifier=_FixedScorer(presence))
    frame = np.full((480, 640, 3), 128, np.uint8)
    events = [e for t in range(20) for e in judge.process(_sample(frame, t), Detections.empty(("person",)))]
    started = [e for e in events if isinstance(e, EpisodeStarted)]
    assert bool(started) == alerts
    assert bool(judge.problems) != alerts
    if alerts:
        assert started[0].alert == _sample(frame, 2).utc  # nothing before presence is established (3rd sample)
    else:
        assert "zone bin: no bin seen" in judge.problems[0] and judge.states["bin"].has_bin is False


def test_zones_without_a_bin_never_alert_and_show_in_healthz(held_out, classifier, detector, tmp_path):
    """Real footage and a real photo with a bins zone drawn where there is no bin (a hand cart's
    goods, a pavement with people): no event, and the zone is a configuration problem in the
    camera's health and in /healthz; an overflowing bin on another camera still alerts."""
    dirty = next(p.path for p in _by_name_hash([p for p in held_out if p.label == 1])
                 if classifier.score(camera_view(p.path)) >= classifier.threshold + 0.15)
    seconds = 8.0  # samples at 0, 2, 4, 6 s: presence is established at the third
    cameras = [camera_entry("bins-dirty", _clip(tmp_path / "dirty.mp4", dirty, "steady", seconds),
                            {"name": "bin", "polygon": [list(p) for p in ZONE], "violations": ["overflowing_bins"]})]
    for name, media, zone, _ in NO_BIN:
        frames, fps = no_bin_frames(SHARED / "media" / media, seconds, seed=5)
        path = encode_h264(frames, tmp_path / f"{name}.mp4", fps=fps)
        cameras.append(camera_entry(name, path, {"name": "bin", "polygon": [list(p) for p in zone], "violations": ["overflowing_bins"]}))
    # The cart's goods are mostly behind the men beside it: a hidden crop would only be skipped, so
    # occlusion is let through here to make the judge look at goods and people and decide presence.
    raw = make_config(tmp_path / "data", cameras, violations={"overflowing_bins": {
        "sample_every_s": 2.0, "persist_window_s": 8.0, "persist_min_hits": 3, "end_after_s": 60, "max_occlusion": 0.9}})
    cfg = parse_config(raw)
    db = open_database(cfg.database_url)
    workers = {w.camera.id: w for w in run_cameras(cfg, {detector.name: detector}, db, threading.Event())}
    assert [e.camera_id for e in db.list_events()] == ["bins-dirty"]
    body = TestClient(create_app(cfg, db, health=workers["bins-dirty"].health)).get("/healthz").json()
    assert body["status"] == "degraded"
    assert set(body["problems"]) == {name for name, *_ in NO_BIN}
    for name, *_ in NO_BIN:
        judge = next(j for j in workers[name].judges if j.violation == "overflowing_bins")
        assert judge.states["bin"].has_bin is False
        assert body["problems"][name] == judge.problems and "no bin seen" in judge.problems[0]
    assert "bins-dirty" not in body["problems"]


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"persist_min_hits": 10, "persist_window_s": 30, "sample_every_s": 10}, "overflowing_bins"),
        ({"min_score": 1.5}, "overflowing_bins.min_score"),
        ({"margin": -0.1}, "overflowing_bins.margin"),
        ({"max_occlusion": 0}, "overflowing_bins.max_occlusion"),
        ({"min_change": 2}, "overflowing_bins.min_change"),
        ({"threshold": 0.5}, "overflowing_bins.threshold"),
    ],
)
def test_config_rejects_bad_parameters_naming_the_field(tmp_path, section, field):
    zone = {"name": "bin", "polygon": [[0, 0], [1, 0], [1, 1]], "violations": ["overflowing_bins"]}
    raw = make_config(tmp_path, [camera_entry("c1", tmp_path / "x.mp4", zone)], violations={"overflowing_bins": section})
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert f"violations.{field}" in str(err.value)


def test_training_on_a_small_subset_writes_loadable_parameters(shared_dir, tmp_path):
    out = tmp_path / "bins.npz"
    result = train(DATA, out, MODELS, limit=48, log=lambda s: None)
    assert out.is_file() and result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result["dataset"]["files"] == 1615
    assert result["train"] + result["test"] <= 48
    held = result["held_out"]
    assert held["overall"]["n"] == result["held_out_camera_like"]["overall"]["n"] == result["test"]
    assert set(held) - {"overall"} <= {"streetview", "whatsapp", "web"} and len(held) >= 3
    params = BinParameters.load(out)
    assert params.weights.shape == (768,) and 0 < params.threshold < 1


# The embedding's runtime (bin_embedding_runtime.py): the judge's embedder runs on the fastest way
# that keeps the int8 reference's P(overflowing) and P(bin). Measured on the whole held-out side
# (bins_runtime.py): OpenVINO bf16 flips 1.9% of overflow and 0.3% of presence decisions; on this
# fixed sample of 12 clean + 12 dirty photos and 10 no-bin crops it flips none (one crop's P(bin)
# moves from 0.57 to 0.83, below the presence threshold either way).
RUNTIME_SAMPLE = 12
RUNTIME_CROPS = 10


@pytest.fixture(scope="module")
def reference_embedder(shared_dir):
    return BinEmbedder(MODELS, runtime="reference")


def test_the_chosen_embedding_runtime_keeps_the_reference_decisions(held_out, held_out_no_bin, classifier, reference_embedder):
    chosen = classifier.embedder
    assert chosen.choice is not None and chosen.runs_on == chosen.choice.label
    reference = BinClassifier(reference_embedder, classifier.params, classifier.presence)
    photos = _by_name_hash([p for p in held_out if p.label == 0])[:RUNTIME_SAMPLE] + _by_name_hash([p for p in held_out if p.label == 1])[:RUNTIME_SAMPLE]
    images = [cv2.imread(str(p.path)) for p in photos] + [c.image for c in held_out_no_bin[:: len(held_out_no_bin) // RUNTIME_CROPS][:RUNTIME_CROPS]]
    got = np.array([classifier.assess(i) for i in images])
    want = np.array([reference.assess(i) for i in images])
    # overflow is judged on bin photos only (a zone without a bin is never judged), presence on all
    flipped = [i for i in range(len(images)) if (got[i, 1] >= classifier.presence_threshold) != (want[i, 1] >= classifier.presence_threshold)
               or (i < len(photos) and (got[i, 0] >= classifier.threshold) != (want[i, 0] >= classifier.threshold))]
    # The contract of the choice (bin_embedding_runtime.py): P within MEAN_GAP of the reference's on
    # average, and decisions flipped as rarely as measured on the whole held-out split (at most 1.9 %:
    # one of these 34 images). Which candidate wins depends on the box's load when it measures (OpenVINO
    # bf16 on an idle box; onnxruntime fp32 under load, which flipped one borderline photo in CI,
    # P(overflowing) 0.566 -> 0.616 across the threshold).
    assert np.abs(got - want).mean(axis=0).max() <= bin_embedding_runtime.MEAN_GAP
    assert len(flipped) <= 1, f"{chosen.runs_on}: decisions differ from the reference on images {flipped}: {got[flipped]} vs {want[flipped]}"


def test_the_embedder_falls_back_to_the_int8_reference(monkeypatch, held_out, reference_embedder):
    """Without OpenVINO no OpenVINO candidate is tried; when no candidate agrees, the reference runs,
    and its cut graph gives the embedding of the whole int8 graph bit for bit."""
    monkeypatch.setattr(runners, "openvino_available", lambda: False)
    without = BinEmbedder(MODELS, runtime="auto")
    assert "openvino" not in without.runs_on
    assert [r.key for r in without.choice.rows] == ["onnxruntime/CPU/int8-dynamic/shipped", "onnxruntime/CPU/fp32/float-folded"]
    monkeypatch.setattr(bin_embedding_runtime, "MAX_GAP", -1.0)  # no candidate can agree
    fallback = BinEmbedder(MODELS, runtime="auto")
    assert fallback.runs_on == reference_embedder.runs_on == "onnxruntime CPU int8-dynamic (shipped)"
    assert [r.accepted for r in fallback.choice.rows] == [True, False]
    whole = WholeGraph(MODELS / "yolov8n_int8.onnx")
    for p in _by_name_hash(held_out)[:3]:
        img = cv2.imread(str(p.path))
        assert np.array_equal(fallback.embed(img), whole.embed(reference_embedder._tensor(img)))
