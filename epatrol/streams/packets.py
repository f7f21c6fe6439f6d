"""The values that leave streams/: encoded packets (for evidence) and decoded samples (for detection)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What one connection to a camera delivers. A reconnect yields a new StreamInfo
    (the resolution or codec may have changed)."""

    camera_id: str
    codec: str
    width: int
    height: int
    fps: float | None
    time_base: Fraction
    # The demuxer's av.VideoStream: evidence/ copies its codec parameters into clips
    # (add_stream_from_template). Valid only while the source container is open.
    template: Any


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One compressed access unit, copied out of the demuxer so it outlives the container."""

    data: bytes
    pts: int | None
    dts: int | None
    is_keyframe: bool
    time_s: float  # media time since the connection opened, from pts (seconds)
    utc: datetime  # wall-clock UTC at ingest (camera clocks are not trusted)


@dataclass(frozen=True, slots=True)
class Sample:
    """One decoded frame chosen by the sampler."""

    camera_id: str
    frame: np.ndarray  # H x W x 3, uint8, BGR
    utc: datetime
    time_s: float
    is_keyframe: bool
