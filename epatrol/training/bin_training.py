"""Training and measuring the bin-area classifier from the labelled photo set (`epatrol train-bins`).

The set (../shared/datasets/bins-clean-dirty: train/clean, train/dirty) has two traps, both handled
here before anything is fitted:

- byte-identical copies (about 44): de-duplicated by SHA-256 BEFORE splitting, otherwise a photo
  lands in both halves and the held-out figures flatter; a copy filed under both labels is dropped.
- near-copies of one scene: Google Street View frames `00123_04.jpg` are headings from the same
  spot (00123), WhatsApp photos sent within the same minute are usually the same bin, and resized
  re-posts differ in bytes only. Photos are grouped (same spot, same minute, or a difference hash
  within DHASH_NEAR bits) and whole groups go to one side of the split.

And a shortcut: a third of the clean photos are wide Street View frames while most dirty ones
are close phone photos, so a classifier can learn the camera rather than the rubbish. Samples
are weighted so that each (source type, label) cell weighs the same in the fit, and every figure
is reported per source type as well as overall.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from epatrol.detectors.bins.bin_classifier import BinEmbedder, BinParameters

LABELS = {"clean": 0, "dirty": 1}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
STREET_VIEW = re.compile(r"^(\d{5})_\d{2}$")
WHATSAPP = re.compile(r"^WhatsApp_Image_(\d{4}-\d{2}-\d{2}_at_\d{1,2}\.\d{2})")
DHASH_NEAR = 6  # of 64 bits: resized or re-encoded copies of one photo differ by fewer
L2_CHOICES = (0.003, 0.01, 0.03, 0.1, 0.3)
CV_FOLDS = 4


@dataclass(frozen=True)
class Photo:
    path: Path
    label: int  # 0 clean, 1 dirty
    source: str  # "streetview" | "whatsapp" | "web"
    sha256: str
    group: str  # photos of one scene share it; a group never straddles the split


def source_type(name: str) -> str:
    stem = Path(name).stem
    if STREET_VIEW.match(stem):
        return "streetview"
    if WHATSAPP.match(stem):
        return "whatsapp"
    return "web"


def _name_key(name: str) -> str:
    stem = Path(name).stem
    if m := STREET_VIEW.match(stem):
        return f"sv:{m.group(1)}"
    if m := WHATSAPP.match(stem):
        return f"wa:{m.group(1)}"
    return f"web:{stem}"


def _dhash(path: Path) -> int:
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError(f"{path}: not a readable image")
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


@dataclass
class DatasetReport:
    files: int
    duplicates_removed: int
    conflicting_labels_dropped: int
    photos: int
    groups: int


def read_dataset(root: Path | str) -> tuple[list[Photo], DatasetReport]:
    """Every labelled photo under root/train/{clean,dirty} (or root/{clean,dirty}), de-duplicated and grouped."""
    root = Path(root)
    base = root / "train" if (root / "train").is_dir() else root
    entries: list[tuple[Path, int]] = []
    for name, label in LABELS.items():
        folder = base / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: missing (expected {base}/clean and {base}/dirty)")
        entries += [(p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not entries:
        raise ValueError(f"{base}: no images in clean/ or dirty/")

    by_hash: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    for path, label in entries:
        by_hash[hashlib.sha256(path.read_bytes()).hexdigest()].append((path, label))
    kept: list[tuple[Path, int, str]] = []
    conflicts = 0
    for digest, copies in sorted(by_hash.items()):
        if len({lbl for _, lbl in copies}) > 1:
            conflicts += 1  # the same bytes called both clean and dirty: no truth to learn from
            continue
        path, label = min(copies, key=lambda c: c[0].name)
        kept.append((path, label, digest))

    # Union-find over "same scene" evidence: name pattern, then near-identical pixels.
    parent = list(range(len(kept)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    first_of: dict[str, int] = {}
    for i, (path, _, _) in enumerate(kept):
        key = _name_key(path.name)
        if key in first_of:
            union(i, first_of[key])
        else:
            first_of[key] = i
    hashes = np.array([_dhash(p) for p, _, _ in kept], dtype=np.uint64)
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1)
    for i in range(len(kept)):
        dist = np.count_nonzero(bits[i + 1 :] != bits[i], axis=1)
        for j in np.nonzero(dist <= DHASH_NEAR)[0]:
            union(i, i + 1 + int(j))

    photos = [
        Photo(path, label, source_type(path.name), digest, kept[find(i)][2][:16])
        for i, (path, label, digest) in enumerate(kept)
    ]
    report = DatasetReport(
        files=len(entries),
        duplicates_removed=len(entries) - len(kept) - sum(len(c) for c in by_hash.values() if len({l for _, l in c}) > 1),
        conflicting_labels_dropped=conflicts,
        photos=len(photos),
        groups=len({p.group for p in photos}),
    )
    return photos, report


def split(photos: Sequence[Photo], test_percent: float = 25.0) -> tuple[list[Photo], list[Photo]]:
    """Deterministic group split: a group goes to the test side when the hash of its id says so."""
    if not 0 < test_percent < 100:
        raise ValueError(f"test_percent must be between 0 and 100, got {test_percent}")

    def to_test(group: str) -> bool:
        return int(hashlib.sha256(f"split:{group}".encode()).hexdigest()[:8], 16) % 10000 < test_percent * 100

    train = [p for p in photos if not to_test(p.group)]
    test = [p for p in photos if to_test(p.group)]
    return train, test


def as_camera_sees_it(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo as a street camera would deliver it: another exposure (gain 0.45..1.1, gamma),
    sensor noise (sigma 1..4) and strong lossy compression (JPEG quality 15..45). Measured on
    held-out clean photos held as H.264 clips: compression alone moved P(overflowing) from 0.32
    to 0.70 and from 0.07 to 0.38 for a model trained on the photos only."""
    gain, gamma = rng.uniform(0.45, 1.1), rng.uniform(0.8, 1.4)
    out = 255.0 * (img.astype(np.float32) / 255.0) ** gamma * gain
    out = np.clip(out + rng.normal(0.0, rng.uniform(1.0, 4.0), img.shape), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 46))])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def extract(
    photos: Sequence[Photo], embedder: BinEmbedder, progress: Callable[[int, int], None] | None = None, camera_like: bool = False
) -> np.ndarray:
    """Embeddings of the photos; with `camera_like`, of each as_camera_sees_it (seeded by its hash)."""
    rows = []
    for i, p in enumerate(photos):
        img = cv2.imread(str(p.path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"{p.path}: not a readable image")
        if camera_like:
            img = as_camera_sees_it(img, np.random.default_rng(int(p.sha256[:8], 16)))
        rows.append(embedder.embed(img))
        if progress and (i + 1) % 200 == 0:
            progress(i + 1, len(photos))
    return np.stack(rows)


def balanced_weights(labels: np.ndarray, sources: Sequence[str]) -> np.ndarray:
    """Each (source type, label) cell weighs the same: the camera type cannot stand in for the label."""
    cells = [(s, int(y)) for s, y in zip(sources, labels)]
    counts = Counter(cells)
    w = np.array([1.0 / counts[c] for c in cells])
    return w * len(w) / w.sum()


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float, iters: int = 300) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression on standardised x, by Newton's method (the problem is small)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, l2 * n)
    reg[-1] = 0.0  # the bias is not shrunk
    wsum = weights.sum()
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ theta, -40, 40)))
        grad = xb.T @ (weights * (p - y)) / wsum * n + reg * theta
        hess = (xb * (weights * p * (1 - p))[:, None]).T @ xb / wsum * n + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return theta[:-1], float(theta[-1])


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-6, scale, 1.0)


def metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    pred = p >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    n = len(y)
    return {
        "n": n,
        "clean": int(np.sum(y == 0)),
        "dirty": int(np.sum(y == 1)),
        "accuracy": round((tp + tn) / n, 4) if n else None,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "clean_correct": round(tn / (tn + fp), 4) if tn + fp else None,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def report(y: np.ndarray, p: np.ndarray, sources: Sequence[str], threshold: float) -> dict[str, Any]:
    out = {"overall": metrics(y, p, threshold)}
    src = np.array(sources)
    for s in sorted(set(sources)):
        out[s] = metrics(y[src == s], p[src == s], threshold)
    return out


def _group_folds(groups: Sequence[str], k: int) -> np.ndarray:
    return np.array([int(hashlib.sha256(f"fold:{g}".encode()).hexdigest()[:8], 16) % k for g in groups])


def cross_validated_fit(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, folds: np.ndarray, l2_choices: Sequence[float], thresholds: np.ndarray,
    log: Callable[[str], None] = print, label: str = "",
) -> tuple[BinParameters, float, dict[str, float], np.ndarray]:
    """The L2 strength with the best weighted accuracy of out-of-fold scores (folds: one group on one
    side), the threshold among `thresholds` that maximises it on those scores, then the fit on all of
    x. Returns (parameters with that threshold, L2, {L2: cross-validated accuracy}, out-of-fold scores)."""
    best: tuple[float, float, np.ndarray] | None = None
    cv: dict[str, float] = {}
    for l2 in l2_choices:
        oof = np.zeros(len(y))
        for f in np.unique(folds):
            tr, va = folds != f, folds == f
            mean, scale = standardiser(x[tr])
            coef, bias = fit_logistic((x[tr] - mean) / scale, y[tr], w[tr], l2)
            oof[va] = 1.0 / (1.0 + np.exp(-np.clip(((x[va] - mean) / scale) @ coef + bias, -40, 40)))
        score = float(np.sum(w * ((oof >= 0.5) == y)) / w.sum())  # balanced as the weights define it
        cv[str(l2)] = round(score, 4)
        log(f"  {label}l2={l2}: cross-validated balanced accuracy {score:.4f}")
        if best is None or score > best[1]:
            best = (l2, score, oof)
    assert best is not None
    l2, _, oof = best
    acc = [float(np.sum(w * ((oof >= t) == y)) / w.sum()) for t in thresholds]
    threshold = float(thresholds[int(np.argmax(acc))])
    mean, scale = standardiser(x)
    coef, bias = fit_logistic((x - mean) / scale, y, w, l2)
    params = BinParameters(mean.astype(np.float32), scale.astype(np.float32), coef.astype(np.float32), bias, threshold)
    return params, l2, cv, oof


def fit(x: np.ndarray, y: np.ndarray, sources: Sequence[str], groups: Sequence[str], log: Callable[[str], None] = print) -> tuple[BinParameters, dict[str, Any]]:
    """Pick the L2 strength and the threshold by group cross-validation on x, then fit on all of x."""
    folds = _group_folds(groups, CV_FOLDS)
    w = balanced_weights(y, sources)
    clf, l2, cv, oof = cross_validated_fit(x, y, w, folds, L2_CHOICES, np.linspace(0.2, 0.8, 61), log)
    threshold = clf.threshold
    return clf, {"l2": l2, "cv_balanced_accuracy": cv, "threshold": round(threshold, 3), "cv_oof": report(y, oof, sources, threshold)}


def train(
    data: Path | str,
    out: Path | str | None,
    models_dir: Path,
    test_percent: float = 25.0,
    log: Callable[[str], None] = print,
    limit: int | None = None,
) -> dict[str, Any]:
    """Read, de-duplicate, group-split, fit on the train side, measure on the held-out side, save.

    `limit` keeps every n-th photo only, so that at most `limit` remain (a quick run, for tests)."""
    started = time.monotonic()
    photos, ds = read_dataset(data)
    if limit is not None and len(photos) > limit:
        photos = photos[:: -(-len(photos) // limit)]
    log(f"{ds.files} files, {ds.duplicates_removed} byte-identical copies removed, "
        f"{ds.conflicting_labels_dropped} copies with both labels dropped: {ds.photos} photos in {ds.groups} scene groups")
    train_set, test_set = split(photos, test_percent)
    if not train_set or not test_set or len({p.label for p in train_set}) < 2:
        raise ValueError(f"the split left {len(train_set)} training and {len(test_set)} test photos: too few to train")
    log(f"split by scene group: {len(train_set)} train, {len(test_set)} held out")
    embedder = BinEmbedder(models_dir)
    # Each training photo twice: as taken, and as a camera would deliver it (same scene group, so
    # cross-validation keeps the two copies on one side).
    x_train = np.vstack([
        extract(train_set, embedder, lambda i, n: log(f"  embeddings {i}/{n}")),
        extract(train_set, embedder, lambda i, n: log(f"  camera-like embeddings {i}/{n}"), camera_like=True),
    ])
    twice = list(train_set) * 2
    y_train = np.array([p.label for p in twice], np.float64)
    clf, chosen = fit(x_train, y_train, [p.source for p in twice], [p.group for p in twice], log)
    y_test = np.array([p.label for p in test_set], np.float64)
    sources = [p.source for p in test_set]
    held_out = report(y_test, clf.score_features(extract(test_set, embedder)), sources, clf.threshold)
    held_out_camera_like = report(y_test, clf.score_features(extract(test_set, embedder, camera_like=True)), sources, clf.threshold)
    result: dict[str, Any] = {
        "dataset": vars(ds),
        "train": len(train_set),
        "test": len(test_set),
        "test_files": sorted(p.path.name for p in test_set),
        **chosen,
        "held_out": held_out,
        "held_out_camera_like": held_out_camera_like,
        "seconds": round(time.monotonic() - started, 1),
    }
    if out is not None:
        result["sha256"] = clf.save(out, trained_on=str(Path(data).name), test_percent=str(test_percent))
        result["out"] = str(out)
    return result


def held_out_photos(data: Path | str, test_percent: float = 25.0) -> list[Photo]:
    """The photos `train()` keeps out of training (for building test scenes and measuring)."""
    photos, _ = read_dataset(data)
    return split(photos, test_percent)[1]
