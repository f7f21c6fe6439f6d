"""The GStreamer RTSP test server, seen by a PyAV client (the way epatrol's ingest sees a camera)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from rtsp import (
    RtspServer,
    build_footage,
    footage_module,
    open_rtsp,
    rtsp_unavailable_reason,
)

pytestmark = [
    pytest.mark.rtsp,
    pytest.mark.skipif(rtsp_unavailable_reason() is not None, reason=rtsp_unavailable_reason() or ""),
]


@pytest.fixture(scope="module")
def parked_bike(tmp_path_factory) -> Path:
    return build_footage(tmp_path_factory, ["parked_bike.mp4"])["parked_bike.mp4"]


@pytest.fixture(scope="module")
def server(parked_bike):
    with RtspServer({"/cam1": parked_bike}) as srv:
        yield srv


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """A 3 s synthetic clip (a moving bar), so tests can watch the server loop it."""
    encode_h264 = footage_module().encode_h264

    def frames():
        for i in range(75):
            img = np.full((120, 160, 3), 40, np.uint8)
            img[:, (i * 2) % 160 : (i * 2) % 160 + 8] = 220
            yield img

    return encode_h264(frames(), tmp_path_factory.mktemp("short") / "short.mp4")


def read_packets(container, media_s: float | None = None, count: int | None = None, wall_s: float = 20.0) -> list[dict]:
    """Demux video packets until ``media_s`` seconds of media time or ``count`` packets."""
    stream = container.streams.video[0]
    out, first, t0 = [], None, time.monotonic()
    for p in container.demux(stream):
        if not p.size:
            continue
        t = float(p.pts * stream.time_base) if p.pts is not None else None
        data = bytes(p)
        out.append({"t": t, "key": p.is_keyframe, "packet": p, "hash": hashlib.blake2b(data, digest_size=8).digest()})
        if t is not None and first is None:
            first = t
        if media_s is not None and t is not None and t - first >= media_s:
            break
        if count is not None and len(out) >= count:
            break
        assert time.monotonic() - t0 < wall_s, f"no end after {wall_s} s wall clock"
    return out


def test_stream_is_a_camera(server):
    t0 = time.monotonic()
    with open_rtsp(server.url("/cam1")) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 272)
        opened = time.monotonic()
        packets = read_packets(c, media_s=6.0)
        wall = time.monotonic() - opened

        # FFmpeg gives the very first packet no pts (before RTP timing is established).
        timed = [p for p in packets if p["t"] is not None]
        assert len(packets) - len(timed) <= 1
        times = [p["t"] for p in timed]
        assert all(b > a for a, b in zip(times, times[1:])), "pts must increase"
        steps = np.diff(times)
        assert np.allclose(steps, 0.04, atol=0.002), f"25 fps expected, steps {sorted(set(np.round(steps, 3)))}"

        keys = [p["t"] for p in timed if p["key"]]
        assert len(keys) >= 3
        assert np.allclose(np.diff(keys), 2.0, atol=0.01), f"keyframe every 2 s expected, got {keys}"
        # A fresh media starts at a keyframe (the latest one before the camera's position).
        assert packets[0]["key"]

        # Live: 6 s of media take about 6 s to arrive.
        assert wall > 4.5, f"6 s of media arrived in {wall:.1f} s: not paced"

        codec = av.CodecContext.create("h264", "r")
        codec.extradata = stream.codec_context.extradata
        frames = [f for p in packets for f in codec.decode(p["packet"])]
        assert len(frames) >= 100
        assert (frames[-1].width, frames[-1].height) == (640, 272)
    assert time.monotonic() - t0 < 15


def test_second_client_sees_the_same_live_stream(server):
    with open_rtsp(server.url()) as c1:
        first = read_packets(c1, count=10)
        with open_rtsp(server.url()) as c2:
            second = read_packets(c2, count=40)
            more_first = read_packets(c1, count=120)
    assert len(second) == 40
    h1 = {p["hash"] for p in first + more_first}
    shared = sum(p["hash"] in h1 for p in second)
    assert shared >= 35, f"only {shared} of the second client's packets were also sent to the first"


def test_clients_come_and_go(server):
    for _ in range(4):
        # probesize=32: take the stream parameters from the SDP, skip ~1 s of probing.
        with open_rtsp(server.url(), probesize="32") as c:
            assert len(read_packets(c, count=5)) == 5
    # A client that dies without TEARDOWN.
    script = textwrap.dedent(
        f"""
        import av, sys
        c = av.open({server.url()!r}, options={{"rtsp_transport": "tcp", "timeout": "5000000", "probesize": "32"}})
        for i, p in enumerate(c.demux(c.streams.video[0])):
            if i == 10:
                print("streaming", flush=True)
                sys.stdin.readline()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "streaming"
    finally:
        proc.kill()
        proc.wait()
    with open_rtsp(server.url()) as c:
        packets = read_packets(c, count=30)
    assert len(packets) == 30
    assert server.running


def test_kill_ends_the_client_loop_and_start_reuses_the_port(parked_bike):
    with RtspServer({"/cam1": parked_bike}) as srv:
        port = srv.port
        outcome: dict = {}

        def client():
            try:
                with open_rtsp(srv.url()) as c:
                    n = 0
                    for p in c.demux(c.streams.video[0]):
                        n += 1
                        if n == 20:
                            outcome["killed_at"] = time.monotonic()
                            srv.kill()
                    outcome["end"] = "eof"
                    outcome["packets"] = n
            except Exception as exc:  # noqa: BLE001 - recorded for the assertion
                outcome["end"] = repr(exc)
            outcome["ended_at"] = time.monotonic()

        t = threading.Thread(target=client)
        t.start()
        t.join(15)
        assert not t.is_alive(), "the client's demux loop did not end after the server was killed"
        # PyAV/FFmpeg 8: a killed server just ends the demux loop, no exception.
        assert outcome["end"] == "eof", outcome
        assert outcome["ended_at"] - outcome["killed_at"] < 6
        assert not srv.running

        srv.start()
        assert srv.port == port
        with open_rtsp(srv.url()) as c:
            packets = read_packets(c, count=30)
        assert len(packets) == 30 and packets[0]["key"]
        assert srv.stop() == 0, "SIGTERM: clean exit"


def test_pause_stalls_clients_and_resume_recovers(parked_bike):
    with RtspServer({"/cam1": parked_bike}) as srv:
        # A short hang: the client waits it out; the camera's timestamps jump by the hang
        # (the server re-anchors to its clock rather than bursting the backlog).
        with open_rtsp(srv.url(), timeout_s=5.0) as c:
            before = read_packets(c, count=10)
            srv.pause()
            time.sleep(1.5)
            srv.resume()
            after = read_packets(c, count=30)
        times = [p["t"] for p in before + after if p["t"] is not None]
        gaps = np.diff(times)
        assert all(gaps > 0)
        assert gaps.max() > 1.0, f"no timestamp jump over the pause: max gap {gaps.max():.2f} s"
        assert np.sum(gaps > 0.1) == 1
        assert "re-anchoring" in srv.stderr_text()

        # A long hang: the client's socket timeout fires (TimeoutError, errno 110).
        with open_rtsp(srv.url(), timeout_s=1.0) as c:
            read_packets(c, count=10)
            srv.pause()
            t0 = time.monotonic()
            try:
                with pytest.raises(TimeoutError):
                    read_packets(c, count=10_000, wall_s=30)
            finally:
                srv.resume()
            assert time.monotonic() - t0 < 8
        with open_rtsp(srv.url()) as c:
            assert len(read_packets(c, count=20)) == 20


def test_timestamps_continue_across_loops(short_clip):
    # /a: access units exported with PyAV; /b: the mp4 split by GStreamer inside the server.
    with RtspServer({"/a": short_clip}) as a, RtspServer({"/b": short_clip}, export=False, from_start=True) as b:
        results = {}

        def watch(name, url):
            with open_rtsp(url) as c:
                results[name] = read_packets(c, media_s=4.5)

        threads = [threading.Thread(target=watch, args=(n, s.url())) for n, s in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    for name in "ab":
        times = [p["t"] for p in results[name] if p["t"] is not None]
        steps = np.diff(times)
        assert times[-1] - times[0] >= 4.5, name  # longer than the 3 s clip: it looped
        assert np.allclose(steps, 0.04, atol=0.002), (name, sorted(set(np.round(steps, 3))))
        # 75 frames, GOP 50: keyframes at clip times 0 and 2 s, so 2 s then 1 s apart, looping.
        keys = [p["t"] for p in results[name] if p["key"] and p["t"] is not None]
        gaps = set(np.round(np.diff(keys), 2))
        assert len(keys) >= 2 and gaps <= {1.0, 2.0}, (name, keys)
