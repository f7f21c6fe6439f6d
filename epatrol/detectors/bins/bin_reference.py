"""The zone's clean reference: a light-robust description of a bin crop's layout, and change against it.

The classifier (bin_classifier.py) says how overflowing a crop looks; this says whether the crop
has actually changed since the zone was last seen clean, in a way light cannot fake. The crop is
resized to 128x128 (area averaging also averages sensor noise away) and cut into 8x8 cells of 16 px;
each cell keeps the histogram of its gradient orientations weighted by magnitude, its mean
brightness, its share of clipped pixels and its relative contrast (gradient energy over mean
brightness). A cell has CHANGED when its orientation histogram turned (cosine below CELL_SAME)
or it went from flat to textured (relative contrast up by more than CONTRAST_RATIO); going from
textured to flat does not count: losing detail is what darkness, glare, fog and rain do.

- A brightness ramp, dusk or a gain change scales every gradient and the mean alike: orientation
  histograms keep their shape and relative contrast its value.
- A soft shadow or a glare blob varies slowly across a 16 px cell: it adds almost no gradient.
- Cells the camera cannot see now or could not see then, too dark (mean below DARK) or washed
  out (more than CLIPPED_MAX of the pixels at 250 or more: headlight glare), are left out.
- Rubbish (bags, boxes, spilled litter) brings edges in new directions to the cells it covers.

`structure_change` is the share of the cells seen both times that changed: 0 the same, 1 all
different; None when too few cells are visible to say (a dark night with no light on the bin).
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 128  # crops are resized to SIZE x SIZE
CELL = 16  # pixels per cell side: 8x8 cells
BINS = 9  # unsigned gradient orientations
DARK = 12.0  # mean grey level below which a cell is not seen
CLIPPED_MAX = 0.25  # share of pixels at >= 250 above which a cell is washed out
FLAT = 0.02  # relative contrast below which a cell is flat (orientations are noise)
CELL_SAME = 0.75  # orientation-histogram cosine at or above which a cell is unchanged
CONTRAST_RATIO = 2.5  # flat <-> textured
SMOOTH_SIGMA = 3.0  # px at 128x128: what varies more slowly than this is light
MIN_VISIBLE = 0.25  # share of cells that must be visible both times for a verdict

# Columns of a structure array (one row per cell).
_MEAN, _CLIPPED, _CONTRAST = BINS, BINS + 1, BINS + 2


def prepare(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0 or bgr.dtype != np.uint8:
        raise ValueError(f"expected a non-empty HxWx3 uint8 BGR image, got {bgr.shape} {bgr.dtype}")
    return cv2.cvtColor(cv2.resize(bgr, (SIZE, SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)


def structure(bgr: np.ndarray) -> np.ndarray:
    """(cells, BINS + 3) float32: per cell, orientation histogram, mean, clipped share, relative contrast."""
    grey = prepare(bgr).astype(np.float32)
    # Reflectance, not light: log brightness minus its local average. Light (dusk, a shadow, a
    # glare blob) varies smoothly and multiplies or adds over the scene; this removes both.
    log = np.log1p(grey)
    detail = log - cv2.GaussianBlur(log, (0, 0), SMOOTH_SIGMA)
    gx = cv2.Sobel(detail, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(detail, cv2.CV_32F, 0, 1, ksize=1)
    mag = np.sqrt(gx * gx + gy * gy)
    ang = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned: a dark bag on light ground = a light one on dark
    bins = np.minimum((ang / np.pi * BINS).astype(np.int32), BINS - 1)
    n = SIZE // CELL
    cell_of = np.arange(SIZE) // CELL
    cell = (cell_of[:, None] * n + cell_of[None, :]).ravel()
    hist = np.bincount(cell * BINS + bins.ravel(), weights=mag.ravel(), minlength=n * n * BINS).reshape(n * n, BINS)
    per_cell = CELL * CELL
    mean = np.bincount(cell, weights=grey.ravel(), minlength=n * n) / per_cell
    clipped = np.bincount(cell, weights=(grey >= 250).ravel().astype(np.float32), minlength=n * n) / per_cell
    contrast = hist.sum(axis=1) / per_cell  # log-domain gradients: already relative to brightness
    return np.column_stack([hist / per_cell, mean, clipped, contrast]).astype(np.float32)


def structure_change(a: np.ndarray, b: np.ndarray) -> float | None:
    """Share of the cells visible in both reference `a` and now `b` that changed (0..1); None when
    too few are visible."""
    if a.shape != b.shape:
        raise ValueError(f"structures of different shapes: {a.shape} and {b.shape}")
    visible = (a[:, _MEAN] >= DARK) & (b[:, _MEAN] >= DARK) & (a[:, _CLIPPED] <= CLIPPED_MAX) & (b[:, _CLIPPED] <= CLIPPED_MAX)
    if visible.mean() < MIN_VISIBLE:
        return None
    ha, hb = a[visible, :BINS], b[visible, :BINS]
    ca, cb = a[visible, _CONTRAST], b[visible, _CONTRAST]
    cos = (ha * hb).sum(axis=1) / np.maximum(np.linalg.norm(ha, axis=1) * np.linalg.norm(hb, axis=1), 1e-9)
    textured = (ca >= FLAT) & (cb >= FLAT)
    # Only detail that APPEARED counts: losing it is what dark, glare, fog and rain do to a scene.
    gained = (cb >= FLAT) & (cb > CONTRAST_RATIO * ca)
    changed = (textured & (cos < CELL_SAME)) | gained
    return float(changed.mean())
