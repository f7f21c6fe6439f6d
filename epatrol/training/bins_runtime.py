"""Does the bin embedding survive another runtime? Held-out decisions per runtime, parameters NOT refitted.

    python -m epatrol.training.bins_runtime --data ../shared/datasets/bins-clean-dirty --models ../shared/models

The shipped overflow and presence parameters (bin_classifier.py) were fitted on the embedding of
the shipped int8 yolov8n on onnxruntime. This runs the same held-out images through every way of
computing it (bin_embedding_runtime.py) and scores them with those same parameters:

- overflow: the classifier's own held-out split (bin_training.split, as `train()` measures its
  held-out accuracy): accuracy, precision and recall of "overflowing";
- presence: the held-out bin photos (all show a bin) and the no-bin crops of the held-out sources
  (bins_presence_data.HELD_OUT_SOURCES), as bins_presence_fit.train_presence measures it;
- flips: the fraction of images whose decision differs from today's path (the full int8 graph
  with the two layers added as outputs, on onnxruntime), and the largest |P - today's P|;
- ms: one backbone run and the pooling per image, one thread, median over the images
  (preprocessing, the same for every row, left out). The candidates run one after another on each
  image, so a busy machine slows all rows alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from epatrol.detectors.bins import bin_embedding_runtime as rt
from epatrol.detectors.bins.bin_classifier import (
    DEFAULT_PATH,
    EMBEDDING_LAYERS,
    EMBEDDING_MODEL,
    PRESENCE_PATH,
    BinParameters,
)
from epatrol.models import derive, yolo
from epatrol.models.manifest import get_spec, verify_model_file
from epatrol.training.bin_training import metrics, read_dataset, split
from epatrol.training.bins_presence_data import negative_crops
from epatrol.training.bins_presence_fit import rates

TODAY = "onnxruntime CPU int8-dynamic (shipped, full graph: today)"


class WholeGraph:
    """Today's path, kept here to compare with: the whole int8 graph, the layers added as outputs."""

    runs_on = TODAY

    def __init__(self, path: Path) -> None:
        import onnx
        import onnxruntime as ort

        graph = onnx.load(str(path))
        for name in EMBEDDING_LAYERS:
            graph.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(graph.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def embed(self, tensor: np.ndarray) -> np.ndarray:
        maps = self.session.run(list(EMBEDDING_LAYERS), {self.input_name: tensor})
        return np.concatenate([np.concatenate([m.mean(axis=(2, 3))[0], m.max(axis=(2, 3))[0]]) for m in maps]).astype(np.float32)


def embeddings(images, ways, spec, log=print) -> tuple[list[np.ndarray], list[list[float]]]:
    """Each way's embeddings of the images (one row each) and its ms per image."""
    feats: list[list[np.ndarray]] = [[] for _ in ways]
    ms: list[list[float]] = [[] for _ in ways]
    for i, (name, image) in enumerate(images):
        img = cv2.imread(str(image), cv2.IMREAD_COLOR) if isinstance(image, Path) else image
        if img is None:
            raise ValueError(f"{name}: not a readable image")
        tensor, _ = yolo.preprocess(img, spec.input_size, rgb=spec.channel_order == "rgb", use_letterbox=spec.letterbox)
        for k, way in enumerate(ways):
            start = time.perf_counter()
            feats[k].append(way.embed(tensor))
            ms[k].append(1000 * (time.perf_counter() - start))
        if (i + 1) % 100 == 0:
            log(f"  {i + 1}/{len(images)} images")
    return [np.stack(f) for f in feats], ms


def measure(data: Path, models: Path, shared: Path, cache: Path, limit: int | None = None, log=print) -> list[dict]:
    spec = get_spec(EMBEDDING_MODEL)
    shipped = verify_model_file(spec, models)
    photos, _ = read_dataset(data)
    held_out = split(photos)[1]
    crops = [c for c in negative_crops(shared) if c.held_out]
    if limit:
        held_out, crops = held_out[:: max(1, len(held_out) // limit)], crops[:: max(1, len(crops) // limit)]
    ways = [WholeGraph(shipped)] + [rt.open_embedding(c, EMBEDDING_LAYERS, cache, 1) for c in rt.candidates(spec, shipped, cache)]
    log(f"{len(held_out)} held-out bin photos, {len(crops)} held-out no-bin crops; {len(ways)} ways: " + ", ".join(w.runs_on for w in ways))
    images = [(p.path.name, p.path) for p in held_out] + [(c.key, c.image) for c in crops]
    feats, ms = embeddings(images, ways, spec, log)
    overflow, presence = BinParameters.load(DEFAULT_PATH), BinParameters.load(PRESENCE_PATH)
    n = len(held_out)
    y_over = np.array([p.label for p in held_out], np.float64)
    y_bin = np.array([1] * n + [0] * len(crops), np.float64)
    ref_over, ref_bin = overflow.score_features(feats[0][:n]), presence.score_features(feats[0])
    rows = []
    for way, f, t in zip(ways, feats, ms):
        p_over, p_bin = overflow.score_features(f[:n]), presence.score_features(f)
        m, r = metrics(y_over, p_over, overflow.threshold), rates(y_bin, p_bin, presence.threshold)
        rows.append({
            "way": way.runs_on, "ms": statistics.median(t),
            "acc": m["accuracy"], "precision": m["precision"], "recall": m["recall"],
            "over_flips": float(np.mean((p_over >= overflow.threshold) != (ref_over >= overflow.threshold))),
            "over_gap": float(np.max(np.abs(p_over - ref_over))), "over_mean": float(np.mean(np.abs(p_over - ref_over))),
            "bin_acc": r["accuracy"], "bins_found": r["bins_found"], "no_bin_rejected": r["no_bin_rejected"],
            "bin_flips": float(np.mean((p_bin >= presence.threshold) != (ref_bin >= presence.threshold))),
            "bin_gap": float(np.max(np.abs(p_bin - ref_bin))), "bin_mean": float(np.mean(np.abs(p_bin - ref_bin))),
            "identical": bool(np.array_equal(f, feats[0])),
        })  # fmt: skip
    return rows


def passes(row: dict, reference: dict) -> bool:
    """The bar: held-out accuracy (overflow and presence) within 0.01 of the reference, <= 2% flips each."""
    return (
        abs(row["acc"] - reference["acc"]) <= 0.01 and abs(row["bin_acc"] - reference["bin_acc"]) <= 0.01
        and row["over_flips"] <= 0.02 and row["bin_flips"] <= 0.02
    )  # fmt: skip


def table(rows: list[dict]) -> str:
    head = ("| embedding computed by | ms | overflow acc | prec | recall | flips | dP mean/max | presence acc "
            "| bins found | no-bin rejected | flips | dP mean/max | bar |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        bar = "reference" if r is rows[0] else ("identical" if r["identical"] else ("passes" if passes(r, rows[0]) else "fails"))
        lines.append(
            f"| {r['way']} | {r['ms']:.1f} | {r['acc']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | {100 * r['over_flips']:.1f}% "
            f"| {r['over_mean']:.3f}/{r['over_gap']:.3f} | {r['bin_acc']:.3f} | {r['bins_found']:.3f} | {r['no_bin_rejected']:.3f} "
            f"| {100 * r['bin_flips']:.1f}% | {r['bin_mean']:.3f}/{r['bin_gap']:.3f} | {bar} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="bins-clean-dirty")
    ap.add_argument("--models", type=Path, required=True)
    ap.add_argument("--shared", type=Path, help="where media/ and datasets/ are (default: the models folder's parent)")
    ap.add_argument("--cache", type=Path, help="derived graphs (default: derive.cache_dir)")
    ap.add_argument("--limit", type=int, help="about this many images of each side only (a quick run)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    rows = measure(args.data, args.models, args.shared or args.models.resolve().parent, args.cache or derive.cache_dir(None), args.limit)
    print(table(rows))
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
