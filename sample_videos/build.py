"""Build test/demo footage from the real media in ``../shared/media``, encoded like a real camera.

Real cameras send H.264 at a fixed frame rate with a fixed GOP (here 25 fps, one keyframe
every 2 s, no B-frames, yuv420p). The source media are read-only and must never be committed,
and neither may what is derived from them: this script builds on demand into a folder that git
ignores (``sample_videos/*.mp4``) or into a temporary directory (the tests do that).

Usage, from the repo root::

    python sample_videos/build.py                       # shared dir defaults to ../shared
    python sample_videos/build.py --shared ../shared --out sample_videos/ [--force]

Files built:

``parked_bike.mp4``
    60 s, 640x272. ``bikes.mp4`` frames 187..241: one fixed shot of a bicycle parked against a
    wall while a pedestrian walks past and briefly occludes it (frames 187..213). Then the quiet
    tail of the shot (216..241, pedestrian gone) played backward and forward (ping-pong, so the
    camera's slow drift stays continuous) until the video lasts 60 s, with gaussian sensor noise
    (sigma 2) added to every frame so no two frames are identical. (``bikes.mp4`` cuts to
    another shot, a close-up of bicycle wheels, at frame 242: frames 242..249 are not used.)

``campus_walkers.mp4``
    ~79.5 s, 768x576. ``vtest.avi`` (10 fps MJPEG: pedestrians, a parked van and car) with frames
    repeated to 25 fps so it plays at real-time speed. A hard negative: no parked bicycles.

``open_burning.mp4``
    16.5 s, 640x360. ``aerial_vegetation_fire_smoke.mp4`` (a drone over scrub burning beside a
    forest) resampled to 25 fps by its timestamps.

The demo's other footage (street vending, overflowing bins) is built from the scene modules
(``sample_videos/scenes/``) by ``sample_videos/demo_footage.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO_ROOT.parent / "shared"
DEFAULT_OUT = Path(__file__).resolve().parent

FPS = 25
GOP_S = 2.0
CRF = 23

# bikes.mp4: the parked-bicycle shot runs from frame 187 (cut in) to 241 (cut out at 242).
BIKE_SHOT = (187, 241)  # inclusive
BIKE_QUIET = (216, 241)  # inclusive: pedestrian has left the frame by 214
BIKE_DURATION_S = 60.0
BIKE_NOISE_SIGMA = 2.0

PARKED_BIKE = "parked_bike.mp4"
OPEN_BURNING = "open_burning.mp4"
CAMPUS_WALKERS = "campus_walkers.mp4"


class MissingMediaError(FileNotFoundError):
    """A source file from the shared media folder is absent."""


# --------------------------------------------------------------------------- encoding


def pick_encoder() -> str:
    """``libx264`` when PyAV's FFmpeg has it, else the best other H.264 encoder available."""
    available = av.codec.codecs_available
    for name in ("libx264", "libopenh264", "h264"):
        if name not in available:
            continue
        try:
            av.codec.Codec(name, "w")
        except Exception:
            continue
        return name
    raise RuntimeError("PyAV's FFmpeg has no H.264 encoder (tried libx264, libopenh264)")


def _encoder_options(encoder: str, gop: int, crf: int) -> dict[str, str]:
    if encoder == "libx264":
        return {
            "preset": "veryfast",
            "crf": str(crf),
            "bf": "0",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",  # no extra keyframes on scene cuts: fixed GOP like a camera
            "profile": "high",
        }
    # libopenh264 and others: constant bit rate-ish, fixed GOP.
    return {"g": str(gop), "bf": "0", "b": "1500k"}


def encode_h264(
    frames: Iterable[np.ndarray],
    path: Path | str,
    fps: int = FPS,
    gop_s: float = GOP_S,
    crf: int = CRF,
) -> Path:
    """Encode BGR uint8 frames (all the same even size) to an H.264 mp4, camera style.

    Constant ``fps``, a keyframe every ``gop_s`` seconds exactly (no scene-cut keyframes), no
    B-frames, yuv420p. Writes ``<path stem>.part.mp4`` and renames it to ``path`` only once
    complete, so a half-built file never looks finished. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part.mp4")
    gop = max(1, round(fps * gop_s))
    encoder = pick_encoder()
    count = 0
    try:
        with av.open(str(part), mode="w", format="mp4") as container:
            stream = None
            for bgr in frames:
                if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
                    raise ValueError(f"frame {count}: expected HxWx3 uint8 BGR, got {bgr.dtype} {bgr.shape}")
                if stream is None:
                    h, w = bgr.shape[:2]
                    if w % 2 or h % 2:
                        raise ValueError(f"yuv420p needs even dimensions, got {w}x{h}")
                    stream = container.add_stream(encoder, rate=fps, options=_encoder_options(encoder, gop, crf))
                    stream.width, stream.height = w, h
                    stream.pix_fmt = "yuv420p"
                    stream.time_base = Fraction(1, fps * 512)
                    cc = stream.codec_context
                    # Frame threads, not slice threads: one slice per picture, like most
                    # cameras (and an access unit arrives over RTSP as one packet).
                    cc.thread_type = "FRAME"
                    cc.gop_size = gop
                    cc.max_b_frames = 0
                    cc.framerate = Fraction(fps, 1)
                    cc.time_base = Fraction(1, fps)
                elif bgr.shape[:2] != (stream.height, stream.width):
                    raise ValueError(f"frame {count}: size {bgr.shape[1]}x{bgr.shape[0]} changed mid-stream")
                # OpenCV's BGR->I420 (BT.601, limited range, as swscale does) is ~10x faster here.
                yuv = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV_I420)
                frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                frame.pts = count
                frame.time_base = Fraction(1, fps)
                container.mux(stream.encode(frame))
                count += 1
            if stream is None:
                raise ValueError("no frames to encode")
            container.mux(stream.encode(None))
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- sources


def media_file(shared_dir: Path | str, name: str) -> Path:
    """``<shared_dir>/media/<name>``, or a clear error naming the missing file."""
    shared_dir = Path(shared_dir)
    path = shared_dir / "media" / name
    if not path.is_file():
        raise MissingMediaError(
            f"shared media file missing: {path} (expected in {shared_dir / 'media'}; "
            f"pass --shared DIR pointing at the folder that holds media/{name})"
        )
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    """Every decoded frame of the first video stream, BGR uint8."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="bgr24") for f in container.decode(stream)]


def ping_pong_indices(first: int, last: int, count: int, start_backward: bool = True) -> Iterator[int]:
    """``count`` indices bouncing inside [first, last] without repeating an end frame.

    Starting at ``last`` and going backward (the natural continuation of a clip that ended on
    ``last``): last-1, last-2, ..., first, first+1, ..., last, last-1, ...
    """
    if last <= first:
        for _ in range(count):
            yield first
        return
    i, step = (last, -1) if start_backward else (first, 1)
    for _ in range(count):
        i += step
        if i < first or i > last:
            step = -step
            i += 2 * step
        yield i


def _noisy(frames: Iterable[np.ndarray], sigma: float, seed: int, banks: tuple[int, int] = (61, 53)) -> Iterator[np.ndarray]:
    """Add gaussian sensor noise of std ``sigma`` to every frame.

    Drawing fresh noise per frame is slow (~10 ms a frame), so two banks of noise fields (std
    sigma/sqrt(2) each, sizes coprime) are drawn once and frame i gets ``a[i % 61] + b[i % 53]``:
    the combined noise is gaussian with std ``sigma`` and does not repeat for 61*53 = 3233
    frames, whatever the looping of the picture underneath.
    """
    rng = np.random.default_rng(seed)
    part_sigma = sigma / math.sqrt(2)
    noise: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for i, f in enumerate(frames):
        total = None
        for bank, size in zip(noise, banks):
            if len(bank) < size:
                bank.append(np.rint(rng.normal(0.0, part_sigma, size=f.shape)).astype(np.int16))
            n = bank[i % size]
            if n.shape != f.shape:
                raise ValueError(f"frame {i}: size changed from {n.shape} to {f.shape}")
            total = f.astype(np.int16) + n if total is None else total + n
        yield np.clip(total, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- footage


def parked_bike_frames(shared_dir: Path | str, duration_s: float = BIKE_DURATION_S, fps: int = FPS) -> Iterator[np.ndarray]:
    """The frames of parked_bike.mp4 (with noise), lazily."""
    src = read_frames(media_file(shared_dir, "bikes.mp4"))
    a, b = BIKE_SHOT
    qa, qb = BIKE_QUIET
    if len(src) <= b:
        raise ValueError(f"bikes.mp4 has {len(src)} frames, expected at least {b + 1}")
    total = round(duration_s * fps)
    head = list(range(a, b + 1))
    order = head[:total] + list(ping_pong_indices(qa, qb, max(0, total - len(head))))
    return _noisy((src[i] for i in order), BIKE_NOISE_SIGMA, seed=20240607)


def campus_walkers_frames(shared_dir: Path | str, fps: int = FPS) -> Iterator[np.ndarray]:
    """vtest.avi resampled to ``fps`` by repeating frames (real-time speed kept)."""
    path = media_file(shared_dir, "vtest.avi")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        src_fps = float(stream.average_rate or stream.guessed_rate or 10)
        src = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    n_out = math.floor(len(src) * fps / src_fps)
    for n in range(n_out):
        yield src[min(len(src) - 1, int(n * src_fps / fps))]


def resampled_frames(shared_dir: Path | str, name: str, fps: int = FPS) -> Iterator[np.ndarray]:
    """A shared video at ``fps`` (frames repeated or skipped by their timestamps: real-time speed kept)."""
    with av.open(str(media_file(shared_dir, name))) as container:
        stream = container.streams.video[0]
        frames = [(float(f.time or 0.0), f.to_ndarray(format="bgr24")) for f in container.decode(stream)]
    start = frames[0][0]
    times = [t - start for t, _ in frames]
    k = 0
    for n in range(math.floor((times[-1] + 1e-6) * fps) + 1):
        while k + 1 < len(times) and times[k + 1] <= n / fps + 1e-6:
            k += 1
        yield frames[k][1]


def _build(out_dir: Path | str, name: str, source: str, shared_dir: Path | str, frames: Callable[[], Iterable[np.ndarray]], force: bool) -> Path:
    path = Path(out_dir) / name
    if path.exists() and not force:
        return path
    media_file(shared_dir, source)  # fail early, naming the missing file, before anything is written
    return encode_h264(frames(), path)


def build_parked_bike(out_dir: Path | str, shared_dir: Path | str = DEFAULT_SHARED, force: bool = False) -> Path:
    """``<out_dir>/parked_bike.mp4``: 60 s, 25 fps, 640x272, 2 s GOP. Kept if it exists, unless ``force``."""
    return _build(out_dir, PARKED_BIKE, "bikes.mp4", shared_dir, lambda: parked_bike_frames(shared_dir), force)


def build_campus_walkers(out_dir: Path | str, shared_dir: Path | str = DEFAULT_SHARED, force: bool = False) -> Path:
    """``<out_dir>/campus_walkers.mp4``: ~79.5 s, 25 fps, 768x576, 2 s GOP. Kept if it exists, unless ``force``."""
    return _build(out_dir, CAMPUS_WALKERS, "vtest.avi", shared_dir, lambda: campus_walkers_frames(shared_dir), force)


def build_open_burning(out_dir: Path | str, shared_dir: Path | str = DEFAULT_SHARED, force: bool = False) -> Path:
    """``<out_dir>/open_burning.mp4``: the aerial scrub fire (16.5 s, 640x360) at 25 fps, 2 s GOP."""
    source = "aerial_vegetation_fire_smoke.mp4"
    return _build(out_dir, OPEN_BURNING, source, shared_dir, lambda: resampled_frames(shared_dir, source), force)


BUILDERS: dict[str, Callable[..., Path]] = {
    PARKED_BIKE: build_parked_bike,
    CAMPUS_WALKERS: build_campus_walkers,
    OPEN_BURNING: build_open_burning,
}


def build_all(out_dir: Path | str = DEFAULT_OUT, shared_dir: Path | str = DEFAULT_SHARED, force: bool = False) -> dict[str, Path]:
    """Build every file (skipping those that exist unless ``force``); returns name -> path."""
    return {name: fn(out_dir, shared_dir, force=force) for name, fn in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build camera-like H.264 test footage from ../shared/media.")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help=f"shared dir holding media/ (default {DEFAULT_SHARED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="rebuild files that already exist")
    parser.add_argument("only", nargs="*", metavar="NAME", help=f"build only these ({', '.join(BUILDERS)}); default all")
    args = parser.parse_args(argv)
    names = args.only or list(BUILDERS)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        parser.error(f"unknown footage {unknown}; choose from {list(BUILDERS)}")
    try:
        for name in names:
            path = Path(args.out) / name
            if path.exists() and not args.force:
                print(f"kept   {path} ({path.stat().st_size / 1e6:.1f} MB, exists; --force to rebuild)")
                continue
            t0 = time.monotonic()
            BUILDERS[name](args.out, args.shared, force=True)
            print(f"built  {path} ({path.stat().st_size / 1e6:.1f} MB in {time.monotonic() - t0:.1f} s, {pick_encoder()})")
    except MissingMediaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
