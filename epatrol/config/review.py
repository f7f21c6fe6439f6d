"""The `review:` section: officer sign-ins (and their lockout), local time, signing of case exports,
and the review page's dismissal reasons."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from epatrol.config.base import Section
from epatrol.config.schedules import check_time_zone


class DismissReason(Section):
    """One choice of the dismiss dialog, in both languages (the stored reason is "zh en")."""

    zh: str = Field(min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=120)

    @property
    def text(self) -> str:
        return f"{self.zh} {self.en}"


# The usual false alarms of a street patrol; free text stays the last choice on the page.
DEFAULT_DISMISS_REASONS = (
    DismissReason(zh="误报：不是违规对象", en="false detection: not a violating object"),
    DismissReason(zh="店铺自有，在许可范围内", en="the shop's own, inside its permitted area"),
    DismissReason(zh="临时停留，已离开", en="a brief stop, already gone"),
    DismissReason(zh="画面不清，无法判断", en="the picture is unclear; cannot tell"),
    DismissReason(zh="重复事件", en="duplicate of another event"),
)
MAX_DISMISS_REASONS = 9  # one digit key each on the page


class Review(Section):
    """Officer review: the API's sign-ins, local time, and signing of case exports."""

    timezone: str | None = Field(None, description="IANA time zone for local times in the API and case exports (default: the box's zone).")
    session_ttl_s: float = Field(8 * 3600, ge=60, le=30 * 86400, description="How long a sign-in (token or cookie) lasts.")
    login_max_failures: int = Field(5, ge=1, le=1000, description="Wrong passwords for one username within login_window_s that lock the account for login_lockout_s (sign-ins answer 429).")
    login_client_max_failures: int = Field(20, ge=1, le=100_000, description="Wrong passwords from one client address (any usernames) within login_window_s that lock that client out for login_lockout_s.")
    login_window_s: float = Field(900, gt=0, le=86400, description="The window in which failed sign-ins are counted.")
    login_lockout_s: float = Field(900, gt=0, le=86400, description="How long a locked account or client is refused.")
    signing_key: Path | None = Field(None, description="Ed25519 private key (PEM) that signs case exports; relative to the config file. Unset: the box's own key, <storage>/keys/export-signing.pem, made at first start.")

    dismiss_reasons: tuple[DismissReason, ...] = Field(
        DEFAULT_DISMISS_REASONS, max_length=MAX_DISMISS_REASONS,
        description="The dismiss dialog's reasons, in order (key 1..9 on the page; Enter takes the first); free text is always offered last.",
    )

    @field_validator("dismiss_reasons")
    @classmethod
    def _distinct_reasons(cls, reasons: tuple[DismissReason, ...]) -> tuple[DismissReason, ...]:
        texts = [r.text for r in reasons]
        dupes = sorted({t for t in texts if texts.count(t) > 1})
        if dupes:
            raise ValueError(f"dismiss_reasons: {dupes[0]!r} is listed twice")
        if any(len(t) > 500 for t in texts):
            raise ValueError("dismiss_reasons: a reason (zh and en together) is limited to 500 characters")
        return reasons

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        return check_time_zone(name)
