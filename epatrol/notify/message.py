"""One notification: serialised once, at publish time, and shared by every target."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Mapping
from datetime import date, datetime, timezone
from enum import Enum
from pathlib import PurePath
from typing import Any

KINDS = ("event.started", "event.updated", "event.ended", "camera.online", "camera.offline")

_TOPIC_UNSAFE = str.maketrans({"/": "_", "+": "_", "#": "_", "\x00": "_"})


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    message_id: str  # stable across retries and reconnects: consumers de-duplicate on it
    kind: str
    camera: str  # topic-safe camera id ("_" when the payload had none)
    body: bytes  # UTF-8 JSON


def topic_part(value: object) -> str:
    """A value made safe for one MQTT topic level (no '/', wildcards or NUL)."""
    s = str(value).translate(_TOPIC_UNSAFE)
    return s or "_"


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return (o if o.tzinfo else o.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(o, date):
        return o.isoformat()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, PurePath):
        return str(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    item = getattr(o, "item", None)  # numpy scalars
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    tolist = getattr(o, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    return str(o)


class MessageIds:
    """f"{kind}:{ref}:{seq}": ref is payload["event_id"] (else the camera id); seq grows by one per
    message and starts at the process start time in microseconds, so ids stay unique across restarts."""

    def __init__(self) -> None:
        self._seq = itertools.count(time.time_ns() // 1000)

    def next(self, kind: str, payload: Mapping[str, Any]) -> str:
        ref = payload.get("event_id")
        if ref is None:
            ref = payload.get("camera", "_")
        return f"{kind}:{ref}:{next(self._seq)}"


def build_message(kind: str, payload: Mapping[str, Any], message_id: str) -> Message:
    """The JSON body is {"message_id", "kind", "ts", **payload} (UTF-8, ensure_ascii=False);
    `ts` is the UTC publish time unless the payload brings its own."""
    doc: dict[str, Any] = {
        "message_id": message_id,
        "kind": kind,
        "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }
    for k, v in payload.items():
        if k not in ("message_id", "kind"):
            doc[k] = v
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode("utf-8")
    return Message(message_id, kind, topic_part(payload.get("camera", "_")), body)
