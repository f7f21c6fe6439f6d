"""What runs a model, as the bench reports it for every model: runtime, precision and graph.

The detector says it itself when it knows (ObjectDetector.runtime / .precision / .graph);
otherwise it is read from the onnxruntime provider and the shipped graph's operators."""

from __future__ import annotations

import functools
import re
from pathlib import Path

PROVIDER_DEVICES = {
    "CPUExecutionProvider": "CPU",
    "CUDAExecutionProvider": "CUDA",
    "TensorrtExecutionProvider": "TensorRT",
    "OpenVINOExecutionProvider": "OpenVINO",
}
SHIPPED = "shipped"


def onnxruntime_label(provider: str | None) -> str:
    """"onnxruntime CPU" for CPUExecutionProvider, and so on."""
    return f"onnxruntime {PROVIDER_DEVICES.get(provider or '', provider or '?')}"


@functools.lru_cache(maxsize=None)
def graph_precision(path: str) -> str:
    """The arithmetic an ONNX file asks for: int8-dynamic (DynamicQuantizeLinear + ConvInteger, as
    yolov8n_int8 is shipped), int8-static (QDQ / QLinear), fp16, bf16 or fp32."""
    try:
        import onnx
    except ImportError:
        return "unknown"
    model = onnx.load(path, load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    if ops & {"DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"}:
        return "int8-dynamic"
    if ops & {"QLinearConv", "QLinearMatMul", "QuantizeLinear"}:
        return "int8-static"
    kinds = {t.data_type for t in model.graph.initializer}
    if onnx.TensorProto.FLOAT16 in kinds:
        return "fp16"
    if onnx.TensorProto.BFLOAT16 in kinds:
        return "bf16"
    return "fp32"


def shipped_precision(model_file: str, models_dir: Path | str | None) -> str:
    from epatrol.models.manifest import ModelError, resolve_models_dir

    try:
        path = resolve_models_dir(Path(models_dir) if models_dir is not None else None) / model_file
    except ModelError:
        return "unknown"
    return graph_precision(str(path)) if path.is_file() else "unknown"


def describe_detector(det, models_dir: Path | str | None) -> dict:
    """runtime / precision / graph of a loaded detector, and how it was chosen: "measurement"
    (models.runtime auto: every candidate measured on real frames, selection.py) with the
    measurement's table, else "reference" (the shipped graph on onnxruntime, nothing measured)."""
    provider = getattr(det, "provider", None)
    described = {
        "runtime": getattr(det, "runtime", None) or onnxruntime_label(provider),
        "precision": getattr(det, "precision", None) or shipped_precision(det.spec.file, models_dir),
        "graph": getattr(det, "graph", None) or SHIPPED,
        "provider": provider,
        "batch_size": det.batch_size,
    }
    described["runs_on"] = getattr(det, "runs_on", None) or label(described)
    described.update(selection_table(getattr(det, "choice", None)))
    return described


def selection_table(choice) -> dict:
    """The runtime choice of a detector (selection.Choice, or None when none was measured)."""
    if choice is None:
        return {"chosen_by": "reference", "chosen": None, "selection": []}
    rows = [
        {"candidate": r.candidate, "ms": None if r.ms is None else round(r.ms, 2), "accepted": r.accepted, "reason": r.reason, "chosen": r.key == choice.chosen}
        for r in choice.rows
    ]
    return {"chosen_by": "measurement", "chosen": choice.label, "selection": rows, "selection_frames": choice.frames}


def describe_embedder(embedder, models_dir: Path | str | None) -> dict:
    """The bin embedding (yolov8n's backbone layers of the shipped file): what computes it, from
    the embedder's runs_on ("openvino CPU bf16 (float-folded)") when it says, else the shipped
    graph on onnxruntime CPU; and how that was chosen (its choice when measured at load)."""
    spec = getattr(embedder, "spec", None)
    described = {
        "runtime": onnxruntime_label("CPUExecutionProvider"),
        "precision": shipped_precision(spec.file, models_dir) if spec else "unknown",
        "graph": f"{SHIPPED} + backbone outputs",
        "provider": "CPUExecutionProvider",
        "batch_size": 1,
    }
    runs_on = getattr(embedder, "runs_on", None)
    parsed = re.fullmatch(r"(\S+ \S+) (\S+) \((.+)\)", runs_on or "")
    if parsed:
        described.update(runtime=parsed[1], precision=parsed[2], graph=f"{parsed[3]}, backbone layers", provider=None)
    described["runs_on"] = runs_on or label(described)
    choice = getattr(embedder, "choice", None)
    described.update(selection_table(choice) if choice is not None else {"chosen_by": "reference", "chosen": None, "selection": []})
    return described


def runs_on_cpu(description: dict) -> bool:
    """A model whose runtime is on the CPU (its cost competes with decoding for the same cores)."""
    return description["runtime"].split()[-1].upper() == "CPU"


def label(description: dict) -> str:
    return f"{description['runtime']} / {description['precision']} / {description['graph']}"
