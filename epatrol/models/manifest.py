"""The models epatrol knows, their checksums, and where their files live.

Weights are data, never committed: they are read from a models directory and
checked against the SHA-256 recorded here before a session is built, so a
truncated download or a swapped file fails loudly instead of detecting nonsense.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ENV_MODELS_DIR = "EPATROL_MODELS"


class ModelError(Exception):
    """A model cannot be used: unknown name, missing file, bad checksum, bad layout."""


# COCO-80 in training order. Spelled as Ultralytics spells them (and as the
# YOLO ONNX metadata carries them); FastestDet's coco.names uses the older
# darknet spellings (motorbike, sofa, diningtable...) for the same 80 indices,
# so one spelling serves every COCO model and downstream rules.
COCO80_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup",
    "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip

FIRE_SMOKE_CLASSES: tuple[str, ...] = ("smoke", "fire")

Family = Literal["yolov8", "fastestdet"]
Task = Literal["detect", "classify"]
REGISTRY = "models.json"  # the district's own models, beside their files (epatrol/models/district.py writes it)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    sha256: str
    family: Family
    input_size: tuple[int, int]  # (w, h) the network expects
    input_name: str
    class_names: tuple[str, ...]
    licence: str
    channel_order: Literal["rgb", "bgr"]
    letterbox: bool  # False: plain (aspect-distorting) resize
    # bf16 may run it (selection.py) when its detections agree; False where a judge's fitted
    # decision reads this model's scores closely enough that bf16 changed the eval's outcome.
    reduced_precision: bool = True
    task: Task = "detect"  # "classify": a region classifier (epatrol/models/classifier.py)
    district: bool = False  # registered in <models dir>/models.json, not built in


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolov8n_int8",
            file="yolov8n_int8.onnx",
            sha256="83de8f0d2cd521e00ae2b138c340a03dece35b060b3898509bdc69afff417312",
            family="yolov8",
            input_size=(640, 640),
            input_name="images",
            class_names=COCO80_CLASSES,
            licence="AGPL-3.0",
            channel_order="rgb",
            letterbox=True,
        ),
        ModelSpec(
            name="yolo11n_int8",
            file="yolo11n_int8.onnx",
            sha256="5ea9b19c6c4d89041175fd2d4f9d2e1581d16f37b817021d547278fc5e2f2b58",
            family="yolov8",  # YOLO11 keeps the YOLOv8 head layout
            input_size=(320, 320),
            input_name="images",
            class_names=COCO80_CLASSES,
            licence="AGPL-3.0",
            channel_order="rgb",
            letterbox=True,
        ),
        ModelSpec(
            name="fastestdet",
            file="FastestDet.onnx",
            sha256="31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880",
            family="fastestdet",
            input_size=(352, 352),
            input_name="input.1",
            class_names=COCO80_CLASSES,
            licence="BSD-3-Clause",
            channel_order="bgr",
            letterbox=False,
        ),
        ModelSpec(
            name="fire_smoke",
            file="light_yolov8_flame_416.onnx",
            sha256="06e4ef90e41cf46c40eb3a5643723a15c6ecdc33e468991e14d9e9044be56289",
            family="yolov8",
            input_size=(416, 416),
            input_name="images",
            class_names=FIRE_SMOKE_CLASSES,
            licence="AGPL-3.0",
            channel_order="rgb",
            letterbox=True,
            # The open-burning decision was fitted on this model's fp32 scores; with OpenVINO bf16
            # the eval confirmed 12 of its 20 fires against 14 (docs/reports/runtime.md).
            reduced_precision=False,
        ),
    )
}


def get_spec(name: str, models_dir: Path | None = None) -> ModelSpec:
    """A built-in model, else one the district registered in <models_dir>/models.json
    (models_dir None: EPATROL_MODELS when set, else only the built-ins)."""
    if name in MODELS:
        return MODELS[name]
    folder = models_dir if models_dir is not None else os.environ.get(ENV_MODELS_DIR)
    district = district_specs(Path(folder)) if folder else {}
    if name in district:
        return district[name]
    where = f" (district models from {Path(folder) / REGISTRY})" if folder else ""
    raise ModelError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS) + sorted(district))}{where}")


def district_specs(models_dir: Path) -> dict[str, ModelSpec]:
    """The models registered in models_dir/models.json ({} when there is none)."""
    path = Path(models_dir) / REGISTRY
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["models"]
        return {name: _district_spec(name, e) for name, e in entries.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not a readable model registry ({exc!r}); re-register with `epatrol models add`") from exc


def _district_spec(name: str, e: dict) -> ModelSpec:
    # Ultralytics exports (detect and classify): RGB, /255; detectors letterboxed like YOLOv8.
    return ModelSpec(
        name=name, file=e["file"], sha256=e["sha256"], family="yolov8", input_size=tuple(e["input_size"]),  # type: ignore[arg-type]
        input_name=e["input_name"], class_names=tuple(e["class_names"]), licence=e["licence"], channel_order="rgb",
        letterbox=True, task=e["task"], district=True,
    )  # fmt: skip


def resolve_models_dir(configured: Path | None) -> Path:
    """The env var wins so an operator can point a deployed config at other weights."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        chosen, source = Path(env), f"{ENV_MODELS_DIR}={env}"
    elif configured is not None:
        chosen, source = Path(configured), "models.dir in the config"
    else:
        raise ModelError(f"no models directory: set models.dir in the config or {ENV_MODELS_DIR}")
    chosen = chosen.expanduser().resolve()
    if not chosen.is_dir():
        raise ModelError(f"models directory is not a directory: {chosen} (from {source})")
    return chosen


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    # Chunked so a 40 MB model does not need to sit in memory twice.
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_file(spec: ModelSpec, models_dir: Path) -> Path:
    """Absolute path of the spec's file in models_dir, after checking its SHA-256."""
    path = (Path(models_dir) / spec.file).resolve()
    if not path.is_file():
        raise ModelError(
            f"model {spec.name!r}: file not found: {path} "
            f"(set models.dir in the config or {ENV_MODELS_DIR})"
        )
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise ModelError(
            f"model {spec.name!r}: checksum mismatch for {path}: "
            f"expected {spec.sha256}, got {actual} (file corrupted or replaced)"
        )
    return path
