"""The real scenes the open-burning decision is fitted on, built from the shared folder.

Positives (a burning scene, during its labelled interval):
- every fire-smoke-cctv source-video sequence of MIN_FRAMES or more with a `Fire` label, from its first
  to its last frame labelled Fire or smoke (frames ~1 s apart in the source, replayed 0.5 s apart as
  in the eval set);
- smoke-only sequences whose smoke comes from a fire (BURNING_SMOKE: black smoke over a city);
- the aerial scrub burn (media/aerial_vegetation_fire_smoke.mp4), sampled every 0.5 s.

Negatives (everything in the scene):
- smoke-only sequences that are security foggers or extinguisher fog (the dataset labels that fog
  `smoke`: white fog filling a shop or corridor; the README warns of it). The decision must keep
  them quiet, so they are hard negatives, not positives;
- every `default` sequence, and every `default` frame held still 10 s with sensor noise;
- photos held still with sensor noise (fire photos: a poster or a screen; zidane.jpg, the model's
  known false smoke; bus.jpg, dhaka-handcart.jpg);
- vtest.avi walkers and bikes.mp4 (a van's red brake lights), sampled every 0.5 s.

Scenes are grouped for cross-validation: dataset runs that share a picture (near-identical 16x16
thumbnails: the splits and the img_N / *_mp4 names hold copies of one video) are one group.
"""

from __future__ import annotations

import glob
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

FIRE_SET = "fire-smoke-cctv"
STEP_S = 0.5  # the judge's sample interval
# Smoke-only runs whose smoke is from a fire (looked at: black smoke from a fire over buildings).
BURNING_SMOKE = {"img_800-828"}
MIN_FRAMES = 4  # a positive run needs this many frames (2 s of replay) to be one
STILL_S = 10.0  # a `default` frame held this long
PHOTO_S = 30.0
NOISE_VARIANTS = 2  # distinct noisy frames per still the model sees (its boxes differ only by the noise)
PHOTOS = ("pan-fire.jpg", "fire-basket.jpg", "zidane.jpg", "bus.jpg", "dhaka-handcart.jpg")
VIDEOS = (("aerial_vegetation_fire_smoke.mp4", True), ("vtest.avi", False), ("bikes.mp4", False))


@dataclass(frozen=True)
class Frame:
    source: str
    index: int
    path: Path
    classes: frozenset[int]  # 0 Fire, 1 default, 2 smoke


@dataclass
class Scene:
    name: str
    kind: str  # fire_sequence, smoke_sequence, aerial, fogger, default_sequence, default_still, photo, video
    positive: bool
    samples: Callable[[], Iterator[tuple[str, np.ndarray]]]  # (detection cache key, frame), one per STEP_S
    truth: list[bool]  # per sample: inside the labelled interval (negatives: all False)
    group: str = ""


def dataset_runs(shared: Path) -> dict[str, list[Frame]]:
    """fire-smoke-cctv frames by source video, in order, one copy each (the splits leak); img_N
    frames of consecutive numbers are one run. The same grouping as sample_videos/eval_set.py."""
    root = shared / "datasets" / FIRE_SET
    if not root.is_dir():
        raise FileNotFoundError(f"dataset missing: {root}")
    seen: dict[tuple[str, int], Frame] = {}
    for img in sorted(glob.glob(str(root / "*" / "images" / "*.jpg"))):
        m = re.fullmatch(r"(.+?)[-_](\d+)_jpg", Path(img).name.split(".rf.")[0])
        if not m:
            continue
        label = Path(img).parent.parent / "labels" / (Path(img).stem + ".txt")
        classes = frozenset(int(s.split()[0]) for s in label.read_text().splitlines() if s.strip()) if label.exists() else frozenset()
        seen.setdefault((m.group(1), int(m.group(2))), Frame(m.group(1), int(m.group(2)), Path(img), classes))
    groups: dict[str, list[Frame]] = defaultdict(list)
    for f in sorted(seen.values(), key=lambda f: (f.source, f.index)):
        groups[f.source].append(f)
    runs: dict[str, list[Frame]] = {}
    for source, frames in groups.items():
        if source != "img":
            runs[source] = frames
            continue
        run: list[Frame] = []
        for f in frames + [None]:  # type: ignore[list-item]
            if run and (f is None or f.index != run[-1].index + 1):
                runs[f"img_{run[0].index}-{run[-1].index}"] = run
                run = []
            if f is not None:
                run.append(f)
    return runs


def noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 3.0) -> np.ndarray:
    noise = rng.standard_normal(image.shape, dtype=np.float32) * sigma
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def held(key: str, image: np.ndarray, seconds: float, seed: int) -> Callable[[], Iterator[tuple[str, np.ndarray]]]:
    """A still held for `seconds` with sensor noise: NOISE_VARIANTS noisy copies, cycled."""

    def gen() -> Iterator[tuple[str, np.ndarray]]:
        rng = np.random.default_rng(seed)
        variants = [noisy(image, rng) for _ in range(NOISE_VARIANTS)]
        for i in range(round(seconds / STEP_S)):
            yield f"{key}#{i % NOISE_VARIANTS}", variants[i % NOISE_VARIANTS]

    return gen


def decoded(path: Path, key: str) -> Callable[[], Iterator[tuple[str, np.ndarray]]]:
    """A video's frames every STEP_S of media time."""

    def gen() -> Iterator[tuple[str, np.ndarray]]:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            due, n = 0.0, 0
            for frame in container.decode(stream):
                if float(frame.pts * stream.time_base) + 1e-6 >= due:
                    yield f"{key}@{n}", frame.to_ndarray(format="bgr24")
                    due += STEP_S
                    n += 1

    return gen


def sequence(frames: list[Frame]) -> Callable[[], Iterator[tuple[str, np.ndarray]]]:
    def gen() -> Iterator[tuple[str, np.ndarray]]:
        for f in frames:
            yield f"{f.source}:{f.index}", cv2.imread(str(f.path))

    return gen


def build_scenes(shared: Path | str, limit: int | None = None) -> list[Scene]:
    """Every scene listed in the module docstring; `limit` keeps about that many (a quick trial:
    the first positives and negatives of each kind)."""
    shared = Path(shared)
    runs = dataset_runs(shared)
    scenes: list[Scene] = []
    for name, frames in runs.items():
        labels = [f.classes for f in frames]
        fire = any(0 in c for c in labels)
        smoke = any(2 in c for c in labels)
        if (fire or name in BURNING_SMOKE) and len(frames) < MIN_FRAMES:
            continue  # one or two frames: nobody can confirm a fire from them (and there is nothing to fit)
        if fire or name in BURNING_SMOKE:
            marked = [i for i, c in enumerate(labels) if c & {0, 2}]
            truth = [marked[0] <= i <= marked[-1] for i in range(len(frames))]
            scenes.append(Scene(name, "fire_sequence" if fire else "smoke_sequence", True, sequence(frames), truth))
        elif smoke:
            scenes.append(Scene(name, "fogger", False, sequence(frames), [False] * len(frames)))
        elif len(frames) >= 2:
            scenes.append(Scene(name, "default_sequence", False, sequence(frames), [False] * len(frames)))
    stills = [(run, f) for run, frames in runs.items() for f in frames if f.classes == {1}]
    for k, (run, f) in enumerate(stills):
        n = round(STILL_S / STEP_S)
        key = f"{f.source}:{f.index}"
        scenes.append(Scene(f"still:{key}", "default_still", False, held(key, cv2.imread(str(f.path)), STILL_S, k), [False] * n, group=run))
    media = shared / "media"
    for k, name in enumerate(PHOTOS):
        image = cv2.imread(str(media / name))
        scenes.append(Scene(f"photo:{name}", "photo", False, held(name, image, PHOTO_S, 1000 + k), [False] * round(PHOTO_S / STEP_S)))
    for name, positive in VIDEOS:
        n = sum(1 for _ in decoded(media / name, name)())
        scenes.append(Scene(f"video:{name}", "aerial" if positive else "video", positive, decoded(media / name, name), [positive] * n))
    if limit is not None:
        scenes = _subset(scenes, limit)
    _assign_groups(scenes, runs)
    return scenes


def _subset(scenes: list[Scene], limit: int) -> list[Scene]:
    by_kind: dict[str, list[Scene]] = defaultdict(list)
    for s in scenes:
        by_kind[s.kind].append(s)
    keep: list[Scene] = []
    while len(keep) < limit and any(by_kind.values()):
        for kind in list(by_kind):
            if by_kind[kind] and len(keep) < limit:
                keep.append(by_kind[kind].pop(0))
    return keep


def _assign_groups(scenes: list[Scene], runs: dict[str, list[Frame]]) -> None:
    """Dataset runs sharing a near-identical frame are one group (union-find on 16x16 thumbnails)."""
    names = list(runs)
    thumbs, owner = [], []
    for i, name in enumerate(names):
        for f in runs[name]:
            grey = cv2.cvtColor(cv2.imread(str(f.path)), cv2.COLOR_BGR2GRAY)
            thumbs.append(cv2.resize(grey, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel())
            owner.append(i)
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    t = np.stack(thumbs)
    owner_a = np.array(owner)
    for a in range(len(t)):
        close = np.nonzero(np.mean(np.abs(t[a + 1 :] - t[a]), axis=1) < 8.0)[0] + a + 1
        for b in close:
            parent[find(owner_a[a])] = find(owner_a[b])
    group_of = {name: names[find(i)] for i, name in enumerate(names)}
    for s in scenes:  # a still's group was set to its run's name
        s.group = group_of.get(s.group or s.name, s.group or s.name)
