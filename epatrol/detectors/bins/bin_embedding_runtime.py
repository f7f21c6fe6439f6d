"""Which runtime computes the bin embedding (bin_classifier.BinEmbedder): measured at load, never assumed.

The embedding is two backbone layers of the shipped int8 yolov8n, pooled. The graph it runs is cut
down to what those layers need (the neck and the detection head are never run: 261 of the shipped
graph's 610 nodes remain, 99 of the float-folded graph's 233) and given ONE output, the two layers
flattened and concatenated, so that every runner of epatrol.models (runners.py) runs it unchanged;
the pooling stays in numpy, in float32, after the runtime. The cut graph is written to the cache
folder (derive.cache_dir) under the SHA-256 of its own bytes, rebuilt in memory from the verified
model at every load and rewritten when the file's bytes differ.

The reference is the shipped int8 graph on onnxruntime CPU: the features the shipped overflow and
presence parameters were fitted on; cut, it gives the same embedding bit for bit as the whole graph
with the layers added as outputs (the path before, 2.5x slower). The candidates are the
float-folded graph (derive.float_graph: same weights, activations no longer quantised) on
onnxruntime fp32 and OpenVINO fp32 and bf16, where installed. A candidate runs only if, on real
images (BIN_PHOTOS bin photos from the data set beside the models, then the detectors' reference
frames: 16 on the shared layout), P(overflowing) and P(bin) both stay within MEAN_GAP on average
and MAX_GAP on every image of the reference's; the fastest such one runs, the reference otherwise
(and without images). The choice is cached per machine, runtime versions, model, parameters and
images (CHOICE_FILE in the cache folder): a box measures once (about 10 s).

Why those candidates may run at all, measured with the shipped parameters NOT refitted, on the
held-out split (`python -m epatrol.training.bins_runtime --data ../shared/datasets/bins-clean-dirty
--models ../shared/models`: 413 held-out bin photos for overflow, with 211 no-bin crops of the
held-out sources for presence; flips and |dP| against the path before; ms: backbone + pooling, one
thread, on the 2-core Xeon (AMX) while other work ran on it, so the ratios count, not the values):

| embedding computed by                  | ms    | overflow acc / prec / recall | flips | dP mean/max | presence acc | flips | dP mean/max |
|----------------------------------------|-------|------------------------------|-------|-------------|--------------|-------|-------------|
| int8 whole graph, onnxruntime (before) | 230.5 | 0.831 / 0.778 / 0.674        | -     | -           | 0.989        | -     | -           |
| int8 cut graph, onnxruntime (reference)|  91.4 | 0.831 / 0.778 / 0.674        | 0.0%  | 0 (identical) | 0.989      | 0.0%  | 0           |
| float-folded, onnxruntime fp32         |  53.0 | 0.838 / 0.788 / 0.689        | 1.2%  | 0.018/0.147 | 0.990        | 0.2%  | 0.005/0.233 |
| float-folded, OpenVINO fp32            |  63.4 | 0.838 / 0.788 / 0.689        | 1.2%  | 0.018/0.147 | 0.990        | 0.2%  | 0.005/0.233 |
| float-folded, OpenVINO bf16            |  32.1 | 0.831 / 0.793 / 0.652        | 1.9%  | 0.018/0.121 | 0.986        | 0.3%  | 0.005/0.262 |

All three keep held-out accuracy within 0.01 of the reference's and flip at most 2% of the
decisions (ELIGIBLE); on this box the load-time measurement picks OpenVINO bf16.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from epatrol.models import derive, selection
from epatrol.models.manifest import ModelError, ModelSpec
from epatrol.models.reference_frames import PHOTOS, load_reference_frames
from epatrol.models.runners import Candidate, Runner, open_runner

log = logging.getLogger(__name__)

OUTPUT = "bin_embedding_maps"
MEAN_GAP = 0.04  # mean |P - reference P| over the images, for P(overflowing) and P(bin) alike (held out: 0.018, 0.005)
MAX_GAP = 0.15  # ... and on any one image (on these images: 0.07 at most)
BIN_PHOTOS = 8  # of the bin photo set beside the models (datasets/bins-clean-dirty): half clean, half dirty
BIN_SET = Path("datasets") / "bins-clean-dirty"
TIMED_RUNS = 3  # on each of the first TIMED_FRAMES images, after one warm-up run
TIMED_FRAMES = 3
CHOICE_FILE = "bin-embedding-choice.json"
# Candidates that kept the held-out decisions (bins_runtime.py): the others are not tried at load.
ELIGIBLE = ("onnxruntime/CPU/fp32/float-folded", "openvino/CPU/fp32/float-folded", "openvino/CPU/bf16/float-folded")

Score = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # embeddings -> (P(overflowing), P(bin))


def agreement_images(models_dir: Path) -> list[np.ndarray]:
    """The real images a candidate must agree on: BIN_PHOTOS bin photos, evenly spaced in name order
    (the same every start), then the detectors' reference frames (reference_frames.py)."""
    import cv2

    root = models_dir.parent / BIN_SET
    base = root / "train" if (root / "train").is_dir() else root
    images = []
    for label in ("clean", "dirty"):
        files = sorted(p for p in (base / label).glob("*") if p.suffix.lower() in PHOTOS) if (base / label).is_dir() else []
        for path in files[:: max(1, len(files) // (BIN_PHOTOS // 2))][: BIN_PHOTOS // 2]:
            if (image := cv2.imread(str(path), cv2.IMREAD_COLOR)) is not None:
                images.append(image)
    return images + load_reference_frames(None, models_dir)


def embedding_graph(src: Path, layers: Sequence[str]):
    """src's graph cut to the nodes `layers` need, with one output OUTPUT: the layers flattened to
    (1, n) and concatenated. Returns (ModelProto, [(C, H, W) of each layer])."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    missing = [name for name in layers if name not in producer]
    if missing:
        raise ModelError(f"{src}: no layer {', '.join(missing)} to take the bin embedding from")
    needed, stack = set(), list(layers)
    while stack:
        node = producer.get(stack.pop())
        if node is not None and id(node) not in needed:
            needed.add(id(node))
            stack.extend(node.input)
    nodes = [n for n in graph.node if id(n) in needed]
    flat = [f"{name}_flat" for name in layers]
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), f"{OUTPUT}_shape")
    nodes += [helper.make_node("Reshape", [name, shape.name], [f], name=f) for name, f in zip(layers, flat)]
    nodes.append(helper.make_node("Concat", flat, [OUTPUT], name=OUTPUT, axis=1))
    used = {name for n in nodes for name in n.input}
    kept = [init for init in graph.initializer if init.name in used] + [shape]
    del graph.node[:], graph.initializer[:], graph.output[:], graph.value_info[:]
    graph.node.extend(nodes)
    graph.initializer.extend(kept)
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    shapes = []
    for name in layers:
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inferred[name].type.tensor_type.shape.dim] if name in inferred else []
        if len(dims) != 4 or dims[0] != 1 or None in dims:
            raise ModelError(f"{src}: layer {name} has no fixed 1xCxHxW shape ({dims})")
        shapes.append(tuple(dims[1:]))
    graph.output.append(helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, [1, sum(c * h * w for c, h, w in shapes)]))
    onnx.checker.check_model(model)
    return model, shapes


def graph_file(model, folder: Path, stem: str) -> Path:
    """The model written to folder under the SHA-256 of its bytes (reused when one matches)."""
    data = model.SerializeToString()
    digest = hashlib.sha256(data).hexdigest()
    path = folder / f"{stem}-{digest[:16]}.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    if not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
        tmp = path.with_suffix(f".{os.getpid()}.partial")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # two processes writing the same bytes: either file is right
    return path


class Embedding:
    """One runner of the cut graph, and the pooling: the embedding of one preprocessed tensor."""

    def __init__(self, runner: Runner, shapes: list[tuple[int, int, int]]) -> None:
        self.runner = runner
        self.shapes = shapes
        self.sizes = np.cumsum([c * h * w for c, h, w in shapes])[:-1]
        c = runner.candidate
        self.runs_on = f"{c.runtime} {runner.device} {c.precision} ({c.graph})"

    def maps(self, tensor: np.ndarray) -> list[np.ndarray]:
        flat = self.runner.run(tensor).reshape(-1)
        return [part.reshape(1, *shape) for part, shape in zip(np.split(flat, self.sizes), self.shapes)]

    def embed(self, tensor: np.ndarray) -> np.ndarray:
        maps = self.maps(tensor)
        return np.concatenate([np.concatenate([m.mean(axis=(2, 3))[0], m.max(axis=(2, 3))[0]]) for m in maps]).astype(np.float32)


def open_embedding(candidate: Candidate, layers: Sequence[str], folder: Path, threads: int | None, streams: int = 1) -> Embedding:
    """The candidate's graph cut for the embedding, written to folder, on the candidate's runner."""
    model, shapes = embedding_graph(candidate.path, layers)
    stem = f"{candidate.path.stem}-bin-embedding"
    cut = Candidate(candidate.runtime, candidate.device, candidate.precision, candidate.graph, graph_file(model, folder, stem))
    return Embedding(open_runner(cut, threads, streams), shapes)


def reference(shipped: Path) -> Candidate:
    """The shipped int8 graph on onnxruntime CPU: what the parameters were fitted on."""
    return selection.reference(shipped, "cpu", int8=True)


def candidates(spec: ModelSpec, shipped: Path, folder: Path) -> list[Candidate]:
    """The reference (shipped int8 on onnxruntime CPU) first, then the float-folded graph's ways installed here."""
    return selection.candidates(shipped, "cpu", derive.float_graph(spec, shipped, folder).path(folder))


def choose(
    spec: ModelSpec, shipped: Path, layers: Sequence[str], tensors: Sequence[np.ndarray], score: Score,
    folder: Path, threads: int | None, streams: int = 1, key_parts: Sequence[str] = (),
) -> tuple[Embedding, selection.Choice]:  # fmt: skip
    """The fastest ELIGIBLE candidate whose P(overflowing) and P(bin) agree with the reference's on
    tensors (disagreement()); the reference when none does, or without tensors. streams: embeddings
    run at once (camera threads sharing it; OpenVINO gives each its own infer request)."""
    try:
        found = [c for i, c in enumerate(candidates(spec, shipped, folder)) if i == 0 or c.key() in ELIGIBLE]
    except (ModelError, OSError) as exc:  # no float graph (say, a full cache folder): the reference runs
        log.warning("bin embedding: no candidate to measure (%s); the reference runs", exc)
        found = [reference(shipped)]
    info = selection.machine()
    digest = hashlib.sha256()
    for part in (spec.sha256, json.dumps(info, sort_keys=True), str(threads), str(MEAN_GAP), str(MAX_GAP), *layers, *key_parts, *(c.key() for c in found)):
        digest.update(part.encode())
    for t in tensors:
        digest.update(hashlib.sha256(np.ascontiguousarray(t).data).digest())
    key = digest.hexdigest()
    cached = _read(folder).get(key)
    if cached is not None and (chosen := next((c for c in found if c.key() == cached["chosen"]), None)) is not None:
        choice = selection.Choice(**{**cached, "rows": [selection.Row(**r) for r in cached["rows"]]})
        return open_embedding(chosen, layers, folder, threads, streams), choice
    best, choice = _measure(spec, found, layers, tensors, score, folder, threads, streams, info)
    _write(folder, key, choice)
    return best, choice


def disagreement(got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, np.ndarray]) -> str | None:
    """Why a candidate's (P(overflowing), P(bin)) differ from the reference's (None: they agree)."""
    for name, g, e in zip(("P(overflowing)", "P(bin)"), got, expected):
        gap = np.abs(np.asarray(g) - np.asarray(e))
        if gap.max() > MAX_GAP or gap.mean() > MEAN_GAP:
            return f"{name} off by {gap.mean():.3f} on average, {gap.max():.3f} at most (limits {MEAN_GAP}, {MAX_GAP})"
    return None


def _gaps(got: tuple[np.ndarray, np.ndarray], expected: tuple[np.ndarray, np.ndarray]) -> str:
    return ", ".join(f"{n} off by {np.abs(g - e).mean():.3f}/{np.abs(g - e).max():.3f}" for n, g, e in zip(("P(overflowing)", "P(bin)"), got, expected))


def _measure(spec, found, layers, tensors, score, folder, threads, streams, info) -> tuple[Embedding, selection.Choice]:
    reference = open_embedding(found[0], layers, folder, threads, streams)
    expected = score(np.stack([reference.embed(t) for t in tensors])) if tensors else None
    agreeing, rejected, agreed = [reference], {}, {found[0].key(): "reference"}
    for candidate in found[1:] if tensors else []:
        try:
            embedding = open_embedding(candidate, layers, folder, threads, streams)
        except ModelError as exc:
            rejected[candidate.key()] = f"does not open: {exc}"
            continue
        got = score(np.stack([embedding.embed(t) for t in tensors]))
        reason = disagreement(got, expected)
        if reason is None:
            agreeing.append(embedding)
            agreed[candidate.key()] = f"agrees: {_gaps(got, expected)} (mean/max)"
        else:
            rejected[candidate.key()] = reason
    ms = _time(agreeing, tensors)
    rows = []
    for c in found:
        if c.key() in rejected:
            rows.append(selection.Row(c.label, c.key(), None, False, rejected[c.key()]))
        elif c.key() in ms:
            rows.append(selection.Row(c.label, c.key(), ms[c.key()], True, agreed[c.key()]))
    best = min(agreeing, key=lambda e: ms.get(e.runner.candidate.key()) or 0.0)
    note = "" if tensors else "no images to compare on: the reference runs"
    choice = selection.Choice(spec.name, spec.sha256, best.runner.candidate.key(), best.runs_on, info, len(tensors), rows, note)
    log.info("bin embedding runs on %s (%s)", best.runs_on, "; ".join(f"{r.candidate}: {r.ms and round(r.ms, 1)} ms, {r.reason}" for r in rows))
    return best, choice


def _time(embeddings: Sequence[Embedding], tensors: Sequence[np.ndarray]) -> dict[str, float]:
    """Median ms per embedding, one key per candidate; the candidates take turns on each run, so
    that a machine busy with other work slows them alike."""
    if not tensors:
        return {}
    times: dict[str, list[float]] = {e.runner.candidate.key(): [] for e in embeddings}
    for tensor in tensors[:TIMED_FRAMES]:
        for e in embeddings:
            e.embed(tensor)  # warm-up
        for _ in range(TIMED_RUNS):
            for e in embeddings:
                start = time.perf_counter()
                e.embed(tensor)
                times[e.runner.candidate.key()].append(1000 * (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in times.items()}


def _read(folder: Path) -> dict:
    try:
        return json.loads((folder / CHOICE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write(folder: Path, key: str, choice: selection.Choice) -> None:
    try:
        known = _read(folder)
        known[key] = asdict(choice)
        tmp = folder / f"{CHOICE_FILE}.{os.getpid()}.partial"
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        os.replace(tmp, folder / CHOICE_FILE)
    except OSError as exc:  # a read-only or full cache only costs a new measurement next start
        log.warning("bin embedding choice not cached in %s: %s", folder, exc)
