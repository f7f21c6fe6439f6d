#!/usr/bin/python3
"""A real RTSP server for tests: loops H.264 access units live, like an IP camera.

Runs under the SYSTEM python (GStreamer's ``gi`` bindings are installed there, not in the
project's virtualenv)::

    /usr/bin/python3 tests/rtsp_server.py --port 8554 --mount /cam1=parked_bike.h264 [--mount /cam2=x.mp4]

A mount source is either

* an Annex-B ``.h264`` file with its sidecar index ``<file>.json`` (written by
  ``tests/rtsp.py:export_access_units`` with PyAV): ``{"fps": 25.0, "units": [{"offset",
  "size", "pts", "key"}, ...]}`` (pts in seconds), or
* an ``.mp4``/``.mov``/``.mkv`` file, split into access units here with GStreamer at startup.

Each mount is a shared media factory (every client of a mount sees the same live stream):
``appsrc is-live=true format=time do-timestamp=false ! h264parse ! rtph264pay pt=96
config-interval=-1``. A feeder thread per media pushes the access units paced at real time,
with PTS in the pipeline's running time, looping the file with timestamps that keep growing
across loops. The "camera" runs from server start: a client that connects (when no other client
of the mount is connected) starts at the latest keyframe before the camera's current position
in the loop, so reconnecting does not replay the clip from the start (``--from-start`` does).

If the feeder falls behind by more than half a second (the process was SIGSTOPped, the machine
stalled), it re-anchors to the clock instead of bursting the backlog, so the timestamps jump
forward by the stall, like a real camera's.

Binds 127.0.0.1 only. Prints ``READY rtsp://127.0.0.1:PORT/cam1 [rtsp://...]`` on stdout once
listening (``--port 0`` picks a free port and the line says which), logs to stderr, exits 0 on
SIGTERM or SIGINT, exits 1 with a message on stderr when it cannot start.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

HOST = "127.0.0.1"
MAX_DRIFT_NS = Gst.SECOND // 2
# One launch line per codec of the clips (the index's "codec"): a camera streams H.264 or H.265.
LAUNCH = {
    codec: (
        "( appsrc name=src is-live=true format=time do-timestamp=false "
        f"caps=video/x-{codec},stream-format=byte-stream,alignment=au "
        f"! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=-1 )"
    )
    for codec in ("h264", "h265")
}


def log(msg: str) -> None:
    print(f"rtsp_server[{os.getpid()}] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- clips


@dataclass
class Clip:
    """A file's access units in memory, with their media times (first at 0)."""

    name: str
    data: bytes
    offsets: list[int]
    sizes: list[int]
    pts_ns: list[int]
    keys: list[bool]
    fps: float
    codec: str = "h264"

    @property
    def frame_ns(self) -> int:
        return int(round(Gst.SECOND / self.fps))

    @property
    def loop_ns(self) -> int:
        """Length of one pass: last pts + one frame."""
        return self.pts_ns[-1] + self.frame_ns

    def unit(self, i: int) -> bytes:
        return self.data[self.offsets[i] : self.offsets[i] + self.sizes[i]]

    def keyframe_at_or_before(self, media_ns: int) -> int:
        i = max(0, bisect.bisect_right(self.pts_ns, media_ns) - 1)
        while i > 0 and not self.keys[i]:
            i -= 1
        return i

    @classmethod
    def load(cls, path: Path) -> "Clip":
        if not path.is_file():
            raise FileNotFoundError(f"mount source not found: {path}")
        if path.suffix.lower() in (".mp4", ".mov", ".m4v", ".mkv"):
            return cls._from_container(path)
        return cls._from_annexb(path)

    @classmethod
    def _from_annexb(cls, path: Path) -> "Clip":
        index_path = path.with_name(path.name + ".json")
        if not index_path.is_file():
            raise FileNotFoundError(f"access-unit index not found: {index_path} (write it with tests/rtsp.py export_access_units)")
        index = json.loads(index_path.read_text())
        units = index["units"]
        if not units:
            raise ValueError(f"{index_path}: no access units")
        t0 = units[0]["pts"]
        return cls._checked(
            cls(
                name=path.name,
                data=path.read_bytes(),
                offsets=[u["offset"] for u in units],
                sizes=[u["size"] for u in units],
                pts_ns=[int(round((u["pts"] - t0) * Gst.SECOND)) for u in units],
                keys=[bool(u["key"]) for u in units],
                fps=float(index["fps"]),
                codec=index.get("codec", "h264"),
            )
        )

    @classmethod
    def _from_container(cls, path: Path) -> "Clip":
        """Demux an mp4 with GStreamer into Annex-B access units (SPS/PPS on every IDR)."""
        pipeline = Gst.parse_launch(
            "filesrc name=file ! parsebin ! h264parse config-interval=-1 "
            "! video/x-h264,stream-format=byte-stream,alignment=au "
            "! appsink name=sink sync=false max-buffers=0"
        )
        pipeline.get_by_name("file").set_property("location", str(path))
        sink = pipeline.get_by_name("sink")
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError(f"cannot read {path} with GStreamer")
        chunks: list[bytes] = []
        offsets, sizes, pts, keys = [], [], [], []
        fps = 0.0
        offset = 0
        try:
            while True:
                sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
                if sample is None:
                    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
                    if msg is not None:
                        err, dbg = msg.parse_error()
                        raise RuntimeError(f"cannot read {path}: {err.message} ({dbg})")
                    if not sink.get_property("eos"):
                        raise RuntimeError(f"timed out reading {path}")
                    break
                if not fps:
                    ok, num, den = sample.get_caps().get_structure(0).get_fraction("framerate")
                    fps = num / den if ok and num and den else 0.0
                buf = sample.get_buffer()
                data = buf.extract_dup(0, buf.get_size())
                chunks.append(data)
                offsets.append(offset)
                sizes.append(len(data))
                offset += len(data)
                pts.append(buf.pts if buf.pts != Gst.CLOCK_TIME_NONE else buf.dts)
                keys.append(not buf.has_flags(Gst.BufferFlags.DELTA_UNIT))
        finally:
            pipeline.set_state(Gst.State.NULL)
        if not chunks:
            raise ValueError(f"{path}: no H.264 access units")
        if not fps:
            fps = (len(pts) - 1) * Gst.SECOND / (pts[-1] - pts[0]) if len(pts) > 1 and pts[-1] > pts[0] else 25.0
        t0 = pts[0]
        return cls._checked(cls(path.name, b"".join(chunks), offsets, sizes, [p - t0 for p in pts], keys, fps))

    @staticmethod
    def _checked(clip: "Clip") -> "Clip":
        if not clip.keys[0]:
            raise ValueError(f"{clip.name}: the first access unit is not a keyframe")
        if any(b <= a for a, b in zip(clip.pts_ns, clip.pts_ns[1:])):
            raise ValueError(f"{clip.name}: access-unit pts not strictly increasing (B-frames are not supported)")
        return clip


# --------------------------------------------------------------------------- feeding


class Feeder(threading.Thread):
    """Pushes one clip into one media's appsrc, in a loop, paced by the pipeline clock."""

    def __init__(self, clip: Clip, appsrc: Gst.Element, start: int, label: str) -> None:
        super().__init__(name=f"feeder{label}", daemon=True)
        self.clip, self.appsrc, self.start_index, self.label = clip, appsrc, start, label
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def _running_time(self) -> int | None:
        clock = self.appsrc.get_clock()
        if clock is None:
            return None
        return clock.get_time() - self.appsrc.get_base_time()

    def run(self) -> None:
        # A live appsrc only streams in PLAYING; the RTSP media goes there while preparing.
        while not self.stopped.is_set():
            _, state, _ = self.appsrc.get_state(0)
            if state == Gst.State.PLAYING and self._running_time() is not None:
                break
            self.stopped.wait(0.005)
        clip, i, loops = self.clip, self.start_index, 0
        frame_ns = clip.frame_ns
        anchor = self._running_time() or 0
        first_pts = clip.pts_ns[i]
        last_pts = -1
        pushed = 0
        while not self.stopped.is_set():
            pts = anchor + loops * clip.loop_ns + clip.pts_ns[i] - first_pts
            now = self._running_time()
            if now is None:
                break
            if abs(now - pts) > MAX_DRIFT_NS:  # stalled (SIGSTOP) or clock jumped: re-anchor
                log(f"{self.label}: re-anchoring, {(now - pts) / Gst.SECOND:+.2f} s off schedule")
                anchor += now - pts
                pts = now
            pts = max(pts, last_pts + 1)
            if pts > now and self.stopped.wait((pts - now) / Gst.SECOND):
                break
            buf = Gst.Buffer.new_wrapped(clip.unit(i))
            buf.pts = buf.dts = pts
            buf.duration = frame_ns
            if not clip.keys[i]:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            ret = self.appsrc.emit("push-buffer", buf)
            if ret == Gst.FlowReturn.FLUSHING:
                if self.stopped.wait(0.02):
                    break
            elif ret != Gst.FlowReturn.OK:
                log(f"{self.label}: push-buffer returned {ret.value_nick}, feeder stops")
                break
            last_pts = pts
            pushed += 1
            i += 1
            if i == len(clip.offsets):
                i, loops = 0, loops + 1
        log(f"{self.label}: feeder stopped after {pushed} access units")


class CameraFactory(GstRtspServer.RTSPMediaFactory):
    """A shared factory whose media are fed from one looping clip."""

    def __init__(self, mount: str, clip: Clip, t0: float, from_start: bool) -> None:
        super().__init__()
        self.mount, self.clip, self.t0, self.from_start = mount, clip, t0, from_start
        self.feeders: set[Feeder] = set()
        self.set_launch(LAUNCH[clip.codec])
        self.set_shared(True)
        self.set_eos_shutdown(False)
        self.connect("media-configure", self._on_media_configure)

    def _start_index(self) -> int:
        if self.from_start:
            return 0
        position = int((time.monotonic() - self.t0) * Gst.SECOND) % self.clip.loop_ns
        return self.clip.keyframe_at_or_before(position)

    def _on_media_configure(self, _factory, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name("src")
        start = self._start_index()
        feeder = Feeder(self.clip, appsrc, start, self.mount)
        self.feeders.add(feeder)

        def on_unprepared(_media) -> None:
            feeder.stop()
            self.feeders.discard(feeder)
            log(f"{self.mount}: media unprepared")

        media.connect("unprepared", on_unprepared)
        log(f"{self.mount}: new media, starting at access unit {start} ({self.clip.pts_ns[start] / Gst.SECOND:.2f} s)")
        feeder.start()

    def stop_all(self) -> None:
        for feeder in list(self.feeders):
            feeder.stop()


# --------------------------------------------------------------------------- main


def parse_mount(text: str) -> tuple[str, Path]:
    mount, sep, path = text.partition("=")
    if not sep or not mount or not path:
        raise argparse.ArgumentTypeError(f"expected /MOUNT=FILE, got {text!r}")
    return "/" + mount.strip("/"), Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8554, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--mount", type=parse_mount, action="append", required=True, metavar="/PATH=FILE")
    parser.add_argument("--from-start", action="store_true", help="every new media starts at the clip's first frame")
    parser.add_argument("--session-timeout", type=int, default=10, help="seconds before an idle RTSP session is dropped")
    parser.add_argument("--credentials", metavar="USER:PASSWORD", help="require RTSP basic authentication (401 without it)")
    args = parser.parse_args(argv)

    Gst.init(None)
    t0 = time.monotonic()
    try:
        clips = {mount: Clip.load(path) for mount, path in args.mount}
    except (OSError, ValueError, RuntimeError) as exc:
        log(f"error: {exc}")
        return 1
    if len(clips) != len(args.mount):
        log("error: the same mount path given twice")
        return 1

    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(args.port))
    if args.credentials:  # a camera that needs a login, as most real ones do
        user, _, password = args.credentials.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
    mounts = server.get_mount_points()
    factories = []
    for mount, clip in clips.items():
        factory = CameraFactory(mount, clip, t0, args.from_start)
        if args.credentials:
            factory.add_role_from_structure(Gst.Structure.new_from_string(
                "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        mounts.add_factory(mount, factory)
        factories.append(factory)
        log(f"{mount}: {clip.name}, {len(clip.offsets)} access units, {clip.fps:g} fps, loop {clip.loop_ns / Gst.SECOND:.2f} s")

    pool = server.get_session_pool()

    def on_client(_server, client) -> None:
        conn = client.get_connection()
        peer = f"{conn.get_ip()}" if conn is not None else "?"
        log(f"client connected from {peer}")
        client.connect("closed", lambda _c: log(f"client from {peer} closed"))
        client.connect("new-session", lambda _c, session: session.set_timeout(args.session_timeout))

    server.connect("client-connected", on_client)

    if server.attach(None) == 0:
        log(f"error: cannot listen on {HOST}:{args.port} (port in use?)")
        return 1
    port = server.get_bound_port()
    loop = GLib.MainLoop()

    def cleanup_sessions() -> bool:
        pool.cleanup()
        return True

    GLib.timeout_add_seconds(1, cleanup_sessions)

    def on_signal(signame: str) -> bool:
        log(f"{signame}: shutting down")
        for factory in factories:
            factory.stop_all()
        loop.quit()
        return False

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, on_signal, "SIGTERM")
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, on_signal, "SIGINT")

    print("READY " + " ".join(f"rtsp://{HOST}:{port}{m}" for m in clips), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: GStreamer's streaming threads may still be winding down.
    os._exit(code)
