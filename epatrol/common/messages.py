"""The messages a box sends to the centre, and the centre's commands to a box (JSON, v1).

Box -> centre, subject ``epatrol.<box>.up`` (stream EPATROL_UP)::

    {"v": 1, "box": "box-a", "seq": 42, "key": "box-a:42:1f0c...", "kind": "event" | "file" | "inspection",
     "event": {...whole current state of one edge event...},        # event, file
     "file": {"kind": "clip", "sha256": "...", "size_bytes": 1, "object_key": "box-a/7/clip-<sha>"},  # file
     "inspection": {"request_id": "...", "state": "clean", ...}}     # inspection

``seq`` is the box ledger's sequence number of the change (monotonic per box), so the centre
can tell a newer state from a redelivered older one; ``key`` is also the ``Nats-Msg-Id``.

Centre -> box, subject ``epatrol.<box>.reinspect`` (stream EPATROL_DOWN)::

    {"v": 1, "request_id": "...", "case_id": 3, "camera": "cam-1", "zone": "wall", "violation": "parked_bikes"}
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

VERSION = 1
KINDS = ("event", "file", "inspection")
ANSWERS = ("clean", "violating", "unavailable")
UP_STREAM, DOWN_STREAM = "EPATROL_UP", "EPATROL_DOWN"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # safe as a NATS subject token and an object-key part
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BadMessage(ValueError):
    """A message that does not follow this format; the text names the field."""


def up_subject(box: str) -> str:
    return f"epatrol.{check_name(box, 'box')}.up"


def reinspect_subject(box: str) -> str:
    return f"epatrol.{check_name(box, 'box')}.reinspect"


def object_key(box: str, edge_event_id: int, kind: str, sha256: str) -> str:
    return f"{box}/{edge_event_id}/{kind}-{sha256}"


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise BadMessage(f"{what} must be 1-64 letters, digits, '-' or '_', got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class CameraFacts:
    id: str
    name: str
    site: str
    street: str | None = None
    grid: str | None = None


@dataclass(frozen=True, slots=True)
class EventFacts:
    id: int
    camera: CameraFacts
    zone: str
    violation: str
    started_at: datetime
    alerted_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    review_state: str
    clip_state: str
    model_name: str
    model_sha256: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileFacts:
    kind: str
    sha256: str
    size_bytes: int
    object_key: str


@dataclass(frozen=True, slots=True)
class InspectionAnswer:
    request_id: str
    state: str  # ANSWERS
    observed_at: datetime | None
    snapshot_sha256: str | None = None
    snapshot_object: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Message:
    box: str
    seq: int
    key: str
    kind: str
    event: EventFacts | None = None
    file: FileFacts | None = None
    inspection: InspectionAnswer | None = None


@dataclass(frozen=True, slots=True)
class ReinspectRequest:
    request_id: str
    camera: str
    zone: str
    violation: str
    case_id: int | None = None


# -- to JSON -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"v": VERSION, "box": msg.box, "seq": msg.seq, "key": msg.key, "kind": msg.kind}
    for name in ("event", "file", "inspection"):
        part = getattr(msg, name)
        if part is not None:
            out[name] = _plain(asdict(part))
    return out


def dump_request(req: ReinspectRequest) -> dict[str, Any]:
    return {"v": VERSION, **asdict(req)}


# -- from JSON (every error names the field) ---------------------------------------------


def _get(d: Any, name: str, kind: type | tuple[type, ...], where: str, optional: bool = False) -> Any:
    if not isinstance(d, dict):
        raise BadMessage(f"{where} must be an object")
    value = d.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BadMessage(f"{where}.{name} is missing or not {getattr(kind, '__name__', kind)}: {value!r}")
    return value


def _time(d: dict, name: str, where: str, optional: bool = False) -> datetime | None:
    text = _get(d, name, str, where, optional)
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise BadMessage(f"{where}.{name} is not an ISO 8601 time: {text!r}") from None
    if t.tzinfo is None:
        raise BadMessage(f"{where}.{name} has no time zone: {text!r}")
    return t


def _sha(d: dict, name: str, where: str, optional: bool = False) -> str | None:
    value = _get(d, name, str, where, optional)
    if value is not None and not _SHA256.fullmatch(value):
        raise BadMessage(f"{where}.{name} is not 64 lower-case hex digits: {value!r}")
    return value


def _event(d: Any) -> EventFacts:
    w = "event"
    c = _get(d, "camera", dict, w)
    camera = CameraFacts(
        id=_get(c, "id", str, "event.camera"), name=_get(c, "name", str, "event.camera"),
        site=_get(c, "site", str, "event.camera"), street=_get(c, "street", str, "event.camera", True),
        grid=_get(c, "grid", str, "event.camera", True),
    )
    return EventFacts(
        id=_get(d, "id", int, w), camera=camera, zone=_get(d, "zone", str, w), violation=_get(d, "violation", str, w),
        started_at=_time(d, "started_at", w), alerted_at=_time(d, "alerted_at", w),
        ended_at=_time(d, "ended_at", w, True), end_reason=_get(d, "end_reason", str, w, True),
        review_state=_get(d, "review_state", str, w), clip_state=_get(d, "clip_state", str, w),
        model_name=_get(d, "model_name", str, w), model_sha256=_get(d, "model_sha256", str, w),
        details=_get(d, "details", dict, w, True) or {},
    )


def parse(d: Any) -> Message:
    if not isinstance(d, dict):
        raise BadMessage("message must be a JSON object")
    if d.get("v") != VERSION:
        raise BadMessage(f"message.v must be {VERSION}, got {d.get('v')!r}")
    kind = _get(d, "kind", str, "message")
    if kind not in KINDS:
        raise BadMessage(f"message.kind must be one of {KINDS}, got {kind!r}")
    box = check_name(_get(d, "box", str, "message"), "message.box")
    msg = Message(box=box, seq=_get(d, "seq", int, "message"), key=_get(d, "key", str, "message"), kind=kind)
    if kind in ("event", "file"):
        msg = Message(**{**_fields(msg), "event": _event(d.get("event"))})
    if kind == "file":
        f = _get(d, "file", dict, "message")
        msg = Message(**{**_fields(msg), "file": FileFacts(
            kind=_get(f, "kind", str, "file"), sha256=_sha(f, "sha256", "file"),
            size_bytes=_get(f, "size_bytes", int, "file"), object_key=_get(f, "object_key", str, "file"))})
    if kind == "inspection":
        a = _get(d, "inspection", dict, "message")
        state = _get(a, "state", str, "inspection")
        if state not in ANSWERS:
            raise BadMessage(f"inspection.state must be one of {ANSWERS}, got {state!r}")
        msg = Message(**{**_fields(msg), "inspection": InspectionAnswer(
            request_id=_get(a, "request_id", str, "inspection"), state=state,
            observed_at=_time(a, "observed_at", "inspection", True),
            snapshot_sha256=_sha(a, "snapshot_sha256", "inspection", True),
            snapshot_object=_get(a, "snapshot_object", str, "inspection", True),
            details=_get(a, "details", dict, "inspection", True) or {})})
    return msg


def _fields(msg: Message) -> dict[str, Any]:
    return {name: getattr(msg, name) for name in msg.__slots__}


def parse_request(d: Any) -> ReinspectRequest:
    if not isinstance(d, dict) or d.get("v") != VERSION:
        raise BadMessage(f"request.v must be {VERSION}")
    return ReinspectRequest(
        request_id=_get(d, "request_id", str, "request"), camera=_get(d, "camera", str, "request"),
        zone=_get(d, "zone", str, "request"), violation=_get(d, "violation", str, "request"),
        case_id=_get(d, "case_id", int, "request", True),
    )
