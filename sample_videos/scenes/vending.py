"""Street-vending footage built from real media: positives and hard negatives, camera-encoded.

No footage of a street stall being set up exists in ``../shared/media``, so real pixels are
composed over time, the way the issue asks ("a real scene held for minutes with sensor noise,
real objects appearing and staying"):

- the street is ``vtest.avi`` (an elevated CCTV view of a campus road), either live (its real
  pedestrians walking) or as its empty road (the per-pixel median of its frames: every walker
  gone) held still with gaussian sensor noise;
- the objects are cut out of real photos with hand-traced outlines (feathered): a rickshaw
  tricycle piled with goods, the two vendors standing at their hand cart (the cart itself is
  mostly hidden behind them) and a microbus (van), all from ``dhaka-handcart.jpg``, and two men
  standing from ``bus.jpg``. Each is scaled to the size a person has at that place in the vtest view.

Clips (all 640x480, 25 fps, 2 s GOP, no B-frames, H.264; default 60 s, the object at 15 s):

=================  =============  =========================================================
name               kind           what happens
=================  =============  =========================================================
stall_walkers      positive       live walkers; a rickshaw piled with goods stops on the road
                                  at ``appear_at_s`` and stays, its two vendors beside it
tricycle_still     positive       empty road held still; a rickshaw piled with goods stops
                                  at ``appear_at_s`` and stays
walkers            hard negative  live walkers only (people walking through)
waiting_people     hard negative  empty road; two men walk in and stand still (waiting)
parked_car         hard negative  empty road; a van drives in over 2 s and stays parked
dusk_shadow        hard negative  empty road; global brightness falls to 35% (dusk) and a
                                  soft shadow sweeps across the zone
stall_at_start     positive       live walkers; the rickshaw of goods and its vendors stand on
                                  the road from the first frame and stay (the camera started
                                  after the stall was set up)
stall_leaves       hard negative  live walkers; the same stall stands there from the first
                                  frame and packs up, leaving at ``appear_at_s`` (before any
                                  dwell): its departure reveals the street
=================  =============  =========================================================

The last two come with a clean reference, ``<clip>_reference.png`` beside the clip: the empty
road of the same footage (no stall, no walkers) with sensor noise, as an operator's photo of the
empty scene at a quiet hour; their record names it (``reference``). Without it a stall present
at start is learned as the street.

``build_vending_scenes(out_dir)`` builds them (kept when present) and returns one ground-truth
record per clip; ``python -m sample_videos.scenes.vending OUT_DIR`` does the same from a shell.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

from sample_videos.build import (
    DEFAULT_SHARED,
    FPS,
    MissingMediaError,
    _noisy,
    encode_h264,
    media_file,
    ping_pong_indices,
)

WIDTH, HEIGHT = 640, 480
NOISE_SIGMA = 2.0
VIOLATION = "street_vending"
# The no-vending zone: the road and the footway beside it in the vtest view (normalised x, y).
ZONE = [[0.30, 0.36], [0.97, 0.36], [0.97, 0.86], [0.30, 0.62]]


@dataclass(frozen=True)
class CutoutSpec:
    """A real object cut out of a photo: its box in the photo and its outline in box pixels."""

    source: str
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in the source photo
    outline: tuple[tuple[int, int], ...]  # polygon in box coordinates


# Traced by hand on the shared photos (coordinates in the full-resolution files).
HANDCART = CutoutSpec(
    "dhaka-handcart.jpg",
    (0, 570, 180, 820),
    ((0, 45), (30, 32), (45, 10), (70, 0), (95, 15), (118, 0), (150, 0), (160, 30), (178, 70), (175, 160), (168, 250), (0, 250)),
)
TRICYCLE = CutoutSpec(
    "dhaka-handcart.jpg",
    (300, 520, 430, 740),
    ((40, 25), (70, 5), (120, 10), (128, 60), (128, 215), (30, 215), (0, 150), (10, 70)),
)
VAN = CutoutSpec(
    "dhaka-handcart.jpg",
    (505, 530, 885, 735),
    ((15, 45), (40, 10), (120, 0), (350, 0), (372, 40), (378, 185), (330, 205), (20, 200), (0, 170), (0, 80)),
)
WAITING_PAIR = CutoutSpec(
    "bus.jpg",
    (50, 400, 345, 905),
    (
        (30, 110), (70, 60), (100, 40), (130, 70), (175, 10), (215, 0), (240, 30), (245, 80), (290, 160),
        (290, 340), (235, 330), (230, 450), (200, 500), (150, 500), (140, 410), (130, 505), (35, 505), (20, 330), (0, 250),
    ),
)


@dataclass(frozen=True)
class Placement:
    cutout: CutoutSpec
    height_px: int  # in the 640x480 output
    foot: tuple[int, int]  # where the bottom centre of the object stands (x, y)


# Sizes follow the vtest perspective: a person standing at y ~ 330 is ~ 85 px tall at 640x480.
VENDORS_AT = Placement(HANDCART, 100, (425, 345))
TRICYCLE_AT = Placement(TRICYCLE, 105, (490, 335))
VAN_AT = Placement(VAN, 95, (470, 335))
PAIR_AT = Placement(WAITING_PAIR, 90, (440, 330))


# --------------------------------------------------------------------------- real pixels


@lru_cache(maxsize=2)
def _street_frames(shared_dir: Path) -> tuple[np.ndarray, ...]:
    """vtest.avi at 640x480, its own 10 fps."""
    with av.open(str(media_file(shared_dir, "vtest.avi"))) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    return tuple(cv2.resize(f, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA) for f in frames)


@lru_cache(maxsize=2)
def empty_street(shared_dir: Path) -> np.ndarray:
    """The vtest road with nobody on it: the per-pixel median of every 8th frame (walkers move on)."""
    frames = _street_frames(shared_dir)
    return np.median(np.stack(frames[::8]), axis=0).astype(np.uint8)


@lru_cache(maxsize=8)
def cutout(shared_dir: Path, spec: CutoutSpec, height_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(BGR, alpha 0..1) of the object scaled to ``height_px``, edges feathered over ~2 px."""
    photo = cv2.imread(str(media_file(shared_dir, spec.source)))
    if photo is None:
        raise ValueError(f"cannot read {spec.source}")
    x1, y1, x2, y2 = spec.box
    crop = photo[y1:y2, x1:x2]
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.array(spec.outline, np.int32)], 255)
    scale = height_px / crop.shape[0]
    size = (max(2, round(crop.shape[1] * scale)), height_px)
    bgr = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.GaussianBlur(cv2.resize(mask, size, interpolation=cv2.INTER_AREA), (5, 5), 0).astype(np.float32) / 255
    return bgr, alpha


def paste(frame: np.ndarray, bgr: np.ndarray, alpha: np.ndarray, foot: tuple[float, float]) -> np.ndarray:
    """``frame`` with the cut-out standing at ``foot`` (bottom centre), clipped at the edges."""
    h, w = alpha.shape
    x0, y0 = round(foot[0] - w / 2), round(foot[1] - h)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return frame
    out = frame.copy()
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    src = bgr[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].astype(np.float32)
    out[fy0:fy1, fx0:fx1] = (a * src + (1 - a) * out[fy0:fy1, fx0:fx1]).astype(np.uint8)
    return out


def _live_street(shared_dir: Path, n_frames: int) -> Iterator[np.ndarray]:
    """vtest walkers at 25 fps (each 10 fps frame repeated), played back and forth when longer."""
    src = _street_frames(shared_dir)
    n_src = math.ceil(n_frames * 10 / FPS) + 1
    order = list(range(min(n_src, len(src)))) + list(ping_pong_indices(0, len(src) - 1, max(0, n_src - len(src))))
    for n in range(n_frames):
        yield src[order[int(n * 10 / FPS)]]


def _held_street(shared_dir: Path, n_frames: int) -> Iterator[np.ndarray]:
    still = empty_street(shared_dir)
    for _ in range(n_frames):
        yield still


# --------------------------------------------------------------------------- scenes


def _arriving(frames: Iterator[np.ndarray], shared_dir: Path, places: list[Placement], appear_at_s: float, travel_s: float = 0.0) -> Iterator[np.ndarray]:
    """The objects enter at ``appear_at_s`` (sliding in from the right over ``travel_s``) and stay;
    the first in ``places`` is drawn in front."""
    cuts = [(cutout(shared_dir, p.cutout, p.height_px), p.foot) for p in reversed(places)]
    for n, frame in enumerate(frames):
        t = n / FPS
        if t < appear_at_s:
            yield frame
            continue
        k = 1.0 if travel_s <= 0 else min(1.0, (t - appear_at_s) / travel_s)
        for (bgr, alpha), foot in cuts:
            start = WIDTH + bgr.shape[1]
            frame = paste(frame, bgr, alpha, (start + (foot[0] - start) * k, foot[1]))
        yield frame


def _leaving(frames: Iterator[np.ndarray], shared_dir: Path, places: list[Placement], leave_at_s: float, travel_s: float) -> Iterator[np.ndarray]:
    """The objects stand there from the first frame; at ``leave_at_s`` they slide out to the right
    over ``travel_s`` (packing up and going)."""
    cuts = [(cutout(shared_dir, p.cutout, p.height_px), p.foot) for p in reversed(places)]
    for n, frame in enumerate(frames):
        k = float(np.clip((n / FPS - leave_at_s) / travel_s, 0.0, 1.0))
        for (bgr, alpha), foot in cuts:
            end = WIDTH + bgr.shape[1]
            frame = paste(frame, bgr, alpha, (foot[0] + (end - foot[0]) * k, foot[1]))
        yield frame


def _dusk_and_shadow(frames: Iterator[np.ndarray], duration_s: float) -> Iterator[np.ndarray]:
    """Brightness falls from 100% to 35% between 20% and 70% of the clip (a blue-ish dusk), and
    a soft shadow (60% light) sweeps across the road between 30% and 55% of it."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    for n, frame in enumerate(frames):
        t = n / FPS / duration_s
        level = 1.0 - 0.65 * float(np.clip((t - 0.2) / 0.5, 0, 1))
        light = np.full((HEIGHT, WIDTH), level, np.float32)
        if 0.30 <= t <= 0.55:
            cx = -150 + (WIDTH + 300) * (t - 0.30) / 0.25
            blob = np.exp(-(((xx - cx) / 110) ** 2 + ((yy - 300) / 70) ** 2))
            light *= 1.0 - 0.4 * blob
        tint = np.array([1.0, 0.97, 0.9], np.float32) if level < 1 else np.ones(3, np.float32)
        yield np.clip(frame.astype(np.float32) * light[..., None] * tint, 0, 255).astype(np.uint8)


SceneFrames = Callable[[Path, int, float, float], Iterator[np.ndarray]]


def _stall_walkers(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _arriving(_live_street(shared, n), shared, [VENDORS_AT, TRICYCLE_AT], appear_at_s, travel_s=2.0)


def _tricycle_still(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _arriving(_held_street(shared, n), shared, [TRICYCLE_AT], appear_at_s, travel_s=3.0)


def _walkers(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _live_street(shared, n)


def _waiting_people(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _arriving(_held_street(shared, n), shared, [PAIR_AT], appear_at_s, travel_s=3.0)


def _parked_car(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _arriving(_held_street(shared, n), shared, [VAN_AT], appear_at_s, travel_s=2.0)


def _dusk(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _dusk_and_shadow(_held_street(shared, n), duration_s)


def _stall_at_start(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _arriving(_live_street(shared, n), shared, [VENDORS_AT, TRICYCLE_AT], 0.0)


def _stall_leaves(shared: Path, n: int, duration_s: float, appear_at_s: float) -> Iterator[np.ndarray]:
    return _leaving(_live_street(shared, n), shared, [VENDORS_AT, TRICYCLE_AT], appear_at_s, travel_s=3.0)


def clean_reference(shared_dir: Path | str = DEFAULT_SHARED, seed: int = 7) -> np.ndarray:
    """The operator's photo of the empty zone: the walker-free road with one draw of sensor noise."""
    still = empty_street(Path(shared_dir)).astype(np.int16)
    noise = np.rint(np.random.default_rng(seed).normal(0.0, NOISE_SIGMA, still.shape)).astype(np.int16)
    return np.clip(still + noise, 0, 255).astype(np.uint8)


# name -> (kind, frames); positives are true from appear_at_s to the end of the clip.
SCENES: dict[str, tuple[str, SceneFrames]] = {
    "stall_walkers": ("positive", _stall_walkers),
    "tricycle_still": ("positive", _tricycle_still),
    "walkers": ("hard negative", _walkers),
    "waiting_people": ("hard negative", _waiting_people),
    "parked_car": ("hard negative", _parked_car),
    "dusk_shadow": ("hard negative", _dusk),
    "stall_at_start": ("positive", _stall_at_start),
    "stall_leaves": ("hard negative", _stall_leaves),
}
# Scenes whose stall is there before the camera starts: they need the zone's clean reference.
WITH_REFERENCE = {"stall_at_start", "stall_leaves"}


NOTES = {
    "stall_walkers": "vtest walkers; a rickshaw piled with goods (dhaka-handcart.jpg) stops on the road with its two vendors and stays",
    "tricycle_still": "empty vtest road held with noise; a rickshaw piled with goods stops and stays, unattended",
    "walkers": "vtest pedestrians walking through the zone, nothing staying",
    "waiting_people": "empty vtest road; two men (bus.jpg) walk in and stand still, waiting",
    "parked_car": "empty vtest road; a microbus (dhaka-handcart.jpg) drives in and parks, a man beside it",
    "dusk_shadow": "empty vtest road; light falls to 35% (dusk) and a soft shadow sweeps across",
    "stall_at_start": "vtest walkers; the rickshaw of goods and its vendors already stand on the road when the clip starts, and stay",
    "stall_leaves": "vtest walkers; the stall already there at the start packs up and leaves before the dwell: the street it reveals is no stall",
}


def scene_frames(name: str, duration_s: float = 60.0, appear_at_s: float = 15.0, shared_dir: Path | str = DEFAULT_SHARED) -> Iterator[np.ndarray]:
    """The frames of one scene (BGR 640x480 at 25 fps, sensor noise added), lazily."""
    if name not in SCENES:
        raise ValueError(f"unknown vending scene {name!r}; choose from {sorted(SCENES)}")
    n = round(duration_s * FPS)
    shared = Path(shared_dir)
    return _noisy(SCENES[name][1](shared, n, duration_s, appear_at_s), NOISE_SIGMA, seed=sum(map(ord, name)))


def clip_name(name: str, duration_s: float, appear_at_s: float) -> str:
    """The file a scene is built into: each timing its own file."""
    return f"vending_{name}_{duration_s:g}s_at{appear_at_s:g}s.mp4"


def build_vending_scenes(
    out_dir: Path,
    duration_s: float = 60.0,
    appear_at_s: float = 15.0,
    shared_dir: Path | str = DEFAULT_SHARED,
    only: list[str] | None = None,
    force: bool = False,
) -> list[dict]:
    """Build the clips into ``out_dir`` (kept if present unless ``force``); one record per clip:
    {"path", "camera", "zone", "violation", "truth": [[start_s, end_s]], "kind", "notes"}, and
    "reference" (the clean reference image's path) for the scenes in WITH_REFERENCE."""
    if not 0 < appear_at_s < duration_s:
        raise ValueError(f"appear_at_s={appear_at_s} must lie inside the clip (0..{duration_s} s)")
    out_dir = Path(out_dir)
    unknown = sorted(set(only or ()) - set(SCENES))
    if unknown:
        raise ValueError(f"unknown vending scenes {unknown}; choose from {list(SCENES)}")
    records = []
    for name in only or list(SCENES):
        kind = SCENES[name][0]
        path = out_dir / clip_name(name, duration_s, appear_at_s)
        if force or not path.exists():
            encode_h264(scene_frames(name, duration_s, appear_at_s, shared_dir), path)
        extra = {}
        if name in WITH_REFERENCE:
            ref = path.with_name(path.stem + "_reference.png")
            if force or not ref.exists():
                cv2.imwrite(str(ref), clean_reference(shared_dir))
            extra["reference"] = str(ref)
        records.append(
            {
                "path": str(path),
                "camera": f"vending-{name.replace('_', '-')}",
                "zone": [list(p) for p in ZONE],
                "violation": VIOLATION,
                "truth": ([[0.0, duration_s]] if name == "stall_at_start" else [[appear_at_s, duration_s]]) if kind == "positive" else [],
                "kind": kind,
                "notes": NOTES[name],
                **extra,
            }
        )
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the street-vending clips and print their ground truth as JSON.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--duration", type=float, default=60.0, help="clip length, s")
    parser.add_argument("--appear-at", type=float, default=15.0, help="when the stall (or other object) appears, s")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("only", nargs="*", metavar="NAME", help=f"subset of {', '.join(SCENES)}")
    args = parser.parse_intermixed_args(argv)
    try:
        records = build_vending_scenes(args.out, args.duration, args.appear_at, args.shared, args.only or None, args.force)
    except (ValueError, MissingMediaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(records, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
