"""Overflowing-bin footage built from real held-out photos: positives and light-change negatives.

No CCTV footage of a bin filling up exists in ``../shared``, and cross-fading one photo into
another of a different bin would be neither realistic nor fair. So each clip is ONE real photo
from ``../shared/datasets/bins-clean-dirty`` held still like a fixed camera's view, with
gaussian sensor noise on every frame and the light changing over it:

===========  =================================================================================
light        what happens (over a clip of ``duration_s``)
===========  =================================================================================
steady       daylight, noise only
dusk         brightness falls to 30% with a blue cast and raised shadows (gamma), then stays
shadow       a soft band of shadow (55% light) sweeps across the frame, again and again
headlights   night (35% light); a warm glare blob sweeps across every 12 s, lighting the bin
rain         dimmed (70%), lower contrast, bright rain streaks different in every frame
night        night under an orange street lamp (25% light, a pool of light over the bin), no glare
===========  =================================================================================

Positives hold a DIRTY photo (truth: the whole clip), hard negatives a CLEAN one (truth: none),
each light in turn. Only photos of the classifier's held-out split are used
(epatrol.training.bin_training.held_out_photos), never the ones it was trained on; which
ones is decided by the hash of the file name, not by how the classifier scores them.

Night scenes: `night_positives` more dirty photos, alternately at ``night`` and under
``headlights``, and one more clean photo at ``night`` (the street-lit night the first set lacked).

No-bin negatives (truth: none), the precondition: a bins zone that holds no bin must never alert
(the judge reports it as a configuration problem instead):

- ``nobin_goods``: dhaka-handcart.jpg held still, the zone drawn over the hand cart's bagged goods
  and the men beside it (the "stall's goods" case);
- ``nobin_pavement``: vtest.avi itself (real footage, 10 fps), the zone drawn over the pavement
  where people walk and stand.

Frames are 640x480: the photo scaled to cover that and centre-cropped. The bin zone is the
central region (the photos are framed on the bin); the judge adds its margin around it.
All clips 25 fps, a keyframe every 2 s, no B-frames, H.264 (sample_videos/build.py).

``build_bin_scenes(out_dir)`` builds them (kept when present) and returns one ground-truth record
per clip; ``python -m sample_videos.scenes.bins OUT_DIR`` does the same from a shell.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from sample_videos.build import DEFAULT_SHARED, FPS, _noisy, encode_h264

VIOLATION = "overflowing_bins"
WIDTH, HEIGHT = 640, 480
ZONE = ((0.15, 0.1), (0.85, 0.1), (0.85, 0.95), (0.15, 0.95))
LIGHTS = ("steady", "dusk", "shadow", "headlights", "rain")  # cycled over the first clips
NIGHT_LIGHTS = ("night", "headlights")  # cycled over the night clips
ALL_LIGHTS = LIGHTS + ("night",)
# No-bin scenes: (name, real media file, zone over what it shows, notes)
NO_BIN = (
    ("nobin_goods", "dhaka-handcart.jpg", ((0.0, 0.55), (0.25, 0.55), (0.25, 0.95), (0.0, 0.95)),
     "a hand cart's bagged goods and the men beside it, no bin (a stall's goods)"),
    ("nobin_pavement", "vtest.avi", ((0.35, 0.35), (0.75, 0.35), (0.75, 0.72), (0.35, 0.72)),
     "campus pavement with people walking and standing, no bin (real footage)"),
)
NOISE_SIGMA = 2.5
LIGHT_STEP = 5  # frames between recomputations of the light (0.2 s)
DATASET = Path("datasets") / "bins-clean-dirty"


def pick_photos(shared_dir: Path | str, positives: int, negatives: int) -> tuple[list[Path], list[Path]]:
    """Held-out dirty and clean photos, in an order fixed by the hash of their names."""
    from epatrol.training.bin_training import held_out_photos

    held = held_out_photos(Path(shared_dir) / DATASET)
    order = sorted(held, key=lambda p: hashlib.sha256(p.path.name.encode()).hexdigest())
    dirty = [p.path for p in order if p.label == 1][:positives]
    clean = [p.path for p in order if p.label == 0][:negatives]
    if len(dirty) < positives or len(clean) < negatives:
        raise ValueError(f"only {len(dirty)} dirty and {len(clean)} clean held-out photos; asked for {positives} and {negatives}")
    return dirty, clean


def camera_view(photo: Path) -> np.ndarray:
    """The photo as a fixed camera's 640x480 view: scaled to cover, centre-cropped."""
    img = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{photo}: not a readable image")
    h, w = img.shape[:2]
    scale = max(WIDTH / w, HEIGHT / h)
    img = cv2.resize(img, (max(WIDTH, round(w * scale)), max(HEIGHT, round(h * scale))), interpolation=cv2.INTER_AREA)
    y0, x0 = (img.shape[0] - HEIGHT) // 2, (img.shape[1] - WIDTH) // 2
    return np.ascontiguousarray(img[y0 : y0 + HEIGHT, x0 : x0 + WIDTH])


def light_at(base: np.ndarray, light: str, t: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """The view (float32 BGR) under `light` at `t` seconds into a clip of `duration_s`, before noise."""
    if light == "steady":
        out = base
    elif light == "dusk":
        k = min(1.0, max(0.0, (t / duration_s - 0.1) / 0.6))  # falls over 10%..70% of the clip
        out = 255.0 * (base / 255.0) ** (1.0 + 0.4 * k) * (1.0 - 0.7 * k)
        out = out * np.array([1.0 + 0.25 * k, 1.0, 1.0 - 0.2 * k], np.float32)  # BGR: bluer
    elif light == "shadow":
        xs = np.arange(base.shape[1], dtype=np.float32)[None, :]
        centre = ((t / 15.0) % 1.0) * (base.shape[1] + 400) - 200
        out = base * (1.0 - 0.45 * np.exp(-(((xs - centre) / 90.0) ** 2)))[..., None]
    elif light == "headlights":
        xs = np.arange(base.shape[1], dtype=np.float32)[None, :]
        ys = np.arange(base.shape[0], dtype=np.float32)[:, None]
        centre = ((t / 12.0) % 1.0) * (base.shape[1] + 600) - 300
        glare = np.exp(-(((xs - centre) ** 2 + (ys - 0.6 * base.shape[0]) ** 2) / (2 * 110.0**2)))
        out = base * 0.35 + glare[..., None] * np.array([150.0, 190.0, 210.0], np.float32)
    elif light == "night":
        ys = np.arange(base.shape[0], dtype=np.float32)[:, None] / base.shape[0]
        xs = np.arange(base.shape[1], dtype=np.float32)[None, :] / base.shape[1]
        pool = 0.5 + 0.7 * np.exp(-(((xs - 0.5) ** 2) + (ys - 0.3) ** 2) / (2 * 0.35**2))
        out = 255.0 * (base / 255.0) ** 1.3 * 0.25 * pool[..., None] * np.array([0.65, 0.9, 1.2], np.float32)
    elif light == "rain":
        out = base * 0.6 + 0.1 * 128.0
        streaks = np.zeros(base.shape[:2], np.float32)
        for _ in range(120):
            x, y = int(rng.integers(0, base.shape[1])), int(rng.integers(0, base.shape[0]))
            cv2.line(streaks, (x, y), (x + 3, y + 18), 60.0, 1)
        out = out + streaks[..., None]
    else:
        raise ValueError(f"unknown light {light!r}; one of {', '.join(ALL_LIGHTS)}")
    return np.clip(out, 0, 255).astype(np.uint8)


def lit_frames(view: np.ndarray, light: str, duration_s: float, seed: int) -> Iterator[np.ndarray]:
    """The view under `light` (see the module docstring), frame by frame, before sensor noise."""
    if light not in ALL_LIGHTS:
        raise ValueError(f"unknown light {light!r}; one of {', '.join(ALL_LIGHTS)}")
    base = view.astype(np.float32)
    rng = np.random.default_rng(seed)
    lit = None
    for i in range(round(duration_s * FPS)):
        if lit is None or (light != "steady" and i % LIGHT_STEP == 0):
            lit = light_at(base, light, i / FPS, duration_s, rng)  # light changes slowly: every LIGHT_STEP frames
        yield lit  # (sensor noise is added per frame by scene_frames)


def scene_frames(photo: Path, light: str, duration_s: float, seed: int) -> Iterator[np.ndarray]:
    return _noisy(lit_frames(camera_view(photo), light, duration_s, seed), NOISE_SIGMA, seed)


def build_bin_clip(path: Path | str, photo: Path, light: str, duration_s: float, seed: int | None = None, force: bool = False) -> Path:
    """One held photo under ``light`` encoded as a camera's clip at ``path`` (kept when present
    unless ``force``); ``seed`` (noise, rain) defaults to the hash of the file name."""
    path = Path(path)
    if force or not path.exists():
        if seed is None:
            seed = int(hashlib.sha256(path.stem.encode()).hexdigest()[:8], 16)
        encode_h264(scene_frames(photo, light, duration_s, seed), path)
    return path


def no_bin_frames(media: Path, duration_s: float, seed: int) -> tuple[Iterator[np.ndarray], int]:
    """(frames, fps) of a no-bin scene: a video's own frames (looped) at its rate, or a still held."""
    if media.suffix.lower() in (".jpg", ".jpeg", ".png"):
        return scene_frames(media, "steady", duration_s, seed), FPS
    import av

    with av.open(str(media)) as c:
        stream = c.streams.video[0]
        fps = round(float(stream.average_rate or 10))
        frames = [cv2.resize(f.to_ndarray(format="bgr24"), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA) for f in c.decode(stream)]
    n = round(duration_s * fps)
    return (frames[i % len(frames)] for i in range(n)), fps


def build_bin_scenes(
    out_dir: Path,
    duration_s: float = 60.0,
    positives: int = 10,
    negatives: int = 10,
    shared_dir: Path | str = DEFAULT_SHARED,
    force: bool = False,
    night_positives: int = 4,
    no_bin: bool = True,
) -> list[dict]:
    """Build the clips into ``out_dir`` (kept if present unless ``force``); one record per clip:
    {"path", "camera", "zone", "violation", "truth": [[start_s, end_s]] or [], "kind", "notes"}."""
    out_dir = Path(out_dir)
    dirty, clean = pick_photos(shared_dir, positives + night_positives, negatives + 1)
    records = []
    sets = [("positive", dirty[:positives], LIGHTS, 0), ("hard negative", clean[:negatives], LIGHTS, 0),
            ("positive", dirty[positives:], NIGHT_LIGHTS, positives), ("hard negative", clean[negatives:], ("night",), negatives)]
    for kind, photos, lights, first in sets:
        for j, photo in enumerate(photos):
            i = first + j
            light = lights[j % len(lights)]
            tag = "dirty" if kind == "positive" else "clean"
            name = f"bins_{tag}{i:02d}_{light}_{round(duration_s)}s"
            path = build_bin_clip(out_dir / f"{name}.mp4", photo, light, duration_s, force=force)
            records.append(
                {
                    "path": str(path),
                    "camera": f"bins-{tag}{i:02d}",
                    "zone": [list(p) for p in ZONE],
                    "violation": VIOLATION,
                    "truth": [[0.0, duration_s]] if kind == "positive" else [],
                    "kind": kind,
                    "notes": f"{tag} held-out photo {photo.name} held still, light: {light}",
                }
            )
    for name, media, zone, notes in NO_BIN if no_bin else ():
        path = out_dir / f"bins_{name}_{round(duration_s)}s.mp4"
        if force or not path.exists():
            frames, fps = no_bin_frames(Path(shared_dir) / "media" / media, duration_s, int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
            encode_h264(frames, path, fps=fps)
        records.append({"path": str(path), "camera": f"bins-{name.replace('_', '-')}", "zone": [list(p) for p in zone],
                        "violation": VIOLATION, "truth": [], "kind": "no-bin negative", "notes": f"{media}: {notes}"})
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the overflowing-bin clips and print their ground truth as JSON.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--duration", type=float, default=60.0, help="clip length, s")
    parser.add_argument("--positives", type=int, default=10)
    parser.add_argument("--negatives", type=int, default=10)
    parser.add_argument("--night-positives", type=int, default=4, help="dirty photos at night / under headlights")
    parser.add_argument("--no-nobin", dest="no_bin", action="store_false", help="leave out the no-bin negatives")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    records = build_bin_scenes(args.out, args.duration, args.positives, args.negatives, args.shared, args.force,
                               args.night_positives, args.no_bin)
    json.dump(records, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
