"""ClipWriter against real H.264: encoded here by PyAV from a real photo, then demuxed into
EncodedPackets the way streams/ delivers them, and remuxed into a clip."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from epatrol.common.hashing import sha256_file
from epatrol.evidence.recording.clip import ClipWriter, probe_clip
from epatrol.streams.packets import EncodedPacket, StreamInfo

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BUS = SHARED / "media" / "bus.jpg"
FPS, GOP, N_FRAMES = 25, 50, 150  # keyframes at 0 s, 2 s, 4 s
T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=timezone.utc)


def _h264_encoder() -> str | None:
    for name in ("libx264", "h264"):
        try:
            return av.Codec(name, "w").name
        except Exception:
            continue
    return None


def _encode(path: Path, fmt: str) -> None:
    """6 s of 640x480 @ 25 fps, GOP 50, no B-frames: a window sliding over bus.jpg."""
    img = cv2.imread(str(BUS))
    assert img is not None
    out = av.open(str(path), "w", format=fmt)
    s = out.add_stream(
        _h264_encoder(), rate=FPS,
        options={"preset": "ultrafast", "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "bf": "0"},
    )
    s.width, s.height, s.pix_fmt = 640, 480, "yuv420p"
    s.codec_context.gop_size = GOP
    s.codec_context.max_b_frames = 0
    for i in range(N_FRAMES):
        x, y = i * 90 // N_FRAMES, i * 3
        crop = cv2.resize(img[y : y + 540, x : x + 720], (640, 480))
        frame = av.VideoFrame.from_ndarray(crop, format="bgr24")
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        out.mux(s.encode(frame))
    out.mux(s.encode(None))
    out.close()


# mp4: length-prefixed NALs, 1/12800 time base. mpegts: Annex B with in-band SPS/PPS and a
# 90 kHz clock, which is what an RTSP camera delivers.
@pytest.fixture(scope="module", params=["mp4", "mpegts"])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUS.is_file():
        pytest.skip(f"test media not found: {BUS}")
    if _h264_encoder() is None:
        pytest.skip("this PyAV build has no H.264 encoder")
    path = tmp_path_factory.mktemp("src") / f"bus.{request.param}"
    _encode(path, request.param)
    return path


@contextmanager
def demuxed(path: Path) -> Iterator[tuple[av.container.InputContainer, StreamInfo, list[EncodedPacket]]]:
    """The source stays open for the duration: the StreamInfo's template lives in it."""
    c = av.open(str(path))
    try:
        s = c.streams.video[0]
        info = StreamInfo(
            camera_id="cam1",
            codec=s.codec_context.name,
            width=s.width,
            height=s.height,
            fps=float(s.average_rate) if s.average_rate else None,
            time_base=s.time_base,
            template=s,
        )
        packets = []
        for p in c.demux(s):
            if p.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            t = float(p.pts * p.time_base)
            packets.append(EncodedPacket(bytes(p), p.pts, p.dts, p.is_keyframe, t, T0 + timedelta(seconds=t)))
        yield c, info, packets
    finally:
        c.close()


def _frames(path: Path, start: int = 0, stop: int | None = None) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray() for f in c.decode(video=0)]
    return frames[start:stop]


def _write(final: Path, info: StreamInfo, packets: list[EncodedPacket], n_preroll: int = 10):
    w = ClipWriter(final, info, packets[:n_preroll])
    for p in packets[n_preroll:]:
        w.add(p)
    return w.close()


def test_clip_is_a_faithful_remux_of_the_slice(source: Path, tmp_path: Path) -> None:
    final = tmp_path / "clips" / "cam1" / "2024-05-01" / "7-parking.mp4"
    with demuxed(source) as (_, info, packets):
        keyframes = [i for i, p in enumerate(packets) if p.is_keyframe]
        assert keyframes[:3] == [0, 50, 100]
        sl = packets[50:125]  # keyframe at 2 s through 5 s
        clip = _write(final, info, sl)

    assert final.is_file()
    assert not final.with_name(final.name + ".part").exists()
    assert list(final.parent.iterdir()) == [final]
    assert clip.path == final
    assert clip.sha256 == sha256_file(final)
    assert clip.size_bytes == final.stat().st_size
    assert clip.packet_count == 75
    assert clip.start_time_s == pytest.approx(2.0)
    assert clip.end_time_s - clip.start_time_s == pytest.approx(3.0, abs=1 / FPS)
    assert clip.start_utc == T0 + timedelta(seconds=2)
    assert (clip.end_utc - clip.start_utc).total_seconds() == pytest.approx(3.0, abs=1 / FPS)

    with av.open(str(final)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        assert (s.width, s.height) == (640, 480)
        assert c.duration / 1e6 == pytest.approx(3.0, abs=1 / FPS)
        pkts = [p for p in c.demux(s) if p.size]
        assert pkts[0].is_keyframe
        assert pkts[0].pts == 0 and pkts[0].dts == 0
        assert len(pkts) == 75

    # Decodes fully, and to exactly the source's pixels: nothing was re-encoded.
    got, want = _frames(final), _frames(source, 50, 125)
    assert len(got) == 75
    assert all(np.array_equal(a, b) for a, b in zip(got, want))

    data = final.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the (empty) index first: plays while it downloads


def test_missing_timestamps_are_derived(source: Path, tmp_path: Path) -> None:
    final = tmp_path / "gaps.mp4"
    with demuxed(source) as (_, info, packets):
        sl = packets[50:125]
        for i in (5, 6, 30, 74):  # pts lost (some RTSP depacketisers do this)
            sl[i] = dataclasses.replace(sl[i], pts=None)
        for i in (12, 40):  # dts lost
            sl[i] = dataclasses.replace(sl[i], dts=None)
        clip = _write(final, info, sl)
    assert clip.packet_count == 75
    with av.open(str(final)) as c:
        pts = [p.pts for p in c.demux(video=0) if p.size]
        assert pts == sorted(pts) and len(set(pts)) == 75
        assert c.duration / 1e6 == pytest.approx(3.0, abs=1 / FPS)
    assert len(_frames(final)) == 75


def test_preroll_must_start_on_a_keyframe(source: Path, tmp_path: Path) -> None:
    final = tmp_path / "bad.mp4"
    with demuxed(source) as (_, info, packets):
        with pytest.raises(ValueError, match="keyframe"):
            ClipWriter(final, info, packets[51:60])
        with pytest.raises(ValueError, match="keyframe"):
            ClipWriter(final, info, [])
    assert list(tmp_path.iterdir()) == []


def test_abort_removes_the_part_file(source: Path, tmp_path: Path) -> None:
    final = tmp_path / "aborted.mp4"
    with demuxed(source) as (_, info, packets):
        w = ClipWriter(final, info, packets[0:10])
        for p in packets[10:40]:
            w.add(p)
        assert w.part_path.is_file() and w.part_path.name == "aborted.mp4.part"
        w.abort()
        w.abort()  # idempotent
        with pytest.raises(RuntimeError):
            w.add(packets[40])
        with pytest.raises(RuntimeError):
            w.close()
    assert list(tmp_path.iterdir()) == []


def test_closed_writer_refuses_more(source: Path, tmp_path: Path) -> None:
    with demuxed(source) as (_, info, packets):
        w = ClipWriter(tmp_path / "a.mp4", info, packets[:5])
        w.close()
        with pytest.raises(RuntimeError):
            w.add(packets[5])
        w.abort()  # after close: a no-op, the clip stays
        with pytest.raises(FileExistsError):  # evidence is never overwritten
            ClipWriter(tmp_path / "a.mp4", info, packets[:5])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_template_needed_only_at_construction(source: Path, tmp_path: Path) -> None:
    # A camera reconnect closes the old source while its clip is still being written.
    final = tmp_path / "reconnect.mp4"
    with demuxed(source) as (container, info, packets):
        w = ClipWriter(final, info, packets[:10])
        container.close()
        for p in packets[10:60]:
            w.add(p)
        w.close()
        # A closed template is refused up front (PyAV would otherwise segfault).
        with pytest.raises(ValueError, match="closed"):
            ClipWriter(tmp_path / "late.mp4", info, packets[:10])
    assert len(_frames(final)) == 60
    assert not (tmp_path / "late.mp4.part").exists()


def test_clip_is_fragmented_so_a_cut_off_file_plays(source: Path, tmp_path: Path) -> None:
    """The muxer honours the fragmented-mp4 options: an empty index up front announcing fragments,
    self-contained fragments at least every second, each on disk as soon as it is complete. So
    what a kill -9 or a power cut leaves mid-recording decodes, to the same pixels."""
    final = tmp_path / "frag.mp4"
    with demuxed(source) as (_, info, packets):
        w = ClipWriter(final, info, packets[:10])  # keyframes every 2 s: 0, 50, 100
        for p in packets[10:110]:
            w.add(p)
        midway = w.part_path.read_bytes()  # what a kill now would leave
        clip = w.close()
    data = final.read_bytes()
    assert data[4:8] == b"ftyp" and data.find(b"moov") < data.find(b"moof") < data.find(b"mdat")
    assert b"mvex" in data[: data.find(b"moof")]  # empty_moov: the index says fragments follow
    tfhd = data.find(b"tfhd")
    assert int.from_bytes(data[tfhd + 5 : tfhd + 8], "big") & 0x020000  # default_base_moof
    assert data.count(b"moof") >= 5  # 4.4 s: a fragment a second, not only one per 2 s GOP
    assert data.startswith(midway)  # written fragments are final, never rewritten

    cut = tmp_path / "cut.mp4"
    cut.write_bytes(midway)
    probe = probe_clip(cut)
    assert probe is not None and not probe.finished and probe.damaged_packets == 0
    assert 110 - 26 <= probe.frames < 110  # all but the fragment still in memory (at most 1 s)
    assert probe.start_utc == packets[0].utc == clip.start_utc  # the clip records its own start
    assert all(np.array_equal(a, b) for a, b in zip(_frames(cut), _frames(final, 0, probe.frames)))
    full = probe_clip(final)
    assert full.finished and full.frames == 110 and full.seconds == pytest.approx(4.4, abs=1e-6)
    assert probe_clip(tmp_path / "absent.mp4") is None
