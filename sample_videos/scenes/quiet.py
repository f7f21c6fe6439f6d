"""Long quiet negatives: an hour of a real street, hall or CCTV view in which nothing is wrong.

A judge's false alerts per camera-day can only be bounded by hours of footage in which no violation
happens: with none in H hours, the 95 % upper bound is 3.0 / H per hour (rule of three), so the few
minutes of each hard negative bound it at hundreds per day. No hour-long real footage exists in
``../shared``, so each clip is ONE real picture held like a fixed camera's view for
``duration_s`` (default an hour), with gaussian sensor noise on every frame and a day's light
played over it:

- most of the hour: daylight falling slowly to dusk (brightness to 30 %, bluer, shadows raised);
- a shower: ``rain`` streaks, different in every frame, for ``EPISODE_S``;
- a car passing at night: ``headlights`` glare sweeping the view, for ``EPISODE_S``;
- a cloud: a ``shadow`` band sweeping across, for ``EPISODE_S``.

Every clip is watched by all four judges at once, as a deployed camera would be, each with a zone
where its violation could happen (bins: the same lower-central zone, which holds a bin only in the
bin scene: elsewhere the judge must say the zone holds no bin and stay quiet). Truth: none.

What it measures, and what it cannot: the judges' stability over long quiet time under changing
light (the drift and episodes a camera sees every day) on real scenes. It does not replace hours
of live footage with its variety (people, traffic, weather): held stills have no motion, so they
mostly exercise the motion gate's forced refreshes and the light-change episodes.

Frames are 2 fps (a CCTV sub-stream's rate; open burning samples every 0.5 s), 2 s GOP, H.264,
640 px wide. ``build_quiet_scenes(out_dir)`` builds them (kept when present); ``python -m
sample_videos.scenes.quiet OUT_DIR`` prints their ground truth.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from sample_videos.build import DEFAULT_SHARED, _noisy, encode_h264, media_file
from sample_videos.scenes.bins import ZONE as BIN_ZONE
from sample_videos.scenes.bins import camera_view, light_at, pick_photos

FPS = 2
WIDTH = 640
NOISE_SIGMA = 1.5  # after a camera's own denoising; still enough that no two frames are equal
CRF = 30  # a sub-stream's bit rate: noise would otherwise cost ~1 Mbit/s of file for nothing
EPISODE_S = 120.0  # each light episode (rain, headlights, shadow) lasts two minutes
EPISODE_STEP, DUSK_STEP = 2, 20  # frames between recomputations of the light: 1 s in an episode, 10 s at dusk
FIRE_DATASET = Path("datasets") / "fire-smoke-cctv"
WHOLE_FRAME = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
BIN_SCENE = "quiet_bin_clean"  # the only scene whose bins zone holds a bin
LOWER = [[0.05, 0.55], [0.95, 0.55], [0.95, 0.98], [0.05, 0.98]]  # pavement in front of the camera


def _fit_width(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    height = round(h * WIDTH / w / 2) * 2
    return cv2.resize(img, (WIDTH, height), interpolation=cv2.INTER_AREA)


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return img


def _first_frame(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise ValueError(f"{path}: no frame could be read")
    return frame


def _default_frames(shared: Path, count: int) -> list[Path]:
    """fire-smoke-cctv frames labelled only `default` (no fire), spread over the set by name hash."""
    labels = sorted((shared / FIRE_DATASET).glob("*/labels/*.txt"))
    images = []
    for lab in labels:
        classes = {line.split()[0] for line in lab.read_text().splitlines() if line.strip()}
        if classes == {"1"}:
            img = lab.parent.parent / "images" / (lab.stem + ".jpg")
            if img.exists():
                images.append(img)
    images.sort(key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
    if len(images) < count:
        raise ValueError(f"{shared / FIRE_DATASET}: only {len(images)} no-fire frames, {count} needed")
    return images[:count]


def scenes(shared: Path) -> list[tuple[str, str, Callable[[], np.ndarray], list[list[float]]]]:
    """(name, what it shows, the view, the bins zone) of every quiet scene."""
    cctv = _default_frames(shared, 2)
    _, clean = pick_photos(shared, 0, 1)
    return [
        ("quiet_street_bus", "bus.jpg: a street with a bus at the kerb and pedestrians", lambda: _fit_width(_read(media_file(shared, "bus.jpg"))), LOWER),
        ("quiet_campus", "vtest.avi's first frame: a campus road, a parked van and car", lambda: _fit_width(_first_frame(media_file(shared, "vtest.avi"))), LOWER),
        ("quiet_hall", "zidane.jpg: two people indoors (the fire model's known false smoke)", lambda: _fit_width(_read(media_file(shared, "zidane.jpg"))), LOWER),
        ("quiet_cctv_a", f"fire-smoke-cctv no-fire frame {cctv[0].name}", lambda: _fit_width(_read(cctv[0])), LOWER),
        ("quiet_cctv_b", f"fire-smoke-cctv no-fire frame {cctv[1].name}", lambda: _fit_width(_read(cctv[1])), LOWER),
        (BIN_SCENE, f"a clean held-out bin photo {clean[0].name} (a bin in the bins zone)", lambda: camera_view(clean[0]), [list(p) for p in BIN_ZONE]),
    ]


def light_programme(t: float, duration_s: float) -> tuple[str, float, float]:
    """(light, t within its episode, the episode's length) at `t` s of the hour: dusk falls over
    the whole clip; rain, headlights and a shadow each take EPISODE_S, spread over the hour."""
    for k, light in enumerate(("rain", "headlights", "shadow")):
        start = duration_s * (k + 1) / 4
        if start <= t < start + EPISODE_S:
            return light, t - start, EPISODE_S
    return "dusk", t, duration_s


def quiet_frames(view: np.ndarray, duration_s: float, seed: int) -> Iterator[np.ndarray]:
    base = view.astype(np.float32)
    rng = np.random.default_rng(seed)

    def lit() -> Iterator[np.ndarray]:
        frame = None
        for i in range(round(duration_s * FPS)):
            light, t, length = light_programme(i / FPS, duration_s)
            if frame is None or i % (DUSK_STEP if light == "dusk" else EPISODE_STEP) == 0:
                frame = light_at(base, light, t, length, rng)
            yield frame

    return _noisy(lit(), NOISE_SIGMA, seed)


def build_quiet_scenes(out_dir: Path, duration_s: float = 3600.0, shared_dir: Path | str = DEFAULT_SHARED, force: bool = False) -> list[dict]:
    """Build the clips into ``out_dir`` (kept if present unless ``force``); four ground-truth
    records per clip (one per violation, all negative)."""
    out_dir, shared = Path(out_dir), Path(shared_dir)
    records = []
    for name, what, view, bins_zone in scenes(shared):
        path = out_dir / f"{name}_{round(duration_s)}s.mp4"
        if force or not path.exists():
            seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
            encode_h264(quiet_frames(view(), duration_s, seed), path, fps=FPS, crf=CRF)
        notes = f"quiet {duration_s / 3600:g} h: {what}; dusk falling, 2 min each of rain, night headlights, a cloud's shadow"
        base = {"path": str(path), "camera": name.replace("_", "-"), "truth": [], "kind": "long_quiet", "notes": notes}
        records += [
            {**base, "violation": "parked_bikes", "zone": LOWER},
            {**base, "violation": "street_vending", "zone": LOWER},
            {**base, "violation": "overflowing_bins", "zone": bins_zone, "kind": "long_quiet" if name == BIN_SCENE else "long_quiet_no_bin"},
            {**base, "violation": "open_burning", "zone": WHOLE_FRAME},
        ]
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the long quiet negative clips and print their ground truth as JSON.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--duration", type=float, default=3600.0, help="clip length, s")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    json.dump(build_quiet_scenes(args.out, args.duration, args.shared, args.force), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
