"""Graphs derived from the shipped weights: built here from the verified files, never downloaded.

The shipped COCO models are dynamic-int8 graphs (onnxruntime's quantize_dynamic: every conv is
DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(scales) -> Add(bias)). That is the slowest way
to run these weights on the CPUs epatrol meets: ConvInteger has no fast kernel in onnxruntime's CPU
provider, and OpenVINO cannot run it in bf16. Folding each such chain back into one float Conv with
W = (W_int8 - zero_point) x scale gives the same weights as a float graph every runtime runs
natively (measured: docs/reports/runtime.md).

A derived graph lives in a cache folder outside the repository (`cache_dir()`), named after its
parent's SHA-256, and is listed in that folder's `derived.json` with its own SHA-256, its parent's
and how it was made; a file whose checksum no longer matches that record is rebuilt.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .manifest import ModelError, ModelSpec, file_sha256

ENV_CACHE_DIR = "EPATROL_CACHE"
FLOAT_FOLDED = "float-folded"
SHIPPED = "shipped"
_lock = threading.Lock()  # two cameras' loads must not write the same file at once


@dataclass(frozen=True)
class DerivedGraph:
    """One derived ONNX file and where it came from (one entry of derived.json)."""

    model: str
    kind: str  # FLOAT_FOLDED
    file: str  # inside the cache folder
    sha256: str
    parent_file: str
    parent_sha256: str
    created: str  # UTC ISO time

    def path(self, folder: Path) -> Path:
        return folder / self.file


def cache_dir(configured: Path | None = None) -> Path:
    """EPATROL_CACHE wins, then models.cache_dir, then ~/.cache/epatrol."""
    chosen = os.environ.get(ENV_CACHE_DIR) or configured or Path.home() / ".cache" / "epatrol"
    return Path(chosen).expanduser().resolve()


def is_dynamic_int8(path: Path) -> bool:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return any(node.op_type == "ConvInteger" for node in graph.node)


def fold_dynamic_int8(src: Path, dst: Path) -> None:
    """Write src's graph with every dynamic-int8 conv chain replaced by one float Conv."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only_consumer(name: str, op: str):
        found = consumers.get(name, [])
        if len(found) != 1 or found[0].op_type != op:
            raise ModelError(f"{src}: {name} does not feed one {op}: not a dynamic-int8 conv chain")
        return found[0]

    replaced: dict[int, object] = {}
    dropped: set[int] = set()
    for conv in [n for n in graph.node if n.op_type == "ConvInteger"]:
        x_quant, w_quant, _x_zero, w_zero = conv.input
        quantize = producer[x_quant]
        cast = only_consumer(conv.output[0], "Cast")
        scale_mul = only_consumer(cast.output[0], "Mul")
        scales = producer[next(i for i in scale_mul.input if i != cast.output[0])]  # Mul(x_scale, w_scale)
        w_scale = next(i for i in scales.input if i in weights)
        w = numpy_helper.to_array(weights[w_quant]).astype(np.float32)
        per_channel = (-1,) + (1,) * (w.ndim - 1)
        zero = numpy_helper.to_array(weights[w_zero]).astype(np.float32)
        scale = numpy_helper.to_array(weights[w_scale]).astype(np.float32)
        w_float = (w - zero.reshape(per_channel if zero.size > 1 else ())) * scale.reshape(per_channel if scale.size > 1 else ())
        out, bias, chain = scale_mul.output[0], [], [conv, cast, scale_mul, scales]
        after = consumers.get(out, [])
        if len(after) == 1 and after[0].op_type == "Add":
            other = producer.get(next(i for i in after[0].input if i != out))
            if other is not None and other.op_type == "Reshape" and other.input[0] in weights:
                bias, out = [other.input[0]], after[0].output[0]
                chain += [after[0], other]
        float_name = f"{w_quant}_folded"
        graph.initializer.append(numpy_helper.from_array(w_float, float_name))
        folded = helper.make_node("Conv", [quantize.input[0], float_name, *bias], [out], name=f"{conv.name}_folded")
        folded.attribute.extend(conv.attribute)
        replaced[id(conv)] = folded
        dropped.update(id(n) for n in chain)
    if not replaced:
        raise ModelError(f"{src}: no ConvInteger to fold: not a dynamic-int8 graph")
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) in replaced or id(n) not in dropped]
    used = {name for n in nodes for name in n.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if n.op_type != "DynamicQuantizeLinear" or any(o in used for o in n.output)]
    used = {name for n in nodes for name in n.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    tmp = dst.with_suffix(".partial")
    onnx.save(model, str(tmp))
    os.replace(tmp, dst)  # a killed build never leaves a half file under the final name


def read_records(folder: Path) -> dict[str, dict]:
    index = folder / "derived.json"
    if not index.is_file():
        return {}
    try:
        return json.loads(index.read_text())
    except (OSError, ValueError):
        return {}  # a damaged index only costs a rebuild


def float_graph(spec: ModelSpec, parent: Path, folder: Path) -> DerivedGraph:
    """The float-folded graph of the verified shipped file `parent`: reused when its record and
    checksum match, built otherwise."""
    parent_sha = spec.sha256
    name = f"{spec.name}-{parent_sha[:16]}-{FLOAT_FOLDED}.onnx"
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        records = read_records(folder)
        known = records.get(name)
        path = folder / name
        if known and known.get("parent_sha256") == parent_sha and path.is_file() and file_sha256(path) == known.get("sha256"):
            return DerivedGraph(**known)
        fold_dynamic_int8(parent, path)
        record = DerivedGraph(
            model=spec.name, kind=FLOAT_FOLDED, file=name, sha256=file_sha256(path),
            parent_file=spec.file, parent_sha256=parent_sha, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )  # fmt: skip
        records[name] = asdict(record)
        tmp = folder / "derived.json.partial"
        tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
        os.replace(tmp, folder / "derived.json")
        return record
