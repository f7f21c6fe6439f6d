"""Fitting the bin-presence classifier: is there a bin in this crop? (`epatrol train-bins --presence`)

Positives: the bin photos of ../shared/datasets/bins-clean-dirty (clean and dirty: every one shows
a bin), training side of the classifier's own group split only (bin_training.split), so the
held-out photos stay unseen by both classifiers. Negatives: crops with no bin from the other real
media (bins_presence_data.py), except the held-out sources kept for measuring. Each crop is used
as taken and in one light variant of bins_light.py, the bin photos as taken and LIGHT_PHOTOS of
them in a light variant, so that neither darkness nor glare can stand for "no bin".

Same embedding as the overflow score (bin_classifier.BinEmbedder: one backbone run serves both),
same logistic regression (bin_training.fit_logistic). The L2 strength and the threshold are picked
by group cross-validation: folds by scene group, so that frames of one video or photos of one spot
never sit on both sides; each class weighs the same, and within it each source (Street View,
WhatsApp, web photos; each video or photo set of the negatives) weighs the same.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from epatrol.detectors.bins.bin_classifier import BinEmbedder, BinParameters
from epatrol.training.bin_training import (
    as_camera_sees_it,
    cross_validated_fit,
    read_dataset,
    split,
)
from epatrol.training.bins_light import lit
from epatrol.training.bins_presence_data import negative_crops

L2_CHOICES = (0.01, 0.03, 0.1, 0.3, 1.0)
CV_FOLDS = 5
NEGATIVE_VARIANTS = ("orig", "light")  # "light": dusk or night (light_of), one per image
# Bin photos are all used as taken, and LIGHT_PHOTOS of them (the first by name hash) also in a
# light variant: it bounds a refit to ~1700 backbone runs (about 5 min on a free 2-core box).
LIGHT_PHOTOS = 400


def _seed(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def variant(img: np.ndarray, name: str, key: str) -> np.ndarray:
    """The image as taken ("orig"), as a camera delivers it, or at dusk or night ("light"); seeded by key."""
    if name == "orig":
        return img
    if name == "camera":
        return as_camera_sees_it(img, np.random.default_rng(int(key[:8], 16)))
    if name == "light":
        return lit(img, key)
    raise ValueError(f"unknown variant {name!r}")


def source_weights(y: np.ndarray, sources: Sequence[str]) -> np.ndarray:
    """Each class weighs the same; within a class each source weighs the same."""
    cells = [(int(c), s) for c, s in zip(y, sources)]
    count = Counter(cells)
    per_class = Counter(c for c, _ in count)  # sources per class
    w = np.array([1.0 / (count[cell] * per_class[cell[0]]) for cell in cells])
    return w * len(w) / w.sum()


def folds_of(groups: Sequence[str], k: int = CV_FOLDS) -> np.ndarray:
    return np.array([_seed(f"presence-fold:{g}") % k for g in groups])


def rates(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    pred = p >= threshold
    pos, neg = y == 1, y == 0
    out: dict[str, Any] = {"n": int(len(y)), "bins": int(pos.sum()), "no_bin": int(neg.sum())}
    out["bins_found"] = round(float(pred[pos].mean()), 4) if pos.any() else None  # recall of "bin"
    out["no_bin_rejected"] = round(float((~pred[neg]).mean()), 4) if neg.any() else None
    out["accuracy"] = round(float((pred == pos).mean()), 4) if len(y) else None
    return out


def by_source(y: np.ndarray, p: np.ndarray, sources: Sequence[str], threshold: float) -> dict[str, Any]:
    src = np.array(sources)
    out = {"overall": rates(y, p, threshold)}
    for s in sorted(set(sources)):
        out[s] = rates(y[src == s], p[src == s], threshold)
    return out


def fit_presence(
    x: np.ndarray, y: np.ndarray, groups: Sequence[str], sources: Sequence[str], log: Callable[[str], None] = print
) -> tuple[BinParameters, dict[str, Any]]:
    """Pick L2 and the threshold by group cross-validation, then fit on everything given.

    Measured (docs/reports/overflowing_bins.md): L2 0.01, threshold 0.9; out of fold 0.936 of the
    bin photos found, 0.745 of the no-bin crops rejected (about half for a scene type never seen)."""
    folds = folds_of(groups)
    w = source_weights(y, sources)
    # thresholds up to 0.9: the threshold that maximises the class- and source-balanced accuracy out of fold
    params, l2, cv, oof = cross_validated_fit(x, y, w, folds, L2_CHOICES, np.linspace(0.1, 0.9, 81), log, label="presence ")
    threshold = params.threshold
    return params, {"l2": l2, "cv_balanced_accuracy": cv, "threshold": round(threshold, 3),
                    "cv_oof": by_source(y, oof, sources, threshold), "oof": oof}


def train_presence(
    data: Path | str, shared_dir: Path | str, out: Path | str | None, models_dir: Path, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Embed, fit with group CV, measure on the held-out bin photos and held-out no-bin sources, save."""
    started = time.monotonic()
    photos, _ = read_dataset(data)
    train_set, test_set = split(photos)
    crops = negative_crops(shared_dir)
    fit_crops = [c for c in crops if not c.held_out]
    test_crops = [c for c in crops if c.held_out]
    embedder = BinEmbedder(models_dir)
    rows: list[np.ndarray] = []
    y: list[int] = []
    groups: list[str] = []
    sources: list[str] = []
    lit = {p.path.name for p in sorted(train_set, key=lambda p: hashlib.sha256(p.path.name.encode()).hexdigest())[:LIGHT_PHOTOS]}
    for i, p in enumerate(train_set):
        img = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
        for v in ("orig", "light") if p.path.name in lit else ("orig",):
            rows.append(embedder.embed(variant(img, v, p.sha256)))
            y.append(1), groups.append(p.group), sources.append(f"bins:{p.source}")
        if (i + 1) % 200 == 0:
            log(f"  bin photos {i + 1}/{len(train_set)}")
    for c in fit_crops:
        for v in NEGATIVE_VARIANTS:
            rows.append(embedder.embed(variant(c.image, v, hashlib.sha256(c.key.encode()).hexdigest())))
            y.append(0), groups.append(c.group), sources.append(c.source)
    log(f"fitting on {len(rows)} embeddings ({len(train_set)} bin photos, {len(fit_crops)} no-bin crops, with light variants)")
    params, chosen = fit_presence(np.stack(rows), np.array(y, np.float64), groups, sources, log)
    chosen.pop("oof")
    t_rows = [embedder.embed(cv2.imread(str(p.path), cv2.IMREAD_COLOR)) for p in test_set]
    t_rows += [embedder.embed(c.image) for c in test_crops]
    t_y = np.array([1] * len(test_set) + [0] * len(test_crops), np.float64)
    t_src = [f"bins:{p.source}" for p in test_set] + [c.source for c in test_crops]
    result: dict[str, Any] = {
        "fit": {"bin_photos": len(train_set), "no_bin_crops": len(fit_crops), "embeddings": len(rows)},
        **chosen,
        "held_out": by_source(t_y, params.score_features(np.stack(t_rows)), t_src, params.threshold),
        "seconds": round(time.monotonic() - started, 1),
    }
    if out is not None:
        result["sha256"] = params.save(out, trained_on="bins-clean-dirty + no-bin crops of ../shared/media and fire-smoke-cctv")
        result["out"] = str(out)
    return result
