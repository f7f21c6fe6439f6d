"""Clean references of a zone's scene, so that a stall already standing when the camera starts
(or restarts) is seen as change instead of being learned as the street.

Two sources, used by street vending's scene model (scene_change.py):

- **Captured**: a photo of the camera's view with the zone empty (no stall, no people, no
  vehicles), taken by the operator at a quiet hour in light like the patrol's. The zone's
  `clean_reference` names it; otherwise `<storage>/references/<camera>/<zone>.png` is used when
  present (the file an admin's capture writes, see `reference_file`). The long-term background
  starts from it.
- **Learned**: the judge saves each zone's long-term background to
  `<storage>/scene/<camera>/<zone>.npz` every `persist_every_s` and when the camera stops, with
  the cells it may trust (learned while nothing changed there and no person or vehicle stood
  there, or taken from the captured reference). At start it is reloaded, so a restart does not
  learn the stall standing in front of the camera.

A reference that cannot be used is an error naming the camera, the zone and the file, raised
when the judge is built (at start, never mid-run). One whose size differs from the stream's but
whose shape does not is rescaled; one of another shape is refused when the first frame shows it,
with an error in the log, and the zone learns its background as without a reference.
"""

from __future__ import annotations

import logging
import os
import re
from hashlib import sha1
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

# Aspect ratios closer than this are "the same view at another resolution": rescaled.
MAX_ASPECT_DIFF = 0.03
MIN_SIDE_PX = 32  # smaller images cannot show a street
MIN_CONTRAST = 4.0  # grey-level spread (5th-95th percentile) below this: a blank picture


class ReferenceError(ValueError):
    """A clean reference that cannot be used; the message names the camera, zone and file."""


def reference_file(storage: Path, camera_id: str, zone: str) -> Path:
    """Where a captured reference of a zone is kept by default."""
    return Path(storage) / "references" / camera_id / f"{safe_name(zone)}.png"


def zone_references(camera, storage: Path) -> dict[str, Path]:
    """{zone name: reference file} for a camera's zones (config `Camera`): the zone's
    `clean_reference` (a config file's relative paths are resolved against it on load), else the
    captured file when there is one."""
    out = {}
    for z in camera.zones:
        path = getattr(z, "clean_reference", None)
        if path is not None:
            out[z.name] = Path(path)
        elif reference_file(storage, camera.id, z.name).is_file():
            out[z.name] = reference_file(storage, camera.id, z.name)
    return out


def load_reference(path: Path, camera_id: str, zone: str) -> np.ndarray:
    """The reference image (BGR uint8), or ReferenceError saying what is wrong with it."""
    where = f"camera {camera_id} zone {zone}: clean reference {path}"
    path = Path(path)
    if not path.is_file():
        raise ReferenceError(f"{where}: file not found")
    if path.stat().st_size == 0:
        raise ReferenceError(f"{where}: the file is empty")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ReferenceError(f"{where}: not a readable image (PNG or JPEG expected)")
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE_PX:
        raise ReferenceError(f"{where}: {w}x{h} is too small to show the street")
    lo, hi = np.percentile(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (5, 95))
    if hi - lo < MIN_CONTRAST:
        raise ReferenceError(f"{where}: the picture is blank (uniform grey level {lo:.0f}..{hi:.0f})")
    return image


def fit_reference(image: np.ndarray, width: int, height: int, label: str) -> np.ndarray | None:
    """`image` at the stream's size: as is, rescaled when only the resolution differs, else None
    (logged: a reference of another view would report the whole zone as changed)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    if abs((w / h) / (width / height) - 1.0) > MAX_ASPECT_DIFF:
        log.error("%s: the reference is %dx%d but the stream is %dx%d (another shape): ignored, "
                  "the zone learns its background from the stream", label, w, h, width, height)
        return None
    log.info("%s: reference %dx%d rescaled to the stream's %dx%d", label, w, h, width, height)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if w > width else cv2.INTER_LINEAR)


def safe_name(name: str) -> str:
    """A zone name usable as a file name (different names stay different)."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:48]
    return clean if clean == name else f"{clean}-{sha1(name.encode()).hexdigest()[:8]}"


class BackgroundStore:
    """The learned backgrounds of one camera's zones, one .npz per zone. I/O errors are logged,
    never raised: a background that cannot be saved or read is relearned, the patrol goes on."""

    def __init__(self, root: Path, camera_id: str) -> None:
        self.dir = Path(root) / "scene" / camera_id
        self.camera_id = camera_id

    def path(self, zone: str) -> Path:
        return self.dir / f"{safe_name(zone)}.npz"

    def save(self, zone: str, state: dict[str, np.ndarray]) -> bool:
        path = self.path(zone)
        tmp = path.with_suffix(".tmp.npz")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(tmp, **state)
            os.replace(tmp, path)  # a crash mid-write leaves the previous state whole
            return True
        except OSError as e:
            log.warning("camera %s zone %s: learned background not saved to %s: %s", self.camera_id, zone, path, e)
            return False

    def load(self, zone: str) -> dict[str, np.ndarray] | None:
        path = self.path(zone)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, KeyError) as e:
            log.warning("camera %s zone %s: learned background %s unreadable (%s): relearned", self.camera_id, zone, path, e)
            return None
