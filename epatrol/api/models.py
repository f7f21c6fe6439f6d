"""Request and response bodies of the API (they are what the OpenAPI schema publishes).

Requests forbid unknown fields and bound every string; times in responses are ISO 8601
strings, UTC (``...+00:00``) with a ``*_local`` twin carrying the local offset.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from epatrol.common.http import MAX_ID
from epatrol.common.passwords import USERNAME_PATTERN


def _plain_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _text(max_length: int, min_length: int = 0, **kw: Any) -> Any:
    return Annotated[str, Field(min_length=min_length, max_length=max_length, **kw), AfterValidator(_plain_text)]


LoginName = _text(64, 1)
Secret = _text(1024, 1)
NewUsername = _text(64, 2, pattern=USERNAME_PATTERN)
NewPassword = _text(1024, 1)  # the rules are check_password_policy's, with messages naming each
Title = _text(200, 1)
Reason = _text(500)
Note = _text(4000)
NoteText = _text(4000, 1)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Role = Literal["viewer", "officer", "admin"]


# -- auth and users ----------------------------------------------------------------------


class LoginIn(_In):
    username: LoginName
    password: Secret


class Me(BaseModel):
    username: str
    role: Role


class LoginOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'; the same value is set as the session cookie.")
    expires_at: str
    user: Me


class UserIn(_In):
    username: NewUsername
    password: NewPassword
    role: Role


class UserPatch(_In):
    role: Role | None = None
    password: NewPassword | None = None
    disabled: bool | None = None


class UserOut(BaseModel):
    username: str
    role: Role
    disabled: bool
    created_at: str


# -- events and reviews ------------------------------------------------------------------


class ReviewIn(_In):
    decision: Literal["confirm", "dismiss"]
    reason: Reason | None = Field(None, description="Required when dismissing.")
    note: Note | None = None


class GroupReviewIn(ReviewIn):
    event_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=200, description="The group: events of one camera, zone and violation.")


class DismissReasonOut(BaseModel):
    zh: str
    en: str
    text: str = Field(description="What is stored as the reason: zh and en together.")


class ReviewSettings(BaseModel):
    dismiss_reasons: list[DismissReasonOut] = Field(description="The dismiss dialog's choices, in order; free text comes last.")
    timezone: str = Field(description="The zone local times are given in (review.timezone, else the box's).")
    utc_offset: str = Field(description="That zone's offset now, e.g. +08:00.")


class ReviewOut(BaseModel):
    id: int
    decision: Literal["confirm", "dismiss"]
    reason: str | None
    note: str | None
    by: str
    at: str
    at_local: str


class GroupReviewOut(ReviewOut):
    event_id: int


class EventOut(BaseModel):
    id: int
    camera: str
    camera_name: str
    site: str
    violation: str
    zone: str
    started_at: str
    started_at_local: str
    alerted_at: str
    alerted_at_local: str
    ended_at: str | None
    ended_at_local: str | None
    end_reason: str | None
    clip: str | None = Field(description="Path relative to the storage root.")
    clip_sha256: str | None
    clip_state: Literal["recording", "complete", "partial", "failed", "purged"] = Field(
        description="partial: cut off by a crash or power cut; what was recorded up to the cut is the clip.")
    clip_url: str | None = Field(description="Streams the clip (HTTP Range supported).")
    snapshot: str | None
    snapshot_sha256: str | None
    snapshot_url: str | None
    model: str
    model_sha256: str
    detections: list[dict[str, Any]]
    details: dict[str, Any]
    review_state: Literal["pending", "confirmed", "dismissed"]
    review: ReviewOut | None = Field(description="The newest decision.")
    case_ids: list[int]


class LedgerRef(BaseModel):
    seq: int
    kind: str
    at: str
    hash: str


class EventDetail(EventOut):
    reviews: list[ReviewOut] = Field(description="Every decision, oldest first.")
    ledger: list[LedgerRef] = Field(description="The event's hash-chain entries, oldest first.")


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class EventPage(Page):
    items: list[EventOut]


# -- cases -------------------------------------------------------------------------------


class CaseIn(_In):
    title: Title
    note: Note | None = None


class CaseEventIn(_In):
    event_id: int = Field(ge=1, le=MAX_ID)


class NoteIn(_In):
    text: NoteText


class CloseIn(_In):
    note: Note | None = None


class NoteOut(BaseModel):
    id: int
    text: str
    by: str
    at: str
    at_local: str


class CaseSummary(BaseModel):
    id: int
    title: str
    status: Literal["open", "closed"]
    created_by: str
    created_at: str
    created_at_local: str
    closed_by: str | None
    closed_at: str | None
    closed_at_local: str | None
    event_ids: list[int]
    note_count: int


class CaseOut(CaseSummary):
    events: list[EventOut]
    notes: list[NoteOut]


class CasePage(Page):
    items: list[CaseSummary]


# -- cameras and audit -------------------------------------------------------------------


class ZoneOut(BaseModel):
    name: str
    violations: list[str]


class CameraOut(BaseModel):
    id: str
    name: str
    site: str
    configured: bool = Field(description="In the current configuration file.")
    enabled: bool
    source: Literal["rtsp", "file", "unknown"]
    zones: list[ZoneOut]
    events: int
    pending: int = Field(description="Events still waiting for a decision.")
    last_event_at: str | None
    health: dict[str, Any] | None = Field(description="Live state when the API runs beside the cameras (epatrol run --serve).")


class AuditOut(BaseModel):
    id: int
    at: str
    at_local: str
    username: str | None
    action: str
    target: str | None
    detail: dict[str, Any]
    client: str | None


class AuditPage(Page):
    items: list[AuditOut]


class Problem(BaseModel):
    detail: str = Field(description="What is wrong, in words.")


class InvalidRequest(Problem):
    errors: list[dict[str, Any]] = Field(default_factory=list, description="Each invalid field (pydantic's form), when any.")


# Error responses every protected route can give, for the OpenAPI schema.
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": InvalidRequest, "description": "Malformed or invalid input; `detail` names the fields."},
    401: {"model": Problem, "description": "Not signed in, or the sign-in expired."},
    403: {"model": Problem, "description": "The user's role does not allow this."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such id."}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "The current state forbids it."}}
