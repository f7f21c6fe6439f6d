"""Re-inspection (回头看) on the box: is the zone a centre case was about clean now?

Read-only: it asks the running camera worker for the zone as last judged (``zone_view``, a copy
taken under the worker's lock): the judge's episode for the zone is open while the violation goes
on and closes only after the judge's ``end_after_s`` without it, so "clean" means the patrol has
seen the zone clean for that long; the latest judged sample becomes the answer's snapshot.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import cv2

from epatrol.common.messages import ReinspectRequest
from epatrol.common.times import utcnow
from epatrol.evidence.recording.snapshot import render_snapshot
from epatrol.pipeline import CameraWorker
from epatrol.uplink.sender import InspectionResult

JPEG_QUALITY = 90
STALE_AFTER = timedelta(seconds=120)  # a newest sample older than this: the camera is not patrolling


class Workers(Protocol):
    def worker(self, camera_id: str) -> CameraWorker | None: ...


class ZoneInspector:
    def __init__(self, workers: Workers, stale_after: timedelta = STALE_AFTER) -> None:
        self.workers, self.stale_after = workers, stale_after

    def __call__(self, req: ReinspectRequest) -> InspectionResult:
        worker = self.workers.worker(req.camera)
        if worker is None:
            return _unavailable(f"camera {req.camera} is not running on this box")
        view = worker.zone_view(req.violation, req.zone)
        if isinstance(view, str):
            return _unavailable(view)
        sample = view.sample
        age = utcnow() - sample.utc
        if age > self.stale_after:
            return _unavailable(f"camera {req.camera}'s newest sample is {age.total_seconds():.0f} s old")
        state = "violating" if view.violating else "clean"
        image = render_snapshot(sample.frame, [], [(req.zone, view.polygon)], caption=f"{req.zone} {state} {sample.utc:%Y-%m-%d %H:%M:%S}Z")
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        details = {"episode_open": view.violating, "last_seen": view.last_seen.isoformat() if view.last_seen else None}
        return InspectionResult(state, sample.utc, jpeg.tobytes() if ok else None, details)


def _unavailable(reason: str) -> InspectionResult:
    return InspectionResult("unavailable", details={"reason": reason})
