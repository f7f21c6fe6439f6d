"""What batching samples of several cameras per run would give, on this box (a figure, not a feature).

Every model shipped in ../shared/models has a fixed batch of 1 (ObjectDetector.batch_size), so
the pipeline cannot batch them. This script makes an in-memory copy of a graph with a dynamic
batch (input/output batch dimension symbolic, each Reshape's leading 1 turned into 0 = "copy the
input's dimension"), checks that batch-N results equal batch-1 results, and times ms per image
at batch 1, 2 and 4 on one thread (the pipeline runs one single-threaded inference per core).
Nothing is written to disk.

    .venv/bin/python benchmarks/batching.py [--shared ../shared] [--runs 4]

The int8 yolov8n cannot be rebatched this way (its quantised bias adds have fixed shapes);
the fp32 fire/smoke model can."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[1]
MODELS = {"fire_smoke": ("light_yolov8_flame_416.onnx", 416), "yolov8n_int8": ("yolov8n_int8.onnx", 640)}


def with_dynamic_batch(path: Path) -> bytes:
    m = onnx.load(str(path))
    for t in list(m.graph.input) + list(m.graph.output):
        t.type.tensor_type.shape.dim[0].dim_param = "batch"
    del m.graph.value_info[:]  # stale shapes with batch 1
    inits = {i.name: i for i in m.graph.initializer}
    consts = {n.output[0]: n for n in m.graph.node if n.op_type == "Constant"}
    for node in m.graph.node:
        if node.op_type != "Reshape":
            continue
        src = node.input[1]
        target = inits[src] if src in inits else consts[src].attribute[0].t if src in consts else None
        if target is None:
            continue
        shape = numpy_helper.to_array(target).copy()
        if shape.size and shape[0] == 1:
            shape[0] = 0
            target.CopyFrom(numpy_helper.from_array(shape, target.name))
    return m.SerializeToString()


def measure(name: str, shared: Path, runs: int) -> dict:
    file, size = MODELS[name]
    path = shared / "models" / file
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    original = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    try:
        batched = ort.InferenceSession(with_dynamic_batch(path), opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).random((4, 3, size, size), dtype=np.float32)
        y = batched.run(None, {"images": x})[0]
    except Exception as e:  # onnxruntime's own exception types
        return {"model": name, "rebatchable": False, "why": str(e).splitlines()[0][:200]}
    diff = max(float(np.abs(y[i] - original.run(None, {"images": x[i : i + 1]})[0][0]).max()) for i in range(4))
    out = {"model": name, "rebatchable": True, "max_abs_diff_vs_batch1": diff, "ms_per_image": {}}
    for b in (1, 2, 4):
        batched.run(None, {"images": x[:b]})
        t = time.perf_counter()
        for _ in range(runs):
            batched.run(None, {"images": x[:b]})
        out["ms_per_image"][f"batch_{b}"] = round(1000 * (time.perf_counter() - t) / runs / b, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--runs", type=int, default=4)
    args = ap.parse_args()
    print(json.dumps([measure(name, args.shared, args.runs) for name in MODELS], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
