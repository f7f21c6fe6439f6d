"""The footage built by sample_videos/build.py looks like a real camera's."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from rtsp import build_footage, footage_module

build = footage_module()

EXPECTED = {
    # name: (width, height, frames)
    "parked_bike.mp4": (640, 272, 1500),  # 60 s
    "campus_walkers.mp4": (768, 576, 1987),  # vtest.avi: 795 frames at 10 fps = 79.5 s
}


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> dict[str, Path]:
    return build_footage(tmp_path_factory)


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        packets = [p for p in c.demux(s) if p.size]
        cc = s.codec_context
        return {
            "codec": cc.name,
            "pix_fmt": cc.pix_fmt,
            "size": (cc.width, cc.height),
            "rate": s.average_rate,
            "duration": float(s.duration * s.time_base),
            "keys": [i for i, p in enumerate(packets) if p.is_keyframe],
            "pts_eq_dts": all(p.pts == p.dts for p in packets),
            "frames": len(packets),
        }


@pytest.mark.parametrize("name", list(EXPECTED))
def test_footage_is_camera_like(footage, name):
    width, height, frames = EXPECTED[name]
    info = probe(footage[name])
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert info["size"] == (width, height)
    assert info["rate"] == 25
    assert info["frames"] == frames
    assert info["duration"] == pytest.approx(frames / 25, abs=0.05)
    assert info["keys"] == list(range(0, frames, 50)), "keyframe every 50 frames (2 s), none in between"
    assert info["pts_eq_dts"], "no B-frames"
    assert not footage[name].with_suffix(".part.mp4").exists()


def test_parked_bike_content(footage):
    frames = []
    with av.open(str(footage["parked_bike.mp4"])) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="bgr24").astype(np.int16))
            if len(frames) == 660:
                break
    # Ping-pong over 26 quiet frames repeats the picture every 50 frames, with fresh noise:
    # the same picture, never the same pixels.
    a, b = frames[600], frames[650]
    diff = a - b
    assert np.abs(diff.mean()) < 0.5
    assert 1.0 < diff.std() < 5.0, f"sensor noise std {diff.std() / np.sqrt(2):.2f}"
    # Continuous motion: no cut anywhere (neighbouring frames stay close).
    steps = [np.abs(frames[i] - frames[i - 1]).mean() for i in range(1, len(frames), 3)]
    assert max(steps) < 20


def test_ping_pong_indices():
    assert list(build.ping_pong_indices(0, 3, 10)) == [2, 1, 0, 1, 2, 3, 2, 1, 0, 1]
    assert list(build.ping_pong_indices(0, 3, 4, start_backward=False)) == [1, 2, 3, 2]
    assert list(build.ping_pong_indices(5, 5, 3)) == [5, 5, 5]


def test_encode_h264_is_atomic(tmp_path):
    def frames():
        for i in range(30):
            yield np.full((64, 96, 3), i * 8, np.uint8)
        raise RuntimeError("source broke")

    target = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError, match="source broke"):
        build.encode_h264(frames(), target)
    assert not target.exists() and not target.with_suffix(".part.mp4").exists()

    out = build.encode_h264((np.zeros((64, 96, 3), np.uint8) for _ in range(60)), target, gop_s=1.0)
    assert out == target
    info = probe(target)
    assert info["keys"] == [0, 25, 50] and info["frames"] == 60

    with pytest.raises(ValueError, match="even"):
        build.encode_h264([np.zeros((63, 96, 3), np.uint8)], tmp_path / "odd.mp4")


def test_missing_media_is_named(tmp_path):
    with pytest.raises(build.MissingMediaError, match="bikes.mp4"):
        build.build_parked_bike(tmp_path, shared_dir=tmp_path / "no-shared")
    assert build.main(["--shared", str(tmp_path / "no-shared"), "--out", str(tmp_path)]) == 2
    assert not list(tmp_path.glob("*.mp4"))


def test_existing_files_are_kept(tmp_path, capsys):
    (tmp_path / "parked_bike.mp4").write_bytes(b"not rebuilt")
    # Kept without even looking for the sources.
    assert build.build_parked_bike(tmp_path, shared_dir=tmp_path / "no-shared") == tmp_path / "parked_bike.mp4"
    assert build.main(["--shared", str(tmp_path / "no-shared"), "--out", str(tmp_path), "parked_bike.mp4"]) == 0
    assert "kept" in capsys.readouterr().out
    assert (tmp_path / "parked_bike.mp4").read_bytes() == b"not rebuilt"
