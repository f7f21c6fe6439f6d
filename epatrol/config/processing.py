"""How video is read and inferred: `streams:` (opening and reconnecting cameras), `models:`
(weights, runtime, threads) and `fast_path:` (work the detector may skip)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from epatrol.config.base import Section


class Streams(Section):
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up opening a camera after this long.")
    read_timeout_s: float = Field(10.0, gt=0, le=120, description="No data this long: the camera is frozen, reconnect.")
    reconnect_initial_s: float = Field(1.0, gt=0, le=600, description="First wait before reconnecting; doubles each try.")
    reconnect_max_s: float = Field(60.0, gt=0, le=3600, description="Longest wait between reconnect attempts.")


class Models(Section):
    dir: Path | None = Field(None, description="Folder with the ONNX weights (EPATROL_MODELS overrides).")
    detector: str = Field("yolov8n_int8", description="COCO detector from the model manifest.")
    # Measured (benchmarks/concurrency.py): on 2 cores, one single-threaded inference per core
    # sustains 1.9x the samples/s of one inference at a time on both cores.
    threads: int | None = Field(1, ge=1, le=64, description="onnxruntime intra-op threads per inference (None: all cores).")
    workers: int | None = Field(None, ge=1, le=64, description="Inferences run at once on each model's shared session (None: one per core).")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$")
    runtime: str = Field("auto", pattern="^(auto|reference)$", description="auto: measure every runtime and precision installed on real frames and run the fastest that agrees with the shipped graph (epatrol models bench); reference: the shipped graph on onnxruntime.")
    cache_dir: Path | None = Field(None, description="Derived graphs and the measured runtime choice (EPATROL_CACHE overrides; default ~/.cache/epatrol).")
    reference_frames: Path | None = Field(None, description="Real frames a runtime must agree on (default: models_dir/reference_frames, then media/ beside models_dir).")


class FastPath(Section):
    """Work the detector can skip without the judges missing anything (figures: `epatrol bench`)."""

    motion_gate: bool = Field(True, description="Skip inference on a sample that has not changed since the camera's last inferred one; its detections are reused.")
    motion_threshold: float = Field(12.0, gt=0, le=255, description="Grey-level change (0..255) of a downscaled pixel that counts as changed.")
    motion_min_changed: float = Field(0.002, gt=0, le=1, description="Fraction of downscaled pixels that must change for the sample to be inferred.")
    refresh_s: float = Field(10.0, gt=0, le=600, description="Infer at least this often even when nothing changed (stationary objects are re-checked).")
    # Off by default, by measurement: on the eval set the crop made yolov8n find a parked
    # motorbike in 2 of 12 samples against 12 of 12 on the full frame (a fixed-size input gains
    # no speed from a crop).
    zone_crops: bool = Field(False, description="Run the detector on the bounding crop of the zones when they are small compared with the frame.")
    crop_max_area: float = Field(0.5, gt=0, le=1, description="Crop only when the zones' bounding box (with margin) covers at most this fraction of the frame.")
    crop_margin: float = Field(0.05, ge=0, le=0.5, description="Margin around the zones' bounding box, as a fraction of the frame's width and height.")
