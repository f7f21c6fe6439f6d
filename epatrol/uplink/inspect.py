"""Re-inspection (回头看) on the box: is the zone a centre case was about clean now?

Read-only: it looks at the running camera worker's judge for that violation (its episode for
the zone is open while the violation goes on; it closes only after the judge's ``end_after_s``
without it, so "clean" means the patrol has seen the zone clean for that long) and at the
worker's latest judged sample, which becomes the answer's snapshot.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

import cv2

from epatrol.evidence.schema import utcnow
from epatrol.evidence.snapshot import render_snapshot
from epatrol.uplink.messages import ReinspectRequest
from epatrol.uplink.sender import InspectionResult

JPEG_QUALITY = 90
STALE_AFTER = timedelta(seconds=120)  # a newest sample older than this: the camera is not patrolling


class Workers(Protocol):
    def worker(self, camera_id: str): ...


class ZoneInspector:
    def __init__(self, workers: Workers, stale_after: timedelta = STALE_AFTER) -> None:
        self.workers, self.stale_after = workers, stale_after

    def __call__(self, req: ReinspectRequest) -> InspectionResult:
        worker = self.workers.worker(req.camera)
        if worker is None:
            return _unavailable(f"camera {req.camera} is not running on this box")
        judge = next((j for j in worker.judges if j.violation == req.violation), None)
        if judge is None:
            return _unavailable(f"camera {req.camera} does not judge {req.violation}")
        episode = judge.episodes.get(req.zone)
        if episode is None:
            return _unavailable(f"camera {req.camera} has no zone {req.zone!r} for {req.violation}")
        sample = getattr(worker, "last_sample", None)
        if sample is None:
            return _unavailable(f"camera {req.camera} has not judged a sample yet")
        age = utcnow() - sample.utc
        if age > self.stale_after:
            return _unavailable(f"camera {req.camera}'s newest sample is {age.total_seconds():.0f} s old")
        violating = episode.is_open
        zones = [(z.name, z.polygon) for z in worker.camera.zones if z.name == req.zone]
        image = render_snapshot(sample.frame, [], zones, caption=f"{req.zone} {'violating' if violating else 'clean'} {sample.utc:%Y-%m-%d %H:%M:%S}Z")
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        details = {"episode_open": violating, "last_seen": episode.last_seen.isoformat() if episode.last_seen else None}
        return InspectionResult("violating" if violating else "clean", sample.utc, jpeg.tobytes() if ok else None, details)


def _unavailable(reason: str) -> InspectionResult:
    return InspectionResult("unavailable", details={"reason": reason})
