"""Model manifest and checksums, onnxruntime sessions, pre/post-processing per model family.

Knows nothing about cameras or zones."""

from .detections import Detections
from .detector import ObjectDetector, load_detector
from .manifest import (
    MODELS,
    ModelError,
    ModelSpec,
    get_spec,
    resolve_models_dir,
    verify_model_file,
)
from .session import create_session, session_provider

__all__ = [
    "MODELS",
    "Detections",
    "ModelError",
    "ModelSpec",
    "ObjectDetector",
    "create_session",
    "get_spec",
    "load_detector",
    "resolve_models_dir",
    "session_provider",
    "verify_model_file",
]
