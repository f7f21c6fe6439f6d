"""Evidence clips: the camera's own H.264 packets remuxed into an mp4, never decoded or
re-encoded, so the clip is bit-for-bit what the camera sent (and costs almost no CPU).

The file is written as ``<name>.mp4.part`` and renamed when complete: a clip that exists
under its final name is always whole and playable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from epatrol.common.hashing import sha256_file
from epatrol.evidence.recording.paths import publish
from epatrol.streams.packets import EncodedPacket, StreamInfo

log = logging.getLogger(__name__)


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
        # faststart moves the index to the front so browsers can seek before the download
        # ends; the muxer's second pass rewrites the .part file in place, before the rename.
        self._out = av.open(
            str(self.part_path), "w", format="mp4", container_options={"movflags": "+faststart"}
        )
        try:
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
            self._out.close()  # writes the trailer (moov), then the faststart pass
            publish(self.part_path, self.final_path)
        except BaseException:
            self.part_path.unlink(missing_ok=True)
            raise
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
        self.part_path.unlink(missing_ok=True)

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
