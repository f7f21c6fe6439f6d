"""Run the real fire_smoke model over the scenes, then replay the judge's region tracking on them.

The model's boxes are cached per distinct frame (a JSON file keyed by the scenes' frame keys and the
model file's SHA-256), because the model is the slow part (~70 ms a frame on 2 cores) and refitting
the decision should not need it again. The replay uses epatrol.detectors.fire.fire_features, exactly the
code the judge runs, so a row here is what the judge would score at that sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from epatrol.detectors.fire.fire_features import (
    FEATURES,
    RegionTracker,
    feature_vector,
    region_features,
)
from epatrol.models.manifest import FIRE_SMOKE_CLASSES
from epatrol.training.fire_data import STEP_S, Scene

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
KINDS = ("fire", "smoke")


def detect_all(scenes: list[Scene], models_dir: Path | None, cache: Path | None, confidence: float,
               log: Callable[[str], None] = print) -> dict[str, np.ndarray]:
    """key -> (n, 6) array x1 y1 x2 y2 score class, for every distinct frame of the scenes."""
    from epatrol.models.detector import load_detector
    from epatrol.models.manifest import get_spec, resolve_models_dir

    stored: dict[str, list] = {}
    spec = get_spec("fire_smoke")
    tag = f"{spec.sha256}:{confidence}"
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        stored = data["boxes"] if data.get("tag") == tag else {}
    model = None
    for scene in scenes:
        for key, frame in scene.samples():
            if key in stored:
                continue
            if model is None:
                log(f"running the fire_smoke model from {resolve_models_dir(models_dir)}")
                model = load_detector("fire_smoke", models_dir, threads=2)
            d = model.detect(frame, conf=confidence)
            stored[key] = [[*map(float, b), float(s), int(c)] for b, s, c in zip(d.xyxy, d.confidence, d.class_id)]
            if len(stored) % 200 == 0:
                log(f"  {len(stored)} frames detected")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"tag": tag, "boxes": stored}))
    return {k: np.asarray(v, np.float32).reshape(-1, 6) for k, v in stored.items()}


@dataclass
class Rows:
    """One row per (sample, region in the tracker): what the judge would score then."""

    x: np.ndarray  # (n, len(FEATURES))
    y: np.ndarray  # 1: a burning scene inside its labelled interval, 0: a negative scene
    kind: np.ndarray  # "fire" / "smoke"
    scene: np.ndarray  # scene index
    t: np.ndarray  # sample time in the scene (s)
    region: np.ndarray  # region id within the scene
    keep: np.ndarray  # False: a positive scene outside its labelled interval (not used to fit)


def replay(scenes: list[Scene], boxes: dict[str, np.ndarray], window_s: float, confidence: float) -> Rows:
    cols: dict[str, list] = {k: [] for k in ("x", "y", "kind", "scene", "t", "region", "keep")}
    for si, scene in enumerate(scenes):
        tracker = RegionTracker(window_s)
        for n, (key, frame) in enumerate(scene.samples()):
            now = T0 + timedelta(seconds=n * STEP_S)
            d = boxes[key]
            d = d[(d[:, 4] >= confidence)]
            labels = [FIRE_SMOKE_CLASSES[int(c)] for c in d[:, 5]]
            tracker.update(now, frame, d[:, :4], d[:, 4], labels)
            inside = scene.truth[n] if n < len(scene.truth) else False
            for r in tracker.regions:
                cols["x"].append(feature_vector(region_features(r, now, window_s, STEP_S)))
                cols["y"].append(1 if scene.positive else 0)
                cols["kind"].append(r.kind)
                cols["scene"].append(si)
                cols["t"].append(n * STEP_S)
                cols["region"].append(r.id)
                cols["keep"].append(inside or not scene.positive)
    x = np.asarray(cols["x"], np.float64).reshape(-1, len(FEATURES))
    return Rows(x, np.asarray(cols["y"], np.int32), np.asarray(cols["kind"]), np.asarray(cols["scene"], np.int32),
                np.asarray(cols["t"], np.float64), np.asarray(cols["region"], np.int32), np.asarray(cols["keep"], bool))
