"""Benchmark footage: what real street cameras send, made from ../shared/media.

Two kinds of camera, H.264 at 25 fps with a keyframe every 2 s (sample_videos/build.py's encoder):

``busy_1080p``  vtest.avi (a fixed CCTV view of a campus road, pedestrians always walking)
                scaled to 1920x1080: a camera where something moves in most samples.
``quiet_720p``  one frame of bikes.mp4's parked-bicycle shot (frame 230) scaled to 1280x720,
                with fresh sensor noise (sigma 2) on every frame: a parked scene where nothing
                moves, the usual state of a patrol camera; the bicycle parks for good.

Each is then split into Annex-B access units + index (what the RTSP server loops). Built once
into a cache folder (never committed); a file that exists is reused."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from rtsp import export_access_units  # noqa: E402  (tests/rtsp.py: the RTSP server's input format)

from sample_videos.build import _noisy, encode_h264, media_file  # noqa: E402

DURATION_S = 20.0  # looped by the server
FPS = 25

KINDS = {
    "busy_1080p": (1920, 1080),
    "quiet_720p": (1280, 720),
}


def _busy_frames(shared: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    with av.open(str(media_file(shared, "vtest.avi"))) as c:
        stream = c.streams.video[0]
        src_fps = float(stream.average_rate or 10)
        src = []
        for f in c.decode(stream):
            src.append(f.to_ndarray(format="bgr24"))
            if len(src) >= DURATION_S * src_fps:
                break
    for n in range(int(DURATION_S * FPS)):
        yield cv2.resize(src[min(len(src) - 1, int(n * src_fps / FPS))], size, interpolation=cv2.INTER_LINEAR)


def _quiet_frames(shared: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    with av.open(str(media_file(shared, "bikes.mp4"))) as c:
        still = next(f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i == 230)
    still = cv2.resize(still, size, interpolation=cv2.INTER_LINEAR)
    return _noisy((still for _ in range(int(DURATION_S * FPS))), 2.0, seed=7)


BUILDERS = {"busy_1080p": _busy_frames, "quiet_720p": _quiet_frames}


def build(kind: str, out_dir: Path, shared: Path) -> Path:
    """The access-unit file (``<kind>.h264`` + ``.json`` index) for one kind, built if missing."""
    if kind not in KINDS:
        raise ValueError(f"unknown footage {kind!r}; choose from {', '.join(KINDS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    units = out_dir / f"{kind}.h264"
    if units.exists() and units.with_name(units.name + ".json").exists():
        return units
    mp4 = encode_h264(BUILDERS[kind](shared, KINDS[kind]), out_dir / f"{kind}.mp4", fps=FPS, gop_s=2.0)
    return export_access_units(mp4, units)
