"""epatrol.models: manifest and checksums, sessions, and real detections from the real weights."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import re
import shutil
import threading
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from epatrol.models import (
    ModelError,
    ObjectDetector,
    create_session,
    fastestdet,
    get_spec,
    load_detector,
    yolo,
)
from epatrol.models.boxes import Geometry
from epatrol.models.manifest import (
    COCO80_CLASSES,
    ENV_MODELS_DIR,
    MODELS,
    resolve_models_dir,
    verify_model_file,
)
from epatrol.models.runners import OnnxRuntimeRunner
from epatrol.models.selection import reference
from epatrol.models.session import session_provider

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODELS_DIR = SHARED / "models"
MEDIA_DIR = SHARED / "media"


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own EPATROL_MODELS must not steer these tests.
    monkeypatch.delenv(ENV_MODELS_DIR, raising=False)


def shared_models() -> Path:
    assert MODELS_DIR.is_dir(), f"real weights expected in {MODELS_DIR} (../shared/models beside the repo)"
    return MODELS_DIR


def image(name: str) -> np.ndarray:
    frame = cv2.imread(str(MEDIA_DIR / name))
    assert frame is not None, f"cannot read {MEDIA_DIR / name}"
    return frame


@cache
def detector(name: str) -> ObjectDetector:
    # Loaded once per run: hashing and session creation dominate otherwise.
    return load_detector(name, shared_models(), threads=2, device="cpu")


def boxes_of(dets, label: str) -> np.ndarray:
    return dets.xyxy[np.array(dets.labels, dtype=object) == label] if len(dets) else np.zeros((0, 4))


def assert_inside(dets, frame: np.ndarray) -> None:
    h, w = frame.shape[:2]
    assert np.all(dets.xyxy >= 0) and np.all(dets.xyxy[:, 0::2] <= w) and np.all(dets.xyxy[:, 1::2] <= h)
    assert np.all(dets.xyxy[:, 2:] > dets.xyxy[:, :2]), "degenerate boxes"


def assert_wide_bus(dets, frame: np.ndarray) -> None:
    buses = boxes_of(dets, "bus")
    assert len(buses) >= 1, f"no bus in {dets.labels}"
    x1, y1, x2, y2 = buses[0]
    w, h = frame.shape[1], frame.shape[0]
    # bus.jpg: the bus spans nearly the whole 810 px width, in the upper-middle of the frame.
    assert (x2 - x1) > 0.7 * w, buses[0]
    assert y1 < h / 2 < y2, buses[0]


# --- real models on real photos ------------------------------------------------------------


def test_yolov8n_finds_bus_and_persons_on_bus_jpg() -> None:
    frame = image("bus.jpg")
    dets = detector("yolov8n_int8").detect(frame)
    assert_inside(dets, frame)
    assert_wide_bus(dets, frame)
    persons = boxes_of(dets, "person")
    assert len(persons) >= 3, dets.labels
    heights, widths = persons[:, 3] - persons[:, 1], persons[:, 2] - persons[:, 0]
    # Pedestrians standing: tall boxes, a good part of the frame height, feet in the lower half.
    assert np.all(heights > 1.5 * widths), persons
    assert np.all(heights > 0.25 * frame.shape[0]), persons
    assert np.all(persons[:, 3] > frame.shape[0] / 2), persons
    assert dets.confidence.dtype == np.float32 and dets.class_id.dtype == np.int32
    assert np.all(np.diff(dets.confidence) <= 0), "sorted by confidence"


def test_yolo11n_finds_the_bus() -> None:
    frame = image("bus.jpg")
    dets = detector("yolo11n_int8").detect(frame)
    assert_inside(dets, frame)
    assert_wide_bus(dets, frame)


def test_fastestdet_finds_the_bus_and_persons() -> None:
    frame = image("bus.jpg")
    dets = detector("fastestdet").detect(frame, conf=0.5)
    assert_inside(dets, frame)
    assert_wide_bus(dets, frame)
    persons = boxes_of(dets, "person")
    assert len(persons) >= 2, dets.labels
    assert np.all(persons[:, 3] - persons[:, 1] > 1.5 * (persons[:, 2] - persons[:, 0])), persons


def test_fire_model_sees_fire_in_basket_and_none_on_bus() -> None:
    fire = detector("fire_smoke")
    basket = image("fire-basket.jpg")
    dets = fire.detect(basket)
    flames = boxes_of(dets, "fire")
    assert len(flames) >= 1, dets.labels
    x1, y1, x2, y2 = flames[0]
    # The flames fill the middle of the photo, above the bin.
    h, w = basket.shape[:2]
    assert x1 < w / 2 < x2 and y1 < h / 2
    assert "fire" not in fire.detect(image("bus.jpg")).labels


def test_detector_attributes() -> None:
    det = detector("yolov8n_int8")
    assert det.name == "yolov8n_int8"
    # Computed here from the file, independently of the manifest the detector checked it against.
    assert det.sha256 == hashlib.sha256((shared_models() / "yolov8n_int8.onnx").read_bytes()).hexdigest()
    assert det.class_names == COCO80_CLASSES and len(det.class_names) == 80
    assert det.provider == "CPUExecutionProvider"
    assert detector("fire_smoke").class_names == ("smoke", "fire")


def test_detect_rejects_non_bgr_frames() -> None:
    det = detector("fastestdet")
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        det.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        det.detect(np.zeros((10, 10, 3), np.float32))


def test_detect_is_safe_from_several_threads() -> None:
    det = detector("fastestdet")
    frames = [image("bus.jpg"), image("zidane.jpg")]
    expected = [det.detect(f).to_records() for f in frames]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results[i] = [det.detect(frames[i % 2]).to_records() for _ in range(5)]
        except BaseException as e:  # a thread's failure must fail the test, not vanish with the thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == [0, 1, 2, 3], "every thread returns its detections"
    for i, runs in results.items():
        assert len(runs) == 5 and all(r == expected[i % 2] for r in runs)


# --- manifest, checksums, models directory ---------------------------------------------------


def test_manifest_checksums_match_shared_sha256sums() -> None:
    sums = {}
    for line in (SHARED / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split()
        sums[Path(rel).name] = digest
    for spec in MODELS.values():
        assert spec.sha256 == sums[spec.file], spec.name


def test_coco_names_agree_with_yolo_metadata_and_coco_names_file() -> None:
    path = shared_models() / "yolov8n_int8.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = ast.literal_eval(session.get_modelmeta().custom_metadata_map["names"])
    assert tuple(meta[i] for i in range(len(meta))) == COCO80_CLASSES
    # FastestDet's coco.names: the same 80 classes in the same order (older spellings).
    assert len((shared_models() / "coco.names").read_text().splitlines()) == len(COCO80_CLASSES)


def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    shutil.copy(shared_models() / "FastestDet.onnx", tmp_path)
    assert load_detector("fastestdet", tmp_path).name == "fastestdet"  # the dir itself is fine
    with pytest.raises(ModelError) as err:
        load_detector("yolov8n_int8", tmp_path)
    msg = str(err.value)
    assert "file not found" in msg and str(tmp_path.resolve() / "yolov8n_int8.onnx") in msg
    assert ENV_MODELS_DIR in msg


def test_corrupted_model_fails_checksum(tmp_path: Path) -> None:
    path = tmp_path / "yolov8n_int8.onnx"
    shutil.copy(shared_models() / "yolov8n_int8.onnx", path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError) as err:
        load_detector("yolov8n_int8", tmp_path)
    msg = str(err.value)
    assert "checksum mismatch" in msg and str(path.resolve()) in msg
    assert get_spec("yolov8n_int8").sha256 in msg


def test_verify_model_file_returns_absolute_path() -> None:
    path = verify_model_file(get_spec("fastestdet"), shared_models())
    assert path.is_absolute() and path.name == "FastestDet.onnx"


def test_env_var_overrides_configured_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "from_env"
    env_dir.mkdir()
    shutil.copy(shared_models() / "FastestDet.onnx", env_dir)
    monkeypatch.setenv(ENV_MODELS_DIR, str(env_dir))
    assert resolve_models_dir(tmp_path / "does-not-exist") == env_dir.resolve()
    assert load_detector("fastestdet", tmp_path / "does-not-exist").name == "fastestdet"
    # The env dir wins even over a configured dir that does have the file.
    with pytest.raises(ModelError, match=re.escape(str(env_dir.resolve() / "yolov8n_int8.onnx"))):
        load_detector("yolov8n_int8", shared_models())


def test_models_dir_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="no models directory"):
        resolve_models_dir(None)
    with pytest.raises(ModelError, match="not a directory"):
        resolve_models_dir(tmp_path / "missing")
    monkeypatch.setenv(ENV_MODELS_DIR, str(tmp_path / "missing-too"))
    with pytest.raises(ModelError, match=ENV_MODELS_DIR):
        resolve_models_dir(tmp_path)


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(ModelError) as err:
        get_spec("yolov99")
    for name in ("yolov8n_int8", "yolo11n_int8", "fastestdet", "fire_smoke"):
        assert name in str(err.value)
    with pytest.raises(ModelError, match="fastestdet"):
        load_detector("yolov99", shared_models())


def test_class_count_disagreeing_with_metadata_is_refused() -> None:
    spec = dataclasses.replace(get_spec("yolov8n_int8"), class_names=("a", "b"))
    runner = OnnxRuntimeRunner(reference(shared_models() / spec.file, "cpu", int8=True), threads=1)
    with pytest.raises(ModelError, match="metadata lists 80 classes"):
        ObjectDetector(spec, runner)


# --- sessions ---------------------------------------------------------------------------------


def test_session_devices() -> None:
    path = shared_models() / "FastestDet.onnx"
    assert session_provider(create_session(path, threads=1, device="cpu")) == "CPUExecutionProvider"
    auto = session_provider(create_session(path, device="auto"))
    assert auto in ort.get_available_providers()
    with pytest.raises(ModelError, match="unknown device"):
        create_session(path, device="tpu")  # type: ignore[arg-type]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert auto == "CPUExecutionProvider"
        with pytest.raises(ModelError, match="onnxruntime-gpu"):
            create_session(path, device="cuda")


# --- pre/post-processing units ---------------------------------------------------------------


def test_letterbox_geometry() -> None:
    frame = np.full((100, 200, 3), 7, np.uint8)  # 200 wide, 100 high
    canvas, scale, (pad_x, pad_y) = yolo.letterbox(frame, (64, 64))
    assert canvas.shape == (64, 64, 3)
    assert scale == pytest.approx(64 / 200)
    assert pad_x == 0 and pad_y == (64 - round(100 * scale)) // 2
    assert np.all(canvas[:pad_y] == 114) and np.all(canvas[64 - pad_y :] == 114)
    assert np.all(canvas[pad_y : 64 - pad_y] == 7)
    tensor, geometry = yolo.preprocess(frame, (64, 64))
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    assert tensor.max() <= 1.0 and (geometry.pad_y, geometry.scale_x) == (pad_y, scale)


def test_yolo_decode_maps_known_box_to_source() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    _, scale, (pad_x, pad_y) = yolo.letterbox(frame, (64, 64))
    geometry = Geometry(scale, scale, pad_x, pad_y, 200, 100)
    names = ("a", "b", "c")

    def column(src_box, scores):  # a source-frame box -> the network's cx, cy, w, h + scores
        x1, y1, x2, y2 = (v * scale + p for v, p in zip(src_box, (pad_x, pad_y, pad_x, pad_y)))
        return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, *scores]

    cols = [
        column((50, 20, 150, 80), (0.0, 0.9, 0.0)),  # the box to recover
        column((52, 22, 150, 80), (0.0, 0.6, 0.0)),  # same class, overlapping: suppressed
        column((50, 20, 150, 80), (0.0, 0.0, 0.7)),  # other class, same place: kept
        column((10, 10, 30, 30), (0.1, 0.0, 0.0)),  # under the threshold: dropped
        column((180, 60, 230, 120), (0.8, 0.0, 0.0)),  # runs off the frame: clipped
    ]
    output = np.array(cols, np.float32).T[None]  # 1 x (4+3) x 5
    dets = yolo.decode(output, geometry, names, conf=0.25, iou=0.45)
    assert dets.labels == ["b", "a", "c"]
    np.testing.assert_allclose(dets.xyxy[0], (50, 20, 150, 80), atol=1e-3)
    np.testing.assert_allclose(dets.xyxy[1], (180, 60, 200, 100), atol=1e-3)
    np.testing.assert_allclose(dets.xyxy[2], (50, 20, 150, 80), atol=1e-3)
    np.testing.assert_allclose(dets.confidence, (0.9, 0.8, 0.7), atol=1e-6)
    assert len(yolo.decode(output, geometry, names, conf=0.95)) == 0


def test_fastestdet_decode_maps_cell_to_source() -> None:
    grid_h = grid_w = 4
    out = np.zeros((1, 5 + 2, grid_h, grid_w), np.float32)
    out[0, 5] = 1.0  # class 0 probability 1 everywhere, objectness 0 everywhere
    row, col = 2, 1
    out[0, 0, row, col] = 0.9
    out[0, 1, row, col] = np.arctanh(0.5)  # centre half a cell right of the cell corner
    out[0, 2, row, col] = 0.0  # on the cell corner vertically
    out[0, 3, row, col] = 0.0  # sigmoid(0) = half the input width
    out[0, 4, row, col] = np.log(0.25 / 0.75)  # sigmoid -> a quarter of the input height
    frame_w, frame_h = 400, 200  # stretched to the 32x32 input, no letterbox
    _, geometry = fastestdet.preprocess(np.zeros((frame_h, frame_w, 3), np.uint8), (32, 32))
    dets = fastestdet.decode(out, geometry, (32, 32), ("x", "y"), conf=0.25)
    assert dets.labels == ["x"]
    assert dets.confidence[0] == pytest.approx(0.9**0.6)
    cx, cy = (col + 0.5) / grid_w * frame_w, row / grid_h * frame_h
    bw, bh = 0.5 * frame_w, 0.25 * frame_h
    np.testing.assert_allclose(dets.xyxy[0], (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), atol=1e-3)
