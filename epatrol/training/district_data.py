"""A district's labelled folder, checked before any training starts, and split for training.

Boxes (task detect), YOLO format:  DIR/data.yaml (names: [a, b] or {0: a, 1: b}), DIR/images/*.jpg,
DIR/labels/<same stem>.txt with lines `class cx cy w h` (0..1 of the image). An image without a
label file, or with an empty one, is a background image (nothing to find there).
Regions (task classify): DIR/<class>/*.jpg, one folder per class, at least two classes.

The check reads every label and fails on the first thing wrong, naming the file and line: an
unknown class index, a malformed line, no labels at all, too few labelled examples.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# Below this a model learns the few scenes it saw, not the thing: `--min-examples` may lower it for
# a trial run, and the record says what it was trained on.
MIN_EXAMPLES = {"detect": 50, "classify": 20}


class DatasetError(ValueError):
    """The labelled folder cannot be trained on; the message says which file and why."""


@dataclass
class Dataset:
    task: str
    folder: Path
    names: list[str]
    images: list[Path]  # every image (detect: labelled and background; classify: every class)
    labels: dict[Path, int] = field(default_factory=dict)  # classify: image -> class index
    boxes_per_class: dict[str, int] = field(default_factory=dict)
    labelled_images: int = 0  # detect: images with at least one box
    background_images: int = 0

    def summary(self) -> dict:
        per_class = self.boxes_per_class if self.task == "detect" else self.images_per_class()
        return {
            "folder": str(self.folder), "task": self.task, "names": self.names, "images": len(self.images),
            "labelled_images": self.labelled_images, "background_images": self.background_images,
            ("boxes_per_class" if self.task == "detect" else "images_per_class"): per_class,
        }  # fmt: skip

    def images_per_class(self) -> dict[str, int]:
        counts = dict.fromkeys(self.names, 0)
        for idx in self.labels.values():
            counts[self.names[idx]] += 1
        return counts


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_names(folder: Path) -> list[str]:
    path = folder / "data.yaml"
    if not path.is_file():
        raise DatasetError(f"{folder}: no data.yaml naming the classes (names: [class0, class1, ...])")
    try:
        names = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("names")
    except (yaml.YAMLError, AttributeError) as exc:
        raise DatasetError(f"{path}: not a YAML mapping with names ({exc})") from exc
    if isinstance(names, dict) and sorted(names) == list(range(len(names))):
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise DatasetError(f"{path}: names must be a non-empty list of class names (or {{0: name, ...}}), got {names!r}")
    return names


def check_detect(folder: Path, min_examples: int) -> Dataset:
    folder = Path(folder).resolve()
    names = read_names(folder)
    if not (folder / "images").is_dir():
        raise DatasetError(f"{folder}: no images/ folder (YOLO layout: images/, labels/, data.yaml)")
    images = _images(folder / "images")
    if not images:
        raise DatasetError(f"{folder / 'images'}: no images ({', '.join(IMAGE_SUFFIXES)})")
    ds = Dataset("detect", folder, names, images, boxes_per_class=dict.fromkeys(names, 0))
    for image in images:
        label = folder / "labels" / f"{image.stem}.txt"
        lines = label.read_text(encoding="utf-8").splitlines() if label.is_file() else []
        found = 0
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                idx, coords = int(parts[0]), [float(v) for v in parts[1:]]
            except ValueError:
                raise DatasetError(f"{label}:{n}: not `class cx cy w h`: {line!r}") from None
            if len(coords) != 4 or not all(0.0 <= v <= 1.0 for v in coords):
                raise DatasetError(f"{label}:{n}: expected 4 coordinates in 0..1 after the class, got {line!r}")
            if not 0 <= idx < len(names):
                raise DatasetError(
                    f"{label}:{n}: class index {idx} is beyond the {len(names)} names in data.yaml ({', '.join(names)})"
                )
            ds.boxes_per_class[names[idx]] += 1
            found += 1
        ds.labelled_images += found > 0
        ds.background_images += found == 0
    if not ds.labelled_images:
        raise DatasetError(f"{folder}: no labels at all: {len(images)} images, none with a box in labels/<image>.txt")
    if ds.labelled_images < min_examples:
        raise DatasetError(
            f"{folder}: too few labelled examples to train on: {ds.labelled_images} images with boxes, "
            f"at least {min_examples} needed (--min-examples)"
        )
    return ds


def check_classify(folder: Path, min_examples: int) -> Dataset:
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    if (folder / "images").is_dir() and (folder / "labels").is_dir():
        raise DatasetError(f"{folder}: a boxes folder (images/, labels/), not one folder per class: train it with --task detect")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    if len(classes) < 2:
        raise DatasetError(f"{folder}: a region classifier needs one folder of images per class, at least two; found {[c.name for c in classes]}")
    names = [c.name for c in classes]
    ds = Dataset("classify", folder, names, [])
    for idx, c in enumerate(classes):
        for image in _images(c):
            ds.images.append(image)
            ds.labels[image] = idx
    counts = ds.images_per_class()
    if not ds.images:
        raise DatasetError(f"{folder}: no labels at all: the class folders hold no images")
    fewest = min(counts, key=lambda k: counts[k])
    if counts[fewest] < min_examples:
        raise DatasetError(
            f"{folder}: too few labelled examples to train on: class {fewest!r} has {counts[fewest]} images, "
            f"at least {min_examples} per class needed (--min-examples)"
        )
    ds.labelled_images = len(ds.images)
    return ds


def check(task: str, folder: Path, min_examples: int | None = None) -> Dataset:
    if task not in MIN_EXAMPLES:
        raise DatasetError(f"unknown task {task!r}; expected detect or classify")
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    minimum = MIN_EXAMPLES[task] if min_examples is None else min_examples
    return (check_detect if task == "detect" else check_classify)(folder, minimum)


def split(ds: Dataset, work: Path, val_fraction: float, seed: int = 0) -> tuple[dict[str, int], Path]:
    """Link the images into work/{train,val} in the layout Ultralytics reads (the source folder is
    never written: Ultralytics caches beside the labels); returns the counts and the data argument."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    order = list(ds.images)
    random.Random(seed).shuffle(order)
    if ds.task == "classify":  # each class keeps its share of the validation images
        val = set()
        for idx in range(len(ds.names)):
            members = [p for p in order if ds.labels[p] == idx]
            val.update(members[: max(1, round(len(members) * val_fraction))])
    else:
        val = set(order[: max(1, round(len(order) * val_fraction))])
    counts = {"train": 0, "val": 0}
    for image in ds.images:
        part = "val" if image in val else "train"
        counts[part] += 1
        if ds.task == "classify":
            dst = work / part / ds.names[ds.labels[image]] / image.name
        else:
            dst = work / part / "images" / image.name
            label = ds.folder / "labels" / f"{image.stem}.txt"
            lbl_dst = work / part / "labels" / f"{image.stem}.txt"
            lbl_dst.parent.mkdir(parents=True, exist_ok=True)
            lbl_dst.write_text(label.read_text(encoding="utf-8") if label.is_file() else "", encoding="utf-8")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            os.symlink(image, dst)
    if ds.task == "classify":
        return counts, work
    data = work / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(work), "train": "train/images", "val": "val/images",
                                    "names": dict(enumerate(ds.names))}, allow_unicode=True), encoding="utf-8")  # fmt: skip
    return counts, data
