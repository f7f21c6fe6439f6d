"""Fine-tuning a yolov8n-cls on the overflowing-bin photos with `epatrol train`, and measuring it.

Offline measurement, not run time (python -m epatrol.training.bins_finetune, in the venv with the
train extra). The photos are split exactly as `epatrol train-bins` splits them (bin_training:
de-duplicated, scene groups never on both sides); only the training side goes into the folder
`epatrol train --task classify` reads, optionally with one dusk-or-night copy of each photo
(bins_light). The exported ONNX is then run the way the box runs a region classifier
(models.classifier.preprocess, onnxruntime) on the held-out side as taken, as a street camera
would deliver it, and at dusk and at night (every held-out photo under each), with Wilson 95%
intervals.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from epatrol.evaluation.matching import wilson_interval
from epatrol.training import bin_training, bins_light

# Photos are stored at this shorter side: decoding 600 px JPEGs every epoch costs more than the
# network at 160 px on two cores, and every --imgsz measured is below it.
STORED_SIDE = 256


def wilson(k: int, n: int) -> tuple[float, float] | None:
    """The 95% Wilson interval the eval reports, rounded for the result file."""
    interval = wilson_interval(k, n)
    return None if interval is None else (round(interval[0], 3), round(interval[1], 3))


def _stored(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    scale = STORED_SIDE / min(h, w)
    return img if scale >= 1 else cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def prepare(data: Path, folder: Path, light: bool) -> tuple[list, list]:
    """folder/{clean,dirty}/*.jpg from the training side of the split; returns (train, held out)."""
    photos, _ = bin_training.read_dataset(data)
    train, test = bin_training.split(photos)
    for p in train:
        img = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{p.path}: not a readable image")
        dst = folder / ("dirty" if p.label else "clean")
        dst.mkdir(parents=True, exist_ok=True)
        img = _stored(img)
        cv2.imwrite(str(dst / f"{p.sha256[:16]}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if light:  # one dusk-or-night copy: the same photo, so the same side of the split
            cv2.imwrite(str(dst / f"{p.sha256[:16]}_lit.jpg"), bins_light.lit(img, p.sha256), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return train, test


def _views(img: np.ndarray, key: str) -> dict[str, np.ndarray]:
    seed = int(key[:8], 16)
    return {
        "daylight": img,
        "camera_like": bin_training.as_camera_sees_it(img, np.random.default_rng(seed)),
        # other seeds than training's lit() copies: a held-out photo was never trained on anyway
        "dusk": bins_light.at_dusk(img, np.random.default_rng(seed + 1)),
        "night": bins_light.at_night(img, np.random.default_rng(seed + 2)),
    }


def measure(onnx_path: Path, imgsz: int, test: list) -> dict:
    """Accuracy, recall of dirty and clean kept clean per view of the held-out photos (argmax of
    the two classes: clean=0, dirty=1 as the folders sort)."""
    import onnxruntime as ort

    from epatrol.models.classifier import preprocess

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    y = np.array([p.label for p in test])
    pred: dict[str, list[int]] = {}
    for p in test:
        img = _stored(cv2.imread(str(p.path), cv2.IMREAD_COLOR))
        for view, im in _views(img, p.sha256).items():
            probs = np.asarray(session.run(None, {name: preprocess(im, (imgsz, imgsz))})[0]).reshape(-1)
            pred.setdefault(view, []).append(int(probs[1] > probs[0]))
    out = {}
    for view, values in pred.items():
        yp = np.array(values)
        correct, dirty, clean = int(np.sum(yp == y)), y == 1, y == 0
        tp, tn = int(np.sum(yp[dirty] == 1)), int(np.sum(yp[clean] == 0))
        out[view] = {
            "n": len(y), "accuracy": round(correct / len(y), 4), "accuracy_ci95": wilson(correct, len(y)),
            "recall": round(tp / int(dirty.sum()), 4), "recall_ci95": wilson(tp, int(dirty.sum())),
            "clean_kept": round(tn / int(clean.sum()), 4),
        }  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets/bins-clean-dirty"))
    ap.add_argument("--out", type=Path, required=True, help="work folder: data/, the training run, model.onnx, result.json")
    ap.add_argument("--init", default="yolov8n_int8", help="scratch or yolov8n_int8 (COCO)")
    ap.add_argument("--imgsz", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--light", action="store_true", help="also train on a dusk-or-night copy of each training photo")
    ap.add_argument("--models", type=Path, default=Path("../shared/models"), help="the folder with yolov8n_int8 (for --init)")
    args = ap.parse_args(argv)
    from epatrol.training.district_training import train

    started = time.monotonic()
    folder = args.out / "data"
    train_set, test = prepare(args.data, folder, args.light)
    print(f"{len(train_set)} training photos ({'with' if args.light else 'without'} light copies), {len(test)} held out", file=sys.stderr)
    record = train("classify", folder, args.out / "run", args.epochs, args.imgsz, args.init, batch=args.batch,
                   models_dir=args.models, log=lambda s: print(s, file=sys.stderr))  # fmt: skip
    trained = time.monotonic() - started
    result = {
        "init": args.init, "imgsz": args.imgsz, "epochs": args.epochs, "batch": args.batch, "light": args.light,
        "train_photos": len(train_set), "held_out": len(test), "val_metrics": record["metrics"],
        "train_seconds": round(trained, 1), "held_out_views": measure(args.out / "run" / "model.onnx", args.imgsz, test),
    }  # fmt: skip
    result["seconds"] = round(time.monotonic() - started, 1)
    (args.out / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
