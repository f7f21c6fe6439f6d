"""`epatrol fit-fire`: fit the open-burning decision on real scenes and write it with a report.

Steps: build the scenes (fire_data.py), run the real fire_smoke model on every distinct frame
(cached), replay the judge's region tracking and features (fire_replay.py), then for each kind of
region (fire, smoke) fit an L2 logistic regression on all the features, on the rows that have the
judge's hit floor (a region seen fewer times never confirms, whatever its score).

- Weights: every scene group weighs the same within its class, and the two classes weigh the same
  (a 115-frame sequence or 122 held stills must not drown a short fire).
- Hyper-parameter: the L2 strength, by cross-validation with folds grouped by scene group (runs
  that share a picture are one group: one scene is never on both sides), on weighted log-loss.
- Threshold: the false-alert budget is <= 1 false confirmation per camera-day at 2 samples/s. The
  negative footage here is under half a camera-hour, so one false confirmation in it is already
  ~50 per camera-day: the only threshold it can support is one with NO false confirmation on any
  negative scene. For each kind: just above (MARGIN log-odds) the highest score the shipped model
  gives a negative row with the hit floor. Out-of-fold scores would set it higher still: a fold that
  holds out the one group of fogger videos has never seen fogger fog, and scores it like fire smoke.
  The report gives the out-of-fold figures AT the shipped threshold (what a new kind of scene does),
  and the bound the zero in-sample count gives (95% upper limit 3 / negative camera-time).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from epatrol.detectors.fire.fire_features import FEATURES
from epatrol.training.bin_training import (  # the same weighted L2 logistic regression
    fit_logistic,
    standardiser,
)
from epatrol.training.fire_data import STEP_S, build_scenes
from epatrol.training.fire_replay import KINDS, Rows, detect_all, replay
from epatrol.training.fire_report import write_report

WINDOW_S = 4.0  # features window (8 samples at 2 a second)
MIN_HITS = 3  # the judge's floor: a one-frame false positive never confirms
CONFIDENCE = 0.3
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
FOLDS = 5
MARGIN = 0.25  # threshold: the highest negative score plus this much log-odds
COMMAND = "epatrol fit-fire --shared ../shared --out epatrol/detectors/fire/data/fire_decision.json --report docs/reports"


def predict(x: np.ndarray, model: dict[str, Any]) -> np.ndarray:
    z = ((x - model["mean"]) / model["scale"]) @ model["weights"] + model["bias"]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def train(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> dict[str, Any]:
    mean, scale = standardiser(x)
    weights, bias = fit_logistic((x - mean) / scale, y, w, l2)
    return {"mean": mean, "scale": scale, "weights": weights, "bias": bias}


def threshold_above(negative_scores: np.ndarray) -> float:
    """Just above the highest negative score (MARGIN in log-odds): no negative row confirms."""
    top = float(np.clip(negative_scores.max(initial=0.01), 1e-6, 1 - 1e-6))
    return float(1.0 / (1.0 + np.exp(-(np.log(top / (1 - top)) + MARGIN))))


def balanced_weights(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group the same total weight within its class; both classes the same total."""
    w = np.zeros(len(y))
    for label in (0, 1):
        mine = y == label
        gs = np.unique(groups[mine])
        for g in gs:
            sel = mine & (groups == g)
            w[sel] = 1.0 / (sel.sum() * len(gs))
    return w


def group_folds(groups: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Fold of each row: groups dealt round-robin, those holding positives first (so every fold has some)."""
    names = sorted(set(groups.tolist()))
    pos = [g for g in names if y[groups == g].max() == 1]
    neg = [g for g in names if g not in set(pos)]
    fold_of = {g: i % k for i, g in enumerate(pos)}
    fold_of.update({g: (i + len(pos)) % k for i, g in enumerate(neg)})
    return np.array([fold_of[g] for g in groups])


def weighted_logloss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / np.sum(w))


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int = FOLDS) -> tuple[float, np.ndarray, dict[float, float]]:
    """(chosen L2, out-of-fold probabilities at it, log-loss per L2)."""
    folds = group_folds(groups, y, k)
    w = balanced_weights(y, groups)
    losses, oofs = {}, {}
    for l2 in L2_GRID:
        oof = np.zeros(len(y))
        for f in range(k):
            test = folds == f
            train_rows = ~test
            if not test.any() or len(set(y[train_rows].tolist())) < 2:
                oof[test] = 0.5
                continue
            model = train(x[train_rows], y[train_rows], balanced_weights(y[train_rows], groups[train_rows]), l2)
            oof[test] = predict(x[test], model)
        losses[l2], oofs[l2] = weighted_logloss(y, oof, w), oof
    best = min(L2_GRID, key=lambda l2: (round(losses[l2], 4), -l2))  # ties: the stronger shrinkage
    return best, oofs[best], losses


def fit_decision(rows: Rows, groups_of_scene: np.ndarray, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Per kind: the chosen L2, the final model, out-of-fold and in-sample scores, the threshold."""
    usable = rows.keep & (rows.x[:, FEATURES.index("hits")] >= MIN_HITS)
    out: dict[str, Any] = {}
    for kind in KINDS:
        sel = usable & (rows.kind == kind)
        x, y, groups = rows.x[sel], rows.y[sel], groups_of_scene[rows.scene[sel]]
        if len(set(y.tolist())) < 2:
            raise ValueError(f"no {kind} rows of both classes to fit on ({len(y)} rows)")
        l2, oof, losses = cross_validate(x, y, groups)
        model = train(x, y, balanced_weights(y, groups), l2)
        fitted = predict(x, model)
        threshold = threshold_above(fitted[y == 0])
        log(f"{kind}: {len(y)} rows ({int(y.sum())} positive) from {len(set(groups.tolist()))} groups; "
            f"L2 {l2} (log-loss {', '.join(f'{k:g}: {v:.3f}' for k, v in losses.items())}); threshold {threshold:.3f}")
        out[kind] = {"model": model, "l2": l2, "losses": losses, "threshold": threshold, "rows": sel, "oof": oof, "fitted": fitted}
    return out


def decision_json(fitted: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    kinds = {
        kind: {
            "mean": [round(float(v), 6) for v in f["model"]["mean"]],
            "scale": [round(float(v), 6) for v in f["model"]["scale"]],
            "weights": [round(float(v), 6) for v in f["model"]["weights"]],
            "bias": round(float(f["model"]["bias"]), 6),
            "threshold": round(f["threshold"], 4),
            "l2": f["l2"],
        }
        for kind, f in fitted.items()
    }
    digest = hashlib.sha256(json.dumps(kinds, sort_keys=True).encode()).hexdigest()[:8]
    today = datetime.now(timezone.utc).date().isoformat()
    return {
        "version": f"{today}-{digest}",
        "date": today,
        "command": COMMAND,
        "model": "fire_smoke (light_yolov8_flame_416.onnx)",
        "confidence": CONFIDENCE,
        "window_s": WINDOW_S,
        "sample_every_s": STEP_S,
        "min_hits": MIN_HITS,
        "features": list(FEATURES),
        "kinds": kinds,
        "training_data": summary,
    }


def run(shared: Path, out: Path, report: Path | None, models_dir: Path | None = None, cache: Path | None = None,
        limit: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole fit; writes `out` (and the report into `report` when given). Returns the decision."""
    scenes = build_scenes(shared, limit=limit)
    log(f"{len(scenes)} scenes ({sum(s.positive for s in scenes)} positive)")
    boxes = detect_all(scenes, models_dir, cache, CONFIDENCE, log=log)
    rows = replay(scenes, boxes, WINDOW_S, CONFIDENCE)
    group_names = sorted({s.group for s in scenes})
    groups_of_scene = np.array([s.group for s in scenes])
    fitted = fit_decision(rows, groups_of_scene, log=log)
    neg_s = sum(len(s.truth) for s in scenes if not s.positive) * STEP_S
    summary = {
        "scenes": len(scenes),
        "positive_scenes": sum(s.positive for s in scenes),
        "negative_scenes": sum(not s.positive for s in scenes),
        "groups": len(group_names),
        "negative_camera_s": neg_s,
        "kinds_of_scene": {k: sum(s.kind == k for s in scenes) for k in sorted({s.kind for s in scenes})},
        "rows": {kind: int(f["rows"].sum()) for kind, f in fitted.items()},
        "positive_rows": {kind: int(rows.y[f["rows"]].sum()) for kind, f in fitted.items()},
    }
    decision = decision_json(fitted, summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(decision, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out} (version {decision['version']})")
    if report is not None:
        write_report(report, scenes, rows, groups_of_scene, fitted, decision, log=log)
    return decision
