"""Refusals of the review rules, each one a plain message for the officer, and the configuration
error. The API maps refusals to HTTP statuses (404, 409, 422); the CLI prints them."""

from __future__ import annotations


class EvidenceError(Exception):
    """A request the evidence rules refuse; ``str(e)`` says why in words an officer can act on."""


class NotFound(EvidenceError):
    """An id that names nothing (an event, case or user)."""


class Conflict(EvidenceError):
    """The request is well formed but the current state forbids it (e.g. adding an
    unconfirmed event to a case, closing a closed case)."""


class Invalid(EvidenceError):
    """A value the rules refuse (a dismissal without a reason, a weak password)."""


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and each bad field."""


class SchemaMismatch(Exception):
    """A database this epatrol cannot use as it is (made by another version, or not yet
    migrated); the message names what differs and what to do."""


def with_article(word: str) -> str:
    """``word`` after "a" or "an" as it is said: "an admin", "an officer", "a viewer", "a handler"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
