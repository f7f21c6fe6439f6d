"""Opening a camera with PyAV and reading its encoded packets, stamped with ingest time.

One CameraConnection is one open container: RTSP over TCP with open/read timeouts, or a file.
A live source ending its stream is a disconnect, not an end (a killed server ends PyAV's
demux loop with no exception)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import av

from epatrol.streams.packets import EncodedPacket, StreamInfo


class SourceError(Exception):
    """A camera that cannot be opened or read; the message names the camera and the URL."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    realtime: bool = False  # files only: pace packets at the file's own rate


def redact(url: str) -> str:
    """rtsp://user:secret@host/... -> rtsp://user:***@host/... for logs and errors."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.split("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


class CameraConnection:
    def __init__(self, camera_id: str, url: str, options: SourceOptions = SourceOptions(), time_offset_s: float = 0.0):
        self.camera_id = camera_id
        self.url = url
        self.live = "://" in url
        self.options = options
        self._offset_s = time_offset_s  # file loops continue the timeline of the previous pass
        self._container = self._open()
        try:
            self._stream = self._container.streams.video[0]
        except IndexError:
            self.close()
            raise SourceError(f"camera {camera_id}: {redact(url)} has no video stream") from None
        ctx = self._stream.codec_context
        if not ctx.width or not ctx.height:
            self.close()
            raise SourceError(f"camera {camera_id}: {redact(url)}: video stream without a frame size")
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.info = StreamInfo(
            camera_id=camera_id,
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps=float(rate) if rate else None,
            time_base=Fraction(self._stream.time_base),
            template=self._stream,
        )
        self._first_pts: int | None = None
        self._opened_wall = time.monotonic()
        self._opened_utc = datetime.now(timezone.utc)

    def _open(self) -> av.container.InputContainer:
        opts = self.options
        av_options = {}
        if self.url.startswith("rtsp"):
            # TCP: no lost UDP datagrams on busy links; timeout is the socket I/O timeout in microseconds.
            av_options = {"rtsp_transport": "tcp", "timeout": str(int(opts.read_timeout_s * 1e6))}
        elif not self.live and not Path(self.url).is_file():
            raise SourceError(f"camera {self.camera_id}: video file not found: {self.url}")
        try:
            return av.open(self.url, options=av_options, timeout=(opts.open_timeout_s, opts.read_timeout_s))
        except av.FFmpegError as e:
            raise SourceError(f"camera {self.camera_id}: cannot open {redact(self.url)}: {e.strerror or e}") from None
        except OSError as e:
            raise SourceError(f"camera {self.camera_id}: cannot open {redact(self.url)}: {e}") from None

    def packets(self) -> Iterator[tuple[EncodedPacket, av.Packet]]:
        """Encoded packets in arrival order until the stream ends. Raises SourceError on read errors."""
        tb = self.info.time_base
        try:
            for pkt in self._container.demux(self._stream):
                if pkt.size == 0:
                    continue  # demuxer flush marker
                pts = pkt.pts if pkt.pts is not None else pkt.dts
                if pts is None:
                    continue  # untimed packet: cannot be placed in a clip or a timeline
                if self._first_pts is None:
                    self._first_pts = pts
                time_s = float((pts - self._first_pts) * tb) + self._offset_s
                yield EncodedPacket(
                    data=bytes(pkt),
                    pts=pkt.pts,
                    dts=pkt.dts,
                    is_keyframe=bool(pkt.is_keyframe),
                    time_s=time_s,
                    utc=self._ingest_utc(time_s),
                ), pkt
        except av.ExitError:
            # PyAV's read timeout fired: the connection is up but nothing arrives.
            raise SourceError(
                f"camera {self.camera_id}: no data from {redact(self.url)} for {self.options.read_timeout_s:.0f} s (frozen)"
            ) from None
        except av.FFmpegError as e:
            raise SourceError(f"camera {self.camera_id}: read error from {redact(self.url)}: {e.strerror or e}") from None

    def _ingest_utc(self, time_s: float) -> datetime:
        if self.live:
            return datetime.now(timezone.utc)
        media_s = time_s - self._offset_s
        if self.options.realtime:
            delay = self._opened_wall + media_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            return datetime.now(timezone.utc)
        # As fast as possible: a synthetic clock that advances with the file's own timestamps.
        return self._opened_utc + timedelta(seconds=media_s)

    def decode(self, packet: av.Packet) -> Iterator[tuple[av.VideoFrame, float]]:
        """Decode one packet: (frame, media time) for each frame it completes. Frames stay in
        the decoder's pixel format: only the sampled ones are worth converting to BGR.
        A corrupt packet yields nothing; the next keyframe recovers."""
        tb = self.info.time_base
        try:
            frames = self._stream.codec_context.decode(packet)
        except av.FFmpegError:
            return
        for frame in frames:
            pts = frame.pts if frame.pts is not None else packet.pts
            time_s = float((pts - (self._first_pts or 0)) * tb) + self._offset_s
            yield frame, time_s

    def close(self) -> None:
        self._container.close()
