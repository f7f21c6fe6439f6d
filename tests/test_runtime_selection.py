"""The runtime and precision each model runs on are chosen by measurement on real frames, and a
candidate that detects differently from the shipped graph never runs (epatrol/models/selection.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from epatrol.models import derive, runners, selection
from epatrol.models.detector import ObjectDetector, load_detector, tensor_for
from epatrol.models.manifest import file_sha256, get_spec
from epatrol.models.reference_frames import load_reference_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS = SHARED / "models"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(derive.ENV_CACHE_DIR, raising=False)  # the folder given here, not the session's
    return tmp_path / "cache"


def _reference(name: str) -> ObjectDetector:
    return load_detector(name, MODELS, threads=1, device="cpu")


def test_the_chosen_runtime_agrees_with_the_shipped_graph_on_real_frames(cache) -> None:
    detector = load_detector("yolov8n_int8", MODELS, threads=1, device="cpu", runtime="auto", cache_dir=cache)
    choice = detector.choice
    assert choice is not None and choice.frames >= 4  # photos and video frames from ../shared/media
    assert choice.rows[0].reason == "reference" and "int8-dynamic (shipped)" in choice.rows[0].candidate
    chosen = next(r for r in choice.rows if r.key == choice.chosen)
    assert chosen.accepted
    assert chosen.ms == min(r.ms for r in choice.rows if r.accepted)  # the fastest that agrees
    # The float graph folded from the int8 file is always a candidate, and the table names the CPU.
    assert any("float-folded" in r.candidate for r in choice.rows)
    assert choice.machine["cpu"] and "onnxruntime" in choice.machine["runtimes"]
    # What it finds on bus.jpg is what the shipped graph finds.
    bus = cv2.imread(str(SHARED / "media" / "bus.jpg"))
    assert selection.disagreement(_reference("yolov8n_int8").detect(bus), detector.detect(bus)) is None
    found = detector.detect(bus)
    assert {"bus", "person"} <= {found.class_names[c] for c in found.class_id}
    assert detector.runs_on == f"{detector.runtime} {detector.precision} ({detector.graph})"


def test_a_candidate_that_detects_differently_is_rejected(cache, tmp_path) -> None:
    spec = get_spec("yolov8n_int8")
    shipped = MODELS / spec.file
    folded = derive.float_graph(spec, shipped, cache).path(cache)
    # The same graph with the first conv's weights scaled: a real graph that runs, but wrongly.
    model = onnx.load(str(folded))
    first_conv = next(n for n in model.graph.node if n.op_type == "Conv")
    weights = next(i for i in model.graph.initializer if i.name == first_conv.input[1])
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * 1.6, weights.name))
    broken = tmp_path / "broken.onnx"
    onnx.save(model, str(broken))
    found = [
        selection.reference(shipped, "cpu", int8=True),
        runners.Candidate(runners.ONNXRUNTIME, "CPU", "fp32", "broken", broken),
        runners.Candidate(runners.ONNXRUNTIME, "CPU", "fp32", derive.FLOAT_FOLDED, folded),
    ]
    frames = load_reference_frames(None, MODELS)[:4]  # photos of people, vehicles and fire

    def detect(runner, frame):
        return ObjectDetector(spec, runner).detect(frame, conf=selection.CONFIDENCE)

    choice, chosen = selection.choose(spec, found, frames, detect, lambda f: tensor_for(spec, f), cache, 1)
    broken_row = next(r for r in choice.rows if "broken" in r.candidate)
    assert not broken_row.accepted
    assert "no match" in broken_row.reason or "scores" in broken_row.reason
    assert chosen.graph != "broken"


def test_a_missing_runtime_falls_back_to_what_is_installed(cache, monkeypatch) -> None:
    monkeypatch.setattr(runners, "openvino_available", lambda: False)
    monkeypatch.setattr(selection, "openvino_cpu_precisions", lambda: set())
    detector = load_detector("fire_smoke", MODELS, threads=1, device="cpu", runtime="auto", cache_dir=cache)
    assert detector.runtime.startswith("onnxruntime")
    assert all(not r.candidate.startswith("openvino") for r in detector.choice.rows)
    # Asking for a runtime that is not there is a clear error, not a crash.
    with pytest.raises(Exception, match="openvino.*not installed"):
        runners.open_runner(runners.Candidate(runners.OPENVINO, "CPU", "bf16", "shipped", MODELS / "FastestDet.onnx"), 1)


def test_the_choice_is_measured_once_per_machine_and_cached(cache) -> None:
    first = load_detector("fastestdet", MODELS, threads=1, device="cpu", runtime="auto", cache_dir=cache)
    assert (cache / selection.CACHE_FILE).is_file()
    second = load_detector("fastestdet", MODELS, threads=1, device="cpu", runtime="auto", cache_dir=cache)
    assert second.choice.rows == first.choice.rows  # the same figures: read back, not measured again
    again = load_detector("fastestdet", MODELS, threads=1, device="cpu", runtime="auto", cache_dir=cache, remeasure=True)
    assert [r.key for r in again.choice.rows] == [r.key for r in first.choice.rows]


def test_without_reference_frames_the_shipped_graph_runs(cache, tmp_path, caplog) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "FastestDet.onnx").symlink_to(MODELS / "FastestDet.onnx")
    detector = load_detector("fastestdet", models, threads=1, device="cpu", runtime="auto", cache_dir=cache)
    assert detector.choice is None and detector.runtime == "onnxruntime CPU" and detector.graph == "shipped"
    assert "no reference frames" in caplog.text


def test_the_derived_graph_records_its_checksum_and_parent_and_is_rebuilt_when_damaged(cache) -> None:
    spec = get_spec("yolov8n_int8")
    record = derive.float_graph(spec, MODELS / spec.file, cache)
    path = record.path(cache)
    assert record.sha256 == file_sha256(path)
    assert record.parent_sha256 == spec.sha256 == file_sha256(MODELS / spec.file)
    assert record.parent_file == spec.file and record.kind == derive.FLOAT_FOLDED
    assert derive.read_records(cache)[record.file]["sha256"] == record.sha256
    assert not derive.is_dynamic_int8(path)
    path.write_bytes(path.read_bytes()[:1000])  # a damaged cache file
    rebuilt = derive.float_graph(spec, MODELS / spec.file, cache)
    assert rebuilt.sha256 == record.sha256 == file_sha256(path)


def test_the_folded_graph_gives_the_int8_graphs_scores(cache) -> None:
    spec = get_spec("yolov8n_int8")
    folded = derive.float_graph(spec, MODELS / spec.file, cache).path(cache)
    bus = cv2.imread(str(SHARED / "media" / "bus.jpg"))
    tensor = tensor_for(spec, bus)
    shipped = runners.open_runner(selection.reference(MODELS / spec.file, "cpu", int8=True), 1).run(tensor)
    float_out = runners.open_runner(runners.Candidate(runners.ONNXRUNTIME, "CPU", "fp32", derive.FLOAT_FOLDED, folded), 1).run(tensor)
    assert shipped.shape == float_out.shape
    # Each class's best score in the frame (bus 0.82, person 0.90 ...) moves by quantisation noise only.
    best_shipped, best_float = shipped[0, 4:].max(axis=1), float_out[0, 4:].max(axis=1)
    assert best_shipped.max() > 0.8
    assert np.abs(best_shipped - best_float).max() < 0.05


def test_bf16_is_not_offered_for_a_model_whose_fitted_decision_it_changed(cache) -> None:
    """fire_smoke's bf16 agreed on the reference frames but confirmed 2 fewer of the eval's 20 fires
    (the open-burning decision reads its fp32 scores): the manifest rules it out."""
    assert get_spec("fire_smoke").reduced_precision is False and get_spec("yolov8n_int8").reduced_precision
    found = selection.candidates(MODELS / "light_yolov8_flame_416.onnx", "cpu", None, bf16=False)
    assert found[0].graph == derive.SHIPPED and all(c.precision != "bf16" for c in found)
    detector = load_detector("fire_smoke", MODELS, threads=1, device="cpu", runtime="auto", cache_dir=cache)
    assert detector.precision == "fp32" and all("bf16" not in r.candidate for r in detector.choice.rows)


def test_openvino_answers_many_camera_threads_at_once_as_it_answers_one(cache) -> None:
    """More callers than infer requests: each waits for a free request (made and warmed at load,
    one at a time) and gets its own frame's answer, the same as a lone call gives."""
    from concurrent.futures import ThreadPoolExecutor

    spec = get_spec("fire_smoke")
    candidate = runners.Candidate(runners.OPENVINO, "CPU", "fp32", "shipped", MODELS / spec.file)
    detector = ObjectDetector(spec, runners.open_runner(candidate, threads=1, streams=2))
    frames = load_reference_frames(None, MODELS)[:6]
    alone = [detector.detect(f) for f in frames]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(detector.detect, frames * 3))
    for i, found in enumerate(together):
        assert selection.disagreement(alone[i % len(frames)], found) is None, i
    assert any(len(found) for found in alone)  # the photos of fire give the model something to find


def test_a_stalled_inference_is_reported_and_its_late_answer_still_used(caplog, monkeypatch) -> None:
    import threading
    from concurrent.futures import Future

    from epatrol.models import service

    monkeypatch.setattr(service, "STALL_REPORT_S", 0.2)
    late: Future = Future()
    threading.Timer(0.7, late.set_result, ["answer"]).start()
    with caplog.at_level("ERROR", logger="epatrol.models.service"):
        assert service.inference_result(late, "camera c1's inference on fire_smoke") == "answer"
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) >= 2 and all("camera c1's inference on fire_smoke has not answered in" in m for m in reports)
