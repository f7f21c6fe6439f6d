"""Evidence clips: the camera's own H.264 packets remuxed into an mp4, never decoded or
re-encoded, so the clip is bit-for-bit what the camera sent (and costs almost no CPU).

The mp4 is fragmented (an empty index up front, then a self-describing fragment at least every
second and at every keyframe), and each fragment is flushed and fsync'd as it is written: if
the process is killed or the power fails, everything up to the last fragment plays. The file
is written as ``<name>.mp4.part`` and renamed when closed; recovery.py registers a cut-off
``.part`` that still decodes as a *partial* clip (``probe_clip`` says how much it holds).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from epatrol.common.hashing import sha256_file
from epatrol.evidence.recording.paths import fsync_dir, publish
from epatrol.streams.packets import EncodedPacket, StreamInfo

log = logging.getLogger(__name__)

# The mp4 muxer's options. frag_keyframe+empty_moov: no index at the end to lose, a fragment per
# keyframe; frag_duration: and at least one a second (a camera's GOP may be many seconds);
# default_base_moof: fragments self-contained (what browsers and MSE expect); flush_packets:
# each fragment goes to the file as soon as it is complete, not when an I/O buffer fills.
MUXER_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "1000000",  # microseconds
    "flush_packets": "1",
}
# The clip's own record of when its first packet arrived (mp4 `comment`; creation_time keeps whole seconds only).
START_TAG = "comment"
_START_PREFIX = "epatrol: first packet at "


@dataclass(frozen=True, slots=True)
class ClipFile:
    path: Path
    sha256: str
    size_bytes: int
    start_utc: datetime  # ingest time of the first packet
    end_utc: datetime  # ingest time of the last packet + one frame (exclusive end)
    start_time_s: float  # source media time of the first packet
    end_time_s: float  # latest source media time + one frame (exclusive end)
    packet_count: int


def _template_is_open(template: Any) -> bool:
    # add_stream_from_template reads the template's codec parameters through a raw pointer;
    # after its input container is closed that pointer dangles and PyAV segfaults.
    container = getattr(template, "container", None)
    return container is None or bool(getattr(container, "input_was_opened", True))


class ClipWriter:
    """Writes one clip. Not thread-safe: one owner feeds it, then calls close() or abort().

    ``preroll`` must start with a keyframe (a decoder cannot start elsewhere), and an
    existing clip is never overwritten (FileExistsError). The template stream in ``info``
    is needed only while the writer is constructed: the output stream copies its codec
    parameters, so the source may reconnect (and close) afterwards. Packets must all come
    from the connection ``info`` describes. After an error from add(), call abort().
    """

    def __init__(self, final_path: Path, info: StreamInfo, preroll: Sequence[EncodedPacket]) -> None:
        preroll = list(preroll)
        if not preroll or not preroll[0].is_keyframe:
            raise ValueError("a clip's preroll must start with a keyframe")
        if not _template_is_open(info.template):
            raise ValueError("the StreamInfo template's source container is already closed")

        self.final_path = Path(final_path)
        self.part_path = self.final_path.with_name(self.final_path.name + ".part")
        if self.final_path.exists():
            # E.g. a fresh database reusing event ids over an old storage root.
            raise FileExistsError(f"refusing to overwrite existing evidence: {self.final_path}")
        self._tb: Fraction = Fraction(info.time_base)
        # Frame duration in time-base ticks: from the nominal fps, else learnt from dts steps.
        self._ticks: int | None = None
        if info.fps and info.fps > 0:
            self._ticks = max(1, round(1 / (Fraction(info.fps) * self._tb)))
        self._learn_ticks = self._ticks is None
        self._origin: int | None = None  # source dts of the first packet; the clip's zero
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._count = 0
        self._first: EncodedPacket | None = None
        self._max_time_s = float("-inf")
        self._max_utc: datetime | None = None
        self._state = "open"

        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = None
        self._synced = 0  # bytes of the .part file known to be on disk
        self._out = av.open(str(self.part_path), "w", format="mp4", options=dict(MUXER_OPTIONS))
        try:
            # Written with the (empty) index, before any packet: survives a cut like the rest.
            first_utc = preroll[0].utc.astimezone(timezone.utc)
            self._out.metadata["creation_time"] = first_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            self._out.metadata[START_TAG] = _START_PREFIX + first_utc.isoformat()
            # opaque=True reuses the template's own (decoder) codec; the default for video
            # looks up an *encoder* for the codec name, which a decoder-only build lacks.
            self._stream = self._out.add_stream_from_template(info.template, opaque=True)
            for p in preroll:
                self._write(p)
        except BaseException:
            self.abort()
            raise

    @property
    def packet_count(self) -> int:
        return self._count

    def add(self, packet: EncodedPacket) -> None:
        if self._state != "open":
            raise RuntimeError(f"clip writer is {self._state}")
        self._write(packet)

    def close(self) -> ClipFile:
        """Finish the mp4, make it durable, move it to its final name, and hash it."""
        if self._state != "open":
            raise RuntimeError(f"clip writer is {self._state}")
        self._state = "closed"
        try:
            self._out.close()  # writes the last fragment and the trailer (the fragments' index)
            publish(self.part_path, self.final_path)
        except BaseException:
            self.part_path.unlink(missing_ok=True)
            raise
        finally:
            self._close_fd()
        assert self._first is not None and self._max_utc is not None
        frame = timedelta(seconds=float(self._ticks * self._tb)) if self._ticks else timedelta(0)
        return ClipFile(
            path=self.final_path,
            sha256=sha256_file(self.final_path),
            size_bytes=self.final_path.stat().st_size,
            start_utc=self._first.utc,
            end_utc=self._max_utc + frame,
            start_time_s=self._first.time_s,
            end_time_s=self._max_time_s + frame.total_seconds(),
            packet_count=self._count,
        )

    def abort(self) -> None:
        """Drop the clip: close the muxer and delete the .part file. Safe to call twice."""
        if self._state == "closed":
            return
        self._state = "aborted"
        out = getattr(self, "_out", None)
        if out is not None:
            try:
                out.close()
            except Exception:  # the file is being thrown away; a muxer error changes nothing
                log.debug("error closing aborted clip %s", self.part_path, exc_info=True)
        self._close_fd()
        self.part_path.unlink(missing_ok=True)

    def _close_fd(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    def _sync(self) -> None:
        """Make each fragment durable once the muxer has written it (about once a second)."""
        if self._fd is None:  # the muxer creates the file with its first write
            self._fd = os.open(self.part_path, os.O_RDONLY)  # fsync flushes the file, whichever fd
        size = os.fstat(self._fd).st_size
        if size > self._synced:
            os.fsync(self._fd)
            if not self._synced:
                fsync_dir(self.part_path.parent)  # the .part's own name, once
            self._synced = size

    def _write(self, p: EncodedPacket) -> None:
        pts, dts = self._timestamps(p)
        if self._origin is None:
            self._origin = dts
            self._first = p

        pkt = av.Packet(p.data)
        pkt.pts = pts - self._origin
        pkt.dts = dts - self._origin
        if self._ticks:
            pkt.duration = self._ticks  # sets the last sample's duration in the mp4
        pkt.is_keyframe = p.is_keyframe
        pkt.time_base = self._tb  # the muxer rescales to the mp4 track's time base
        pkt.stream = self._stream
        self._out.mux(pkt)
        self._sync()

        self._count += 1
        self._max_time_s = max(self._max_time_s, p.time_s)
        self._max_utc = p.utc if self._max_utc is None else max(self._max_utc, p.utc)

    def _timestamps(self, p: EncodedPacket) -> tuple[int, int]:
        """(pts, dts) in source ticks, filling gaps and keeping dts strictly increasing
        (the mp4 muxer rejects the whole write otherwise)."""
        pts, dts = p.pts, p.dts
        if pts is None:
            if self._last_pts is not None:
                pts = self._last_pts + (self._ticks or 1)
                if dts is not None:
                    pts = max(pts, dts)
            else:
                pts = dts if dts is not None else 0
        if dts is None:
            dts = pts
        if self._last_dts is not None:
            if self._learn_ticks and dts > self._last_dts:
                self._ticks = dts - self._last_dts
            if dts <= self._last_dts:
                log.warning(
                    "non-increasing dts %s after %s in %s; nudged", dts, self._last_dts, self.part_path
                )
                dts = self._last_dts + 1
                pts = max(pts, dts)
        self._last_pts, self._last_dts = pts, dts
        return pts, dts


@dataclass(frozen=True, slots=True)
class ClipProbe:
    """What a clip file holds, found by decoding it (recovery of a clip cut off mid-write)."""

    frames: int  # frames that decode
    seconds: float  # media time they cover: first frame to the end of the last one
    start_utc: datetime | None  # ingest time of the first packet, from the clip's own metadata
    finished: bool  # the muxer wrote its trailer: the clip was closed, not cut off
    damaged_packets: int  # packets that would not decode (a torn last fragment)


def _finished(path: Path) -> bool:
    # A closed fragmented mp4 ends with the fragment index (mfra), whose last box is a 16-byte mfro.
    try:
        with open(path, "rb") as f:
            f.seek(-16, os.SEEK_END)
            tail = f.read(16)
    except OSError:
        return False
    return tail[4:8] == b"mfro"


def _start_of(metadata: dict[str, str]) -> datetime | None:
    text = metadata.get(START_TAG, "")
    if not text.startswith(_START_PREFIX):
        return None
    try:
        t = datetime.fromisoformat(text[len(_START_PREFIX):])
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def probe_clip(path: Path) -> ClipProbe | None:
    """Decode the whole clip, counting what decodes; None if it cannot be opened or has no video.

    A clip cut off by a crash or power failure may end in a torn fragment: packets that fail
    to decode are counted and skipped, and the first demux error ends the walk."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError):
        return None
    with container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        frames = damaged = 0
        first = last = None
        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    damaged += 1
                    continue
                for frame in decoded:
                    if frame.time is None:
                        continue
                    frames += 1
                    first = frame.time if first is None else min(first, frame.time)
                    last = frame.time if last is None else max(last, frame.time)
        except av.FFmpegError:
            damaged += 1
        step = float(1 / stream.average_rate) if stream.average_rate else 0.0
        seconds = 0.0 if first is None else last - first + step
        return ClipProbe(frames, seconds, _start_of(dict(container.metadata)), _finished(Path(path)), damaged)
