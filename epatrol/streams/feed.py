"""A camera's life as one ordered stream of items: connected, packets (with the odd sample), disconnected.

Live sources reconnect with capped exponential backoff and jitter; files end, or loop on a
continuous timeline. The pre-roll ring lives here because it is a property of the stream."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from epatrol.streams.packets import EncodedPacket, Sample, StreamInfo
from epatrol.streams.ring import PacketRing
from epatrol.streams.sampler import FrameSampler
from epatrol.streams.source import CameraConnection, SourceError, SourceOptions
from epatrol.timing import StageTimes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Connected:
    info: StreamInfo


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str
    utc: datetime
    final: bool  # True when the feed will not reconnect (file ended, stop requested, file unusable)


@dataclass(frozen=True, slots=True)
class PacketIn:
    packet: EncodedPacket
    sample: Sample | None  # set when this packet completed a frame the sampler chose


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    reason: str
    attempt: int
    retry_in_s: float


FeedItem = Connected | PacketIn | Disconnected | ConnectFailed


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.2  # +-20 %, so cameras behind one switch do not retry in lockstep

    def delay(self, attempt: int) -> float:
        base = min(self.max_s, self.initial_s * 2 ** max(0, attempt - 1))
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


class CameraFeed:
    def __init__(
        self,
        camera_id: str,
        url: str,
        *,
        sample_every_s: float,
        preroll_s: float,
        loop: bool = False,
        source_options: SourceOptions = SourceOptions(),
        backoff: Backoff = Backoff(),
        stop: threading.Event | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.url = url
        self.live = "://" in url
        self.loop = loop
        self.options = source_options
        self.backoff = backoff
        self.stop = stop or threading.Event()
        self.sampler = FrameSampler(sample_every_s)
        self.ring = PacketRing(preroll_s)
        self.reconnects = 0
        self.times = StageTimes()  # decode cost, for the per-stage figures

    def __iter__(self) -> Iterator[FeedItem]:
        attempt = 0
        offset_s = 0.0
        while not self.stop.is_set():
            try:
                conn = CameraConnection(self.camera_id, self.url, self.options, time_offset_s=offset_s)
            except SourceError as e:
                if not self.live:
                    log.error("%s", e)
                    yield Disconnected(str(e), _now(), final=True)
                    return
                attempt += 1
                delay = self.backoff.delay(attempt)
                log.warning("%s (retry %d in %.1f s)", e, attempt, delay)
                yield ConnectFailed(str(e), attempt, delay)
                if self.stop.wait(delay):
                    break
                continue
            if attempt or offset_s:
                self.reconnects += 1
            attempt = 0
            self.sampler.reset()
            self.ring.clear()
            yield Connected(conn.info)
            reason = "end of file"
            last_time_s, last_utc = offset_s, _now()
            try:
                for item in self._read(conn):
                    last_time_s, last_utc = item.packet.time_s, item.packet.utc
                    yield item
                    if self.stop.is_set():
                        reason = "stopped"
                        break
                else:
                    reason = "stream ended (disconnect)" if self.live else "end of file"
            except SourceError as e:
                log.warning("%s", e)
                reason = str(e)
            # The consumer must finish its clips before the container closes (PyAV segfaults otherwise).
            final = self.stop.is_set() or (not self.live and not self.loop)
            if not self.live and self.loop and reason == "end of file":
                offset_s = last_time_s + 1.0 / (conn.info.fps or 25.0)
            # On the stream's own clock: a file read faster than real time runs ahead of the wall.
            yield Disconnected(reason, _now() if self.live else last_utc, final=final)
            conn.close()
            if final:
                return
            if self.live:
                attempt = 1
                if self.stop.wait(self.backoff.delay(attempt)):
                    return

    def _read(self, conn: CameraConnection) -> Iterator[PacketIn]:
        for enc, raw in conn.packets():
            self.ring.push(enc)
            sample = None
            if self.sampler.should_decode(enc.time_s, enc.is_keyframe):
                with self.times.measure("decode"):
                    taken = [(f, t) for f, t in conn.decode(raw) if self.sampler.take(t)]
                    # BGR conversion only for the frames that become samples (~15% of 1080p
                    # decode CPU at 1 sample/s with a 2 s GOP, where 1 decoded frame in 13 is kept).
                    taken = [(f.to_ndarray(format="bgr24"), t) for f, t in taken]
                for frame, frame_time_s in taken:
                    sample = Sample(
                        camera_id=self.camera_id,
                        frame=frame,
                        utc=enc.utc - timedelta(seconds=enc.time_s - frame_time_s),
                        time_s=frame_time_s,
                        is_keyframe=enc.is_keyframe and frame_time_s == enc.time_s,
                    )
            yield PacketIn(enc, sample)


def _now() -> datetime:
    return datetime.now(timezone.utc)
