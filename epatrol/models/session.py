"""onnxruntime sessions: provider choice and threading."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import onnxruntime as ort

from .manifest import ModelError

log = logging.getLogger(__name__)

Device = Literal["auto", "cpu", "cuda"]
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def _providers_for(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA not in available:
            raise ModelError(
                f"device 'cuda' requested but onnxruntime has no {CUDA} "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use device 'cpu'"
            )
        return [CUDA, CPU]
    if device == "auto":
        # CPU stays in the list: onnxruntime puts nodes CUDA cannot run there.
        return [CUDA, CPU] if CUDA in available else [CPU]
    raise ModelError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda'")


def create_session(
    path: Path, threads: int | None = None, device: Device = "auto"
) -> ort.InferenceSession:
    """A session for the ONNX file at path; threads: intra-op threads (None: onnxruntime decides)."""
    if threads is not None and threads < 1:
        raise ModelError(f"threads must be >= 1, got {threads}")
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = _providers_for(device)
    try:
        session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own (non-public) exception types
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc
    # With the CUDA package installed but no usable GPU/driver, onnxruntime
    # silently drops to CPU; that is fine for 'auto' but not for an explicit 'cuda'.
    used = session_provider(session)
    if device == "cuda" and used != CUDA:
        raise ModelError(f"device 'cuda' requested but the session for {path} runs on {used}")
    if device == "auto" and CUDA in providers and used != CUDA:
        log.warning("CUDA provider available but not usable for %s; running on %s", path, used)
    return session


def session_provider(session: ort.InferenceSession) -> str:
    """The execution provider actually running the session (the first one it kept)."""
    return session.get_providers()[0]
