"""What a new event's details say beyond what its judge saw, taken from the configuration when the
event is recorded (so the event keeps them when the configuration changes later):

- ``violation_label``: ``{"zh", "en"}``, every event (built-in and district-defined violations);
- ``lead_department``: the department code leading a district-defined violation at the centre;
- ``responsible``: ``{"name", "contact", "licence"}``, the unit answering for the zone (门前三包).

The review page, case exports, the uplink and the centre read them from the event's details.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from epatrol.config import Config

EventContext = Callable[[str, str], dict[str, Any]]  # (zone, violation) -> details to merge


def event_context(cfg: Config, camera_id: str, zone: str, violation: str) -> dict[str, Any]:
    """The context of an event of ``violation`` in ``zone`` of camera ``camera_id``."""
    labels = cfg.violations.labels_of(violation)
    out: dict[str, Any] = {"violation_label": {"zh": labels["zh"], "en": labels["en"]}}
    department = cfg.violations.department_of(violation)
    if department:
        out["lead_department"] = department
    camera = next((c for c in cfg.cameras if c.id == camera_id), None)
    if camera is None:
        raise KeyError(f"no camera {camera_id!r} in the configuration")
    z = next((z for z in camera.zones if z.name == zone), None)
    if z is not None and z.responsible is not None:
        r = z.responsible
        out["responsible"] = {"name": r.name, "contact": r.contact, "licence": r.licence}
    return out


def context_for(cfg: Config, camera_id: str) -> EventContext:
    """``event_context`` bound to one camera, each (zone, violation) worked out once."""
    cache: dict[tuple[str, str], dict[str, Any]] = {}

    def context(zone: str, violation: str) -> dict[str, Any]:
        key = (zone, violation)
        if key not in cache:
            cache[key] = event_context(cfg, camera_id, zone, violation)
        return cache[key]

    return context
