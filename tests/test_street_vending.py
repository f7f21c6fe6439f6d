"""Street vending: the real pipeline (yolov8n_int8) on clips built from real media, the scene model
on real frames, and the configuration's checks.

Clips (sample_videos/scenes/vending.py, 45 s each, the object at 8 s): a rickshaw piled with
goods stopping with its vendors among real walkers, and alone on the held road (positives);
walkers only, two men standing (waiting), a van parking, dusk with a passing shadow (hard
negatives). The test config: dwell 20 s, one sample every 2 s (keyframes only), 3-sample
short-term background.

A stall already there when the camera starts (stall_at_start; stall_leaves packs up at 8 s),
each with a clean reference photo of the empty road: the zone's `clean_reference`, and the
background the judge saves and reloads across a restart (detectors/zone_reference.py)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import av
import numpy as np
import pytest
import yaml
from conftest import camera_entry, make_config
from rtsp import footage_dir, footage_module

from epatrol.config import ConfigError, StreetVending, load_config, parse_config
from epatrol.detectors.episodes import EpisodeEnded, EpisodeStarted
from epatrol.detectors.scene_change import SceneParams, ZoneScene
from epatrol.detectors.street_vending import StreetVendingJudge
from epatrol.detectors.suppression import dismissed_from_records
from epatrol.detectors.zone_reference import ReferenceError
from epatrol.detectors.zones import ZoneShape
from epatrol.migrations import open_database
from epatrol.models.detections import Detections
from epatrol.models.manifest import COCO80_CLASSES as COCO
from epatrol.streams.packets import Sample
from epatrol.supervisor import run_cameras

DURATION_S, APPEAR_AT_S = 45.0, 8.0
VENDING = {"dwell_s": 20, "sample_every_s": 2.0, "short_term_samples": 3, "end_after_s": 30}
STEP_S = VENDING["sample_every_s"]
_lock = threading.Lock()


@pytest.fixture(scope="session")
def vending_clips(tmp_path_factory, shared_dir) -> dict[str, dict]:
    """The eight clips with their ground truth, built once per session (kept in $EPATROL_FOOTAGE_DIR)."""
    footage_module()  # puts the repo root on sys.path
    from sample_videos.scenes.vending import build_vending_scenes

    with _lock:
        records = build_vending_scenes(footage_dir(tmp_path_factory), DURATION_S, APPEAR_AT_S, shared_dir)
    return {r["camera"]: r for r in records}


@pytest.fixture(scope="session")
def vending_patrol(tmp_path_factory, vending_clips, detector):
    storage = tmp_path_factory.mktemp("vending")
    cameras = [
        camera_entry(cid, r["path"], {"name": "no-vending", "polygon": r["zone"], "violations": ["street_vending"]})
        for cid, r in vending_clips.items() if not r.get("reference")
    ]
    cfg = parse_config(make_config(storage, cameras, violations={"street_vending": VENDING}))
    db = open_database(cfg.database_url)
    workers = run_cameras(cfg, detector, db, threading.Event())
    return db, {w.camera.id: w for w in workers}


def _by_kind(clips: dict[str, dict], kind: str) -> list[str]:
    return [cid for cid, r in clips.items() if r["kind"] == kind and not r.get("reference")]


@pytest.fixture(scope="session")
def reference_patrol(tmp_path_factory, vending_clips, detector):
    """The real pipeline on the two clips whose stall is there from the first frame, each zone
    with its clean reference."""
    storage = tmp_path_factory.mktemp("vending-ref")
    clips = {cid: r for cid, r in vending_clips.items() if r.get("reference")}
    cameras = [
        camera_entry(cid, r["path"], {"name": "no-vending", "polygon": r["zone"], "violations": ["street_vending"], "clean_reference": r["reference"]})
        for cid, r in clips.items()
    ]
    cfg = parse_config(make_config(storage, cameras, violations={"street_vending": VENDING}))
    db = open_database(cfg.database_url)
    workers = run_cameras(cfg, detector, db, threading.Event())
    return db, {w.camera.id: w for w in workers}, storage


def test_positive_clips_raise_one_event_each_after_the_dwell(vending_patrol, vending_clips):
    db, workers = vending_patrol
    positives = _by_kind(vending_clips, "positive")
    assert len(positives) == 2
    for cid in positives:
        events = db.list_events(camera_id=cid)
        assert len(events) == 1, (cid, [e.details for e in events])
        ev = events[0]
        assert ev.violation == "street_vending" and ev.zone == "no-vending"
        truth_start = vending_clips[cid]["truth"][0][0]
        delay = (ev.alerted_at - ev.started_at).total_seconds()
        assert delay >= VENDING["dwell_s"], (cid, delay)  # never before the dwell
        # The change is dated from the object's arrival (plus the short-term median's lag);
        # details carry the deciding sample's media time (a file starts at 0).
        onset_media = ev.details["samples"][-1]["time_s"] - delay
        assert truth_start <= onset_media <= truth_start + 4 * STEP_S + 3, (cid, onset_media)
        print(f"{cid}: onset {onset_media:.1f} s, alert {ev.details['samples'][-1]['time_s']:.1f} s "
              f"(truth from {truth_start} s), area {ev.details['changed_area']}")
        d = ev.details
        assert d["decided_by"] and d["changed_area"] >= StreetVending().min_area
        assert d["regions"] and all(r["stayed_s"] >= VENDING["dwell_s"] for r in d["regions"])
        assert d["samples"] and d["rule"]["dwell_s"] == VENDING["dwell_s"]
        assert any(det["label"] == "changed region" for det in ev.detections)
        assert ev.clip_state == "complete"


def test_hard_negatives_raise_nothing(vending_patrol, vending_clips):
    db, workers = vending_patrol
    negatives = _by_kind(vending_clips, "hard negative")
    assert {"vending-walkers", "vending-waiting-people", "vending-parked-car", "vending-dusk-shadow"} == set(negatives)
    for cid in negatives:
        assert workers[cid].stats.samples >= DURATION_S / STEP_S - 2, cid
        assert db.list_events(camera_id=cid) == [], cid


def test_a_stall_there_from_the_first_frame_alerts_against_the_clean_reference(reference_patrol, vending_clips):
    db, workers, storage = reference_patrol
    events = db.list_events(camera_id="vending-stall-at-start")
    assert len(events) == 1, [e.details for e in events]
    ev = events[0]
    alert_media = ev.details["samples"][-1]["time_s"]
    # Change from the first full short-term window (3 samples, 4 s), then the dwell.
    assert VENDING["dwell_s"] <= alert_media <= VENDING["dwell_s"] + 3 * STEP_S + 2, alert_media
    assert (ev.alerted_at - ev.started_at).total_seconds() >= VENDING["dwell_s"]
    print(f"stall at start: alert {alert_media:.1f} s, area {ev.details['changed_area']}, attended {ev.details['attended']}")
    assert "scene change" in ev.details["decided_by"] and ev.details["changed_area"] >= StreetVending().min_area
    # The snapshot draws the event's detections: the staying change where the rickshaw stands
    # (bottom centre (490, 335), ~105 px tall) is among them.
    regions = [d["xyxy"] for d in ev.detections if d["label"] == "changed region"]
    assert any(x1 < 490 < x2 and y1 < 300 < y2 for x1, y1, x2, y2 in regions), regions
    assert ev.snapshot and (storage / ev.snapshot).is_file()
    # The camera stopped at the clip's end: its zone's learned background was saved.
    assert (storage / "scene" / "vending-stall-at-start" / "no-vending.npz").is_file()


def test_a_stall_packing_up_and_leaving_never_alerts(reference_patrol):
    db, workers, _ = reference_patrol
    assert workers["vending-stall-leaves"].stats.samples >= DURATION_S / STEP_S - 2
    assert db.list_events(camera_id="vending-stall-leaves") == []


def _judge_over(frames: list[np.ndarray], zone, **kwargs) -> tuple[StreetVendingJudge, list]:
    """The judge alone (no detector boxes) over keyframes on a fake clock, closed at the end."""
    judge = StreetVendingJudge("cam", [ZoneShape("no-vending", tuple(map(tuple, zone)))], StreetVending(**VENDING), **kwargs)
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
    events = []
    for i, frame in enumerate(frames):
        events += judge.process(Sample("cam", frame, t0 + timedelta(seconds=i * STEP_S), i * STEP_S, True), Detections.empty(COCO))
    judge.close(t0 + timedelta(seconds=len(frames) * STEP_S), "end")
    return judge, [e for e in events if isinstance(e, EpisodeStarted)]


def test_a_restart_keeps_the_learned_street_and_finds_the_stall(vending_clips, tmp_path):
    """Run 1 sees the road with walkers only and saves its background; the camera restarts with
    the stall already standing: run 2 reloads the background and finds it. Without the saved
    background (a first start, no reference) the stall is learned as the street."""
    zone = vending_clips["vending-walkers"]["zone"]
    stall = _keyframes(vending_clips["vending-stall-at-start"]["path"])
    judge, started = _judge_over(_keyframes(vending_clips["vending-walkers"]["path"]), zone, storage=tmp_path)
    assert started == []
    saved = np.load(judge.store.path("no-vending"))
    assert saved["trusted"].mean() > 0.5  # learned unchanged and unexplained in most of the zone
    _, started = _judge_over(stall, zone, storage=tmp_path)
    assert len(started) == 1 and started[0].details["changed_area"] >= StreetVending().min_area
    _, started = _judge_over(stall, zone, storage=tmp_path / "first-start")
    assert started == []


def test_a_reference_of_another_resolution_is_rescaled(vending_clips, tmp_path):
    import cv2

    clip = vending_clips["vending-stall-at-start"]
    small = tmp_path / "small.jpg"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(clip["reference"]), (320, 240), interpolation=cv2.INTER_AREA))
    _, started = _judge_over(_keyframes(clip["path"]), clip["zone"], references={"no-vending": small})
    assert len(started) == 1
    # Another shape is another view: refused (logged), the zone learns from the stream, no crash.
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), cv2.resize(cv2.imread(clip["reference"]), (640, 360)))
    _, started = _judge_over(_keyframes(clip["path"]), clip["zone"], references={"no-vending": wide})
    assert started == []


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "the file is empty"), (b"not an image", "not a readable image"), (None, "file not found"), ("blank", "blank")],
)
def test_a_bad_reference_is_an_error_naming_the_zone_and_file(tmp_path, content, why):
    import cv2

    from epatrol.judges import build_judges

    ref = tmp_path / "refs" / "empty-street.png"
    ref.parent.mkdir()
    if content == "blank":
        cv2.imwrite(str(ref), np.full((480, 640, 3), 90, np.uint8))
    elif content is not None:
        ref.write_bytes(content)
    zone = {"name": "market-gate", "polygon": [[0.3, 0.36], [0.97, 0.36], [0.97, 0.86]], "violations": ["street_vending"],
            "clean_reference": "refs/empty-street.png"}  # relative to the config file, like every path in it
    config_file = tmp_path / "epatrol.yaml"
    config_file.write_text(yaml.safe_dump(make_config(tmp_path, [camera_entry("c1", tmp_path / "x.mp4", zone)], violations={"street_vending": VENDING})))
    cfg = load_config(config_file)
    with pytest.raises(ReferenceError) as err:
        build_judges(cfg.cameras[0], cfg)
    message = str(err.value)
    assert "c1" in message and "market-gate" in message and str(ref) in message and why in message, message


def test_a_ground_truth_clip_names_its_reference_beside_the_file(tmp_path):
    from epatrol.evaluation.ground_truth import parse_ground_truth
    from epatrol.evaluation.runner import eval_config

    clip = {"path": "v/a.mp4", "camera": "cam", "zone": [[0, 0], [1, 0], [1, 1]], "violation": "street_vending"}
    gt = parse_ground_truth({"clips": [{**clip, "reference": "v/a_reference.png"}, {**clip, "path": "v/b.mp4"}]}, base_dir=tmp_path, check_files=False)
    zones = [c.zones[0] for c in eval_config(gt, tmp_path / "storage", None).cameras]
    assert zones[0].clean_reference == (tmp_path / "v" / "a_reference.png").resolve()
    assert zones[1].clean_reference is None


# --------------------------------------------------------------------------- the scene model


def _keyframes(path: str) -> list[np.ndarray]:
    """Every keyframe (one each 2 s) of a built clip, BGR."""
    with av.open(path) as c:
        stream = c.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        return [f.to_ndarray(format="bgr24") for f in c.decode(stream)]


def _run_scene(path: str, zone, boxes=None) -> tuple[ZoneScene, list[tuple[float, float, list]]]:
    scene = ZoneScene(zone, SceneParams(short_term_samples=3))
    trace = []
    for i, frame in enumerate(_keyframes(path)):
        t = i * STEP_S
        scene.update(frame, t, None if boxes is None else boxes(t))
        trace.append((t, scene.changed_fraction(), scene.stayed(t, 20.0)))
    return scene, trace


def test_scene_model_reports_what_appeared_and_stayed(vending_clips):
    clip = vending_clips["vending-tricycle-still"]
    scene, trace = _run_scene(clip["path"], clip["zone"])
    assert all(not regions for t, _, regions in trace if t < APPEAR_AT_S + 20)  # nothing before the dwell
    t, changed, regions = trace[-1]
    assert len(regions) == 1
    region = regions[0]
    x1, y1, x2, y2 = region.xyxy
    # The rickshaw stands with its bottom centre at (490, 335) and is ~105 px tall.
    assert x1 < 490 < x2 and y1 < 335 - 50 < y2
    assert APPEAR_AT_S <= region.since_s <= APPEAR_AT_S + 8
    assert region.explained == 0.0 and region.area_fraction >= 0.05


def test_scene_model_forgets_people_walking_through(vending_clips):
    clip = vending_clips["vending-walkers"]
    _, trace = _run_scene(clip["path"], clip["zone"])
    assert max(changed for _, changed, _ in trace) > 0.05  # walkers do change the zone...
    assert all(not regions for _, _, regions in trace)  # ...but never stay


def test_scene_model_ignores_dusk_and_a_passing_shadow(vending_clips):
    clip = vending_clips["vending-dusk-shadow"]
    scene, trace = _run_scene(clip["path"], clip["zone"])
    assert scene.gain > 2.0  # the light did fall (the fit brings it back up)
    assert max(changed for _, changed, _ in trace) <= 0.02
    assert all(not regions for _, _, regions in trace)


def test_scene_model_explains_a_parked_car_by_its_box(vending_clips):
    clip = vending_clips["vending-parked-car"]
    van = np.array([[382, 239, 556, 334]], np.float32)  # where yolov8n finds the van (car, 0.84)
    _, trace = _run_scene(clip["path"], clip["zone"], boxes=lambda t: van if t >= APPEAR_AT_S + 2 else None)
    regions = trace[-1][2]
    assert regions and all(r.unexplained_cells <= 0.1 * r.cells for r in regions)


def test_scene_model_relearns_the_road_a_parked_car_leaves(vending_clips):
    """The van is there when the camera starts (learned into the background), then drives off:
    the road it uncovers is no stall (no ghost)."""
    clip = vending_clips["vending-parked-car"]
    frames = _keyframes(clip["path"])
    played = frames[::-1] + [frames[0]] * 20  # van parked, leaves, then 40 s of empty road
    van = np.array([[382, 239, 556, 334]], np.float32)
    scene = ZoneScene(clip["zone"], SceneParams(short_term_samples=3))
    leaves_at = (len(frames) - 1 - APPEAR_AT_S / STEP_S - 1) * STEP_S
    for i, frame in enumerate(played):
        t = i * STEP_S
        scene.update(frame, t, van if t < leaves_at else None)
        assert scene.stayed(t, 20.0) == [], t
    assert scene.changed_fraction() <= 0.01


def test_judge_one_episode_from_arrival_to_departure(vending_clips):
    """The judge alone (scene change decides; no detector boxes), on a fake clock: the rickshaw
    arrives, stays (one start, no repeat), then leaves (one end, "cleared", at its last sighting)."""
    clip = vending_clips["vending-tricycle-still"]
    frames = _keyframes(clip["path"])
    played = frames + frames[::-1] + [frames[0]] * 25  # arrives, stays, leaves, empty road for 50 s
    params = StreetVending(**VENDING)
    judge = StreetVendingJudge("cam", [ZoneShape("no-vending", tuple(map(tuple, clip["zone"])))], params)
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
    events = []
    for i, frame in enumerate(played):
        utc = t0 + timedelta(seconds=i * STEP_S)
        events += judge.process(Sample("cam", frame, utc, i * STEP_S, True), Detections.empty(COCO))
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("EpisodeStarted") == 1 and kinds[-1] == "EpisodeEnded", kinds
    started, ended = events[0], events[-1]
    assert isinstance(started, EpisodeStarted) and isinstance(ended, EpisodeEnded)
    assert (started.alert - started.onset).total_seconds() >= params.dwell_s
    assert started.details["decided_by"] == ["scene change"] and not started.details["attended"]
    assert [d["label"] for d in started.detections.to_records()] == ["changed region"]
    left_at = t0 + timedelta(seconds=(2 * len(frames) - APPEAR_AT_S / STEP_S) * STEP_S)
    assert ended.reason == "cleared" and abs((ended.ended - left_at).total_seconds()) <= 4 * STEP_S



def test_a_dismissed_stall_is_not_flagged_again(vending_clips):
    """An officer dismissed the event of this rickshaw: the same staying change is not counted,
    and the details say which dismissed event it matched."""
    clip = vending_clips["vending-tricycle-still"]
    judge = StreetVendingJudge("cam", [ZoneShape("no-vending", tuple(map(tuple, clip["zone"])))], StreetVending(**VENDING))
    dismissed_box = {"label": "changed region", "confidence": 0.87, "xyxy": [448.0, 224.0, 528.0, 336.0]}  # the event's region
    judge.suppressions.load([dismissed_from_records(7, "no-vending", "street_vending", [dismissed_box])])
    t0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
    events = []
    for i, frame in enumerate(_keyframes(clip["path"])):
        events += judge.process(Sample("cam", frame, t0 + timedelta(seconds=i * STEP_S), i * STEP_S, True), Detections.empty(COCO))
    assert events == []
    regions = judge.scenes["no-vending"].stayed((t0 + timedelta(seconds=i * STEP_S)).timestamp(), VENDING["dwell_s"])
    assert regions  # the change did stay: only the dismissal keeps it quiet

# --------------------------------------------------------------------------- configuration


def _config_error(tmp_path, **vending) -> str:
    cam = camera_entry("c1", tmp_path / "x.mp4", {"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]], "violations": ["street_vending"]})
    with pytest.raises(ConfigError) as err:
        parse_config(make_config(tmp_path, [cam], violations={"street_vending": vending}))
    return str(err.value)


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        ({"dwell_s": 0}, ["violations.street_vending.dwell_s"]),
        ({"change_threshold": 1.5}, ["violations.street_vending.change_threshold"]),
        ({"min_area": 0}, ["violations.street_vending.min_area"]),
        ({"cell_px": 2}, ["violations.street_vending.cell_px"]),
        ({"stall_size": 3}, ["violations.street_vending.stall_size"]),
        ({"dwell_s": 6, "sample_every_s": 2, "short_term_samples": 5}, ["violations.street_vending", "dwell_s=6", "short_term_samples"]),
        ({"classes": ["umbrella", "person"]}, ["violations.street_vending", "classes and explained_classes", "person"]),
        ({"max_gap_s": 1, "sample_every_s": 2}, ["violations.street_vending", "max_gap_s=1"]),
        ({"background_tau_s": 2, "sample_every_s": 2}, ["violations.street_vending", "background_tau_s=2"]),
    ],
)
def test_bad_parameters_are_rejected_naming_the_field(tmp_path, bad, names):
    message = _config_error(tmp_path, **bad)
    for name in names:
        assert name in message, message


def test_defaults_are_valid_and_documented():
    p = StreetVending()
    assert p.dwell_s >= 60 and p.dwell_s >= p.short_term_samples * p.sample_every_s
    assert not set(p.classes) & set(p.explained_classes)
    assert all(f.description for name, f in StreetVending.model_fields.items() if name not in ("cooldown_s", "suppress_iou"))
