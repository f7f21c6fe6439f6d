"""The district's own models: `epatrol models add` registers an Ultralytics ONNX export in
<models dir>/models.json (manifest.py reads it) with what a reviewer of the model needs to trust it:
its checksum, classes, task and input size (read from the export's own metadata), its licence,
the data it was trained on and the model it started from (from the training record beside it)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .manifest import MODELS, REGISTRY, ModelError, district_specs, file_sha256

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TRAINING_RECORD = "training.json"  # written by `epatrol train` beside the ONNX file


def export_metadata(path: Path) -> dict[str, Any]:
    """names, imgsz, task and the input of an Ultralytics ONNX export; ModelError naming what is missing."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelError(f"{path}: not an ONNX model ({exc})") from exc
    meta = {p.key: p.value for p in model.metadata_props}
    missing = [k for k in ("names", "imgsz", "task") if k not in meta]
    if missing:
        raise ModelError(
            f"{path}: no {', '.join(missing)} in the ONNX metadata: register an Ultralytics export "
            "(`epatrol train` writes one)"
        )
    try:
        names = ast.literal_eval(meta["names"])
        imgsz = ast.literal_eval(meta["imgsz"])
    except (ValueError, SyntaxError) as exc:
        raise ModelError(f"{path}: unreadable names or imgsz metadata ({exc})") from exc
    if meta["task"] not in ("detect", "classify"):
        raise ModelError(f"{path}: task {meta['task']!r} is not supported (detect or classify)")
    if not isinstance(names, dict) or sorted(names) != list(range(len(names))) or not names:
        raise ModelError(f"{path}: names metadata is not {{0: 'class', ...}}: {meta['names'][:200]}")
    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    inputs = [i for i in model.graph.input if i.name not in {init.name for init in model.graph.initializer}]
    if len(inputs) != 1:
        raise ModelError(f"{path}: expected one input, got {[i.name for i in inputs]}")
    return {
        "task": meta["task"], "class_names": [str(names[i]) for i in range(len(names))], "input_size": [int(w), int(h)],
        "input_name": inputs[0].name, "licence": meta.get("license", "").split(" ")[0] or "unknown",
    }  # fmt: skip


def training_record(path: Path, sha256: str) -> dict[str, Any] | None:
    """The `epatrol train` record beside the file, when it describes this very file."""
    rec_path = path.parent / TRAINING_RECORD
    if not rec_path.is_file():
        return None
    try:
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return rec if rec.get("onnx_sha256") == sha256 else None


def add_model(
    file: Path, name: str, models_dir: Path, licence: str | None = None, source: str | None = None, replace: bool = False
) -> dict[str, Any]:
    """Copy file into models_dir as <name>.onnx and register it; returns the registry entry."""
    if not NAME.fullmatch(name):
        raise ModelError(f"model name {name!r}: use lower-case letters, digits and _ (start with a letter, at most 64)")
    if name in MODELS:
        raise ModelError(f"model name {name!r} is a built-in model; choose another name")
    file, models_dir = Path(file).resolve(), Path(models_dir).resolve()
    if not file.is_file():
        raise ModelError(f"model file not found: {file}")
    registered = district_specs(models_dir)
    if name in registered and not replace:
        raise ModelError(f"model {name!r} is already registered in {models_dir / REGISTRY}; pass --replace to register a new file under it")
    meta = export_metadata(file)
    sha = file_sha256(file)
    record = training_record(file, sha)
    target = models_dir / f"{name}.onnx"
    if target != file:
        tmp = target.with_suffix(".partial")
        shutil.copyfile(file, tmp)
        os.replace(tmp, target)
    entry = {
        **meta,
        "file": target.name,
        "sha256": sha,
        "licence": licence or meta["licence"],
        "source": source or (f"trained by `epatrol train` from {record['data']['folder']}" if record else str(file)),
        "data": record["data"] if record else None,
        "parent": record.get("init") if record else None,
        "training": {k: record[k] for k in ("epochs", "imgsz", "metrics", "seconds", "ultralytics")} if record else None,
        "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    entries = read_entries(models_dir)
    entries[name] = entry
    tmp = models_dir / f"{REGISTRY}.partial"
    tmp.write_text(json.dumps({"models": entries}, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, models_dir / REGISTRY)
    district_specs(models_dir)  # what was written reads back
    return entry


def read_entries(models_dir: Path) -> dict[str, dict[str, Any]]:
    path = Path(models_dir) / REGISTRY
    if not path.is_file():
        return {}
    district_specs(models_dir)  # a damaged registry fails here, naming the file
    return json.loads(path.read_text(encoding="utf-8"))["models"]


def listing(models_dir: Path | None) -> list[dict[str, Any]]:
    """Every model epatrol can load: the built-ins, then the district's (when a models dir is known)."""
    rows = [
        {"name": s.name, "origin": "built-in", "task": s.task, "file": s.file, "classes": len(s.class_names),
         "input": f"{s.input_size[0]}x{s.input_size[1]}", "licence": s.licence, "source": "", "sha256": s.sha256}
        for s in MODELS.values()
    ]  # fmt: skip
    for name, e in (read_entries(models_dir) if models_dir is not None else {}).items():
        rows.append({
            "name": name, "origin": "district", "task": e["task"], "file": e["file"], "classes": len(e["class_names"]),
            "input": f"{e['input_size'][0]}x{e['input_size'][1]}", "licence": e["licence"], "source": e.get("source") or "",
            "sha256": e["sha256"],
        })  # fmt: skip
    return rows
