"""`epatrol train`: the district's own detector or region classifier from a labelled folder.

Needs the `train` extra (Ultralytics, torch: AGPL-3.0, never imported at run time): everything
from it is imported inside train(). It runs offline: YOLO_OFFLINE, a private YOLO_CONFIG_DIR with
a local font, no hub weights. The folder is checked first (district_data.py); a share of it is
held back for validation; the model trains, is exported to ONNX (opset 17, no simplifier: that
would be a download) and a record of the run (data, counts, epochs, metrics, time) is written
beside it for `epatrol models add`.

Start (--init): "scratch" (the architecture's yaml, random weights), or a model the project has in
ONNX form whose weights follow an Ultralytics state dict (district_init.py; yolov8n_int8: COCO).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from epatrol.models.manifest import file_sha256
from epatrol.training import district_data
from epatrol.training.district_init import ARCHITECTURES

ONNX_OPSET = 17
FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"))


class TrainingError(RuntimeError):
    """Training could not run (the extra is missing, the start model is unknown, the export failed)."""


def offline_environment(work: Path) -> None:
    """No request leaves the machine: Ultralytics' settings, font and downloads stay local."""
    config = work / "ultralytics-config"
    (config / "Ultralytics").mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config)
    os.environ.setdefault("YOLO_VERBOSE", "False")
    # Ultralytics fetches Arial.ttf for its plots when it is missing; any local TTF stands in.
    font = next((f for f in FONTS if f.is_file()), None)
    for wanted in ("Arial.ttf", "Arial.Unicode.ttf"):
        if font is not None and not (config / "Ultralytics" / wanted).exists():
            shutil.copyfile(font, config / "Ultralytics" / wanted)


def _start(init: str, task: str, ds: district_data.Dataset, imgsz: int, work: Path, models_dir: Path | None, log) -> tuple[str, dict | None]:
    """What YOLO() is built from, and the record of the model the weights came from."""
    if init in ("scratch", "yolov8n"):
        return ("yolov8n-cls.yaml" if task == "classify" else "yolov8n.yaml"), None
    if init.endswith((".yaml", ".pt")):
        if not Path(init).is_file() and not init.endswith(".yaml"):
            raise TrainingError(f"--init {init}: file not found")
        return init, {"file": init}
    if init not in ARCHITECTURES:
        raise TrainingError(f"--init {init!r}: expected scratch, an Ultralytics .yaml/.pt, or one of {', '.join(sorted(ARCHITECTURES))}")
    from epatrol.models import derive
    from epatrol.models.manifest import get_spec, resolve_models_dir, verify_model_file
    from epatrol.training.district_init import initialised_checkpoint

    folder = resolve_models_dir(models_dir)
    spec = get_spec(init, folder)
    parent = verify_model_file(spec, folder)
    source = derive.float_graph(spec, parent, derive.cache_dir()).path(derive.cache_dir()) if derive.is_dynamic_int8(parent) else parent
    ckpt = work / f"init-{init}.pt"
    loaded = initialised_checkpoint(ARCHITECTURES[init], task, source, ds.images, imgsz, ckpt)
    log(f"init: {loaded['tensors_loaded']} tensors from {init} ({spec.sha256[:12]}); left as built: {loaded['left_as_built'] or 'none'}")
    return str(ckpt), {"name": init, "sha256": spec.sha256, "file": spec.file, "tensors_loaded": loaded["tensors_loaded"]}


def train(
    task: str, data: Path, out: Path, epochs: int = 30, imgsz: int = 320, init: str = "scratch",
    min_examples: int | None = None, val_fraction: float = 0.2, batch: int = 16, models_dir: Path | None = None,
    device: str = "cpu", seed: int = 0, log: Callable[[str], None] = print,
) -> dict:
    """Check, split, train, export; returns the training record (also written to out/training.json)."""
    if epochs < 1 or imgsz < 32 or imgsz % 32:
        raise TrainingError(f"epochs must be >= 1 and imgsz a multiple of 32 (>= 32); got epochs={epochs}, imgsz={imgsz}")
    ds = district_data.check(task, data, min_examples)  # before anything heavy is imported
    out = Path(out).resolve()
    work = out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    counts, data_arg = district_data.split(ds, work / "data", val_fraction, seed)
    log(f"data: {ds.labelled_images} labelled, {ds.background_images} background images; {counts['train']} train, {counts['val']} held back")
    offline_environment(work)
    try:
        from ultralytics import YOLO, __version__
    except ImportError as exc:
        raise TrainingError(f"Ultralytics is not installed in {sys.executable}: install the train extra (pip install -e '.[train]') in a separate venv") from exc
    started = time.monotonic()
    source, parent = _start(init, task, ds, imgsz, work, models_dir, log)
    model = YOLO(source, task=task)
    result = model.train(
        data=str(data_arg), epochs=epochs, imgsz=imgsz, batch=batch, workers=0, device=device, seed=seed,
        deterministic=True, plots=False, amp=False, project=str(work), name="run", exist_ok=True, verbose=False,
    )  # fmt: skip
    metrics = {k: round(float(v), 4) for k, v in (getattr(result, "results_dict", None) or {}).items()}
    best = work / "run" / "weights" / "best.pt"
    exported = Path(YOLO(str(best)).export(format="onnx", imgsz=imgsz, opset=ONNX_OPSET, simplify=False, dynamic=False, device="cpu"))
    onnx_path = out / "model.onnx"
    shutil.copyfile(exported, onnx_path)
    record = {
        "task": task, "onnx": onnx_path.name, "onnx_sha256": file_sha256(onnx_path), "names": ds.names,
        "data": {**ds.summary(), "train_images": counts["train"], "val_images": counts["val"], "val_fraction": val_fraction,
                 "min_examples": district_data.MIN_EXAMPLES[task] if min_examples is None else min_examples},
        "init": parent or {"name": "scratch"}, "epochs": epochs, "imgsz": imgsz, "batch": batch, "seed": seed,
        "metrics": metrics, "seconds": round(time.monotonic() - started, 1), "ultralytics": __version__,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }  # fmt: skip
    (out / "training.json").write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    return record

