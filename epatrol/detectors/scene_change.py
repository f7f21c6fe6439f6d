"""Scene change in a zone: what appeared and stayed, against a long-term background.

Fixed cameras see the same street for months; a stall, a pile of rubbish or a new barrier is
a change of the zone's *structure* that persists. This model finds such changes whatever the
detector can name, and ignores what it must not report:

- **Two backgrounds.** The short-term background is the per-pixel median of the last
  `short_term_samples` samples, so a walker present in fewer than half of them is gone from it.
  The long-term background is the zone as it has been: the first short-term background, then
  followed slowly (time constant `background_tau_s`) only where nothing changed, so a stall
  standing for an hour is never learned into it.
- **Illumination normalised, structure compared.** Each sample is mapped onto the long-term
  background's brightness by a linear fit of the zone's grey-level percentiles (a dusk ramp,
  auto-exposure or a cloud over the whole zone is a gain and an offset), then each `cell_px`
  cell is compared by SSIM's contrast-structure term, cs = (2 cov + C) / (var_a + var_b + C):
  1 for the same texture at any brightness, near 0 for new texture; C (SSIM's C2) keeps flat
  road with sensor noise at cs ~ 1. A cell has changed when 1 - cs > `change_threshold`.
- **Staying.** A changed cell starts a candidate with the content it shows; the candidate
  stays while the cell keeps showing that content (or is hidden by an explained object, e.g. a
  passer-by in front), and is dropped once the cell has shown anything else for `max_gap_s`.
  `stayed(now, min_stay_s)` returns the connected regions of cells that have stayed at least
  that long, seen changed in `min_stay_fraction` of the samples since.
- **Explained change.** The caller passes boxes of things it accounts for elsewhere (people,
  cars). Each candidate counts the share of its sightings inside such a box; `stayed()` reports
  it so the caller can drop a queue of waiting people or a parked car. Where the long-term
  background itself was learned with an explained object on it (a car parked when the camera
  started, someone standing during the first samples), the object leaving reveals the street
  behind it: such cells are relearned instead of reported (no "ghost" of the departed car).
- **A clean start.** `seed()` starts the long-term background from a known clean state instead
  of the first samples: the operator's photo of the empty zone or the background saved by an
  earlier run (zone_reference.py). Only its trusted cells are taken; a stall standing when the
  camera starts is then change like any other. `state()` is what to save: the background and
  the cells to trust, those learned while unchanged and unexplained for `short_term_samples`.

Everything is computed on a grey copy `work_width` pixels wide, per cell with numpy: about 1-3 ms
per zone and sample at the defaults."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

# SSIM's C2 for 8-bit images, (0.03 * 255)^2: a texture weaker than std ~7.6 grey levels
# (sensor noise, compression) does not count as structure.
STRUCTURE_C = (0.03 * 255) ** 2
# A cell is "behind an explained object" for the long-term background when the object covered
# it in this share of the recent samples (exponential average, weight COVER_RATE per sample):
# a parked car (covered in ~all) is, a walker crossing (1-3 samples) is not.
COVER_RATE = 0.2
COVER_SHARE = 0.5
# Gain of the photometric fit is clamped: beyond these the frame is unusable, not dim.
MIN_GAIN, MAX_GAIN = 0.15, 8.0
SEEDED = 1 << 20  # trust count of a cell taken from a clean reference: trusted for good
PERCENTILES = (5, 20, 35, 50, 65, 80, 95)


@dataclass(frozen=True)
class SceneParams:
    work_width: int = 320  # the frame is analysed at this width (grey)
    cell_px: int = 8  # cell side, in work pixels
    short_term_samples: int = 5  # median window of the short-term background
    background_tau_s: float = 300.0  # how fast the long-term background follows unchanged cells
    change_threshold: float = 0.5  # 1 - cs above this: the cell's structure changed
    min_stay_fraction: float = 0.6  # share of samples since onset in which a staying cell was seen changed
    max_gap_s: float = 20.0  # a candidate showing other content (or none) this long is dropped
    min_region_cells: int = 4  # smaller connected regions are noise


@dataclass(frozen=True)
class Region:
    """A connected set of cells that changed and stayed."""

    xyxy: tuple[float, float, float, float]  # frame pixels
    cells: int
    area_fraction: float  # of the zone
    since_s: float  # earliest onset of its cells
    last_seen_s: float  # latest sample in which one of its cells still showed what stayed
    explained: float  # share of its cells' sightings inside explained boxes (0..1)
    unexplained_cells: int  # cells inside explained boxes in less than `explained_share` of their sightings
    mask: np.ndarray  # bool, cells of the zone grid

    @property
    def unexplained_fraction(self) -> float:
        return self.area_fraction * self.unexplained_cells / max(self.cells, 1)


class ZoneScene:
    """The long-term/short-term background model of one zone of one camera."""

    def __init__(self, polygon: tuple[tuple[float, float], ...] | list, params: SceneParams = SceneParams()) -> None:
        self.polygon = np.asarray(polygon, np.float32)
        if self.polygon.ndim != 2 or self.polygon.shape[0] < 3 or self.polygon.shape[1] != 2:
            raise ValueError(f"zone polygon must be at least 3 (x, y) points, got shape {self.polygon.shape}")
        self.p = params
        self._frame_size: tuple[int, int] | None = None
        self._last_t: float | None = None

    # -- geometry ------------------------------------------------------------------------------

    def _setup(self, w: int, h: int) -> None:
        p = self.p
        self._frame_size = (w, h)
        self.scale = min(1.0, p.work_width / w)
        ww, wh = max(1, round(w * self.scale)), max(1, round(h * self.scale))
        self.work_size = (ww, wh)
        pts = self.polygon * (ww, wh)
        c = p.cell_px
        x0 = int(np.clip(np.floor(pts[:, 0].min() / c) * c, 0, ww))
        y0 = int(np.clip(np.floor(pts[:, 1].min() / c) * c, 0, wh))
        x1 = x0 + int((min(np.ceil(pts[:, 0].max()), ww) - x0) // c) * c
        y1 = y0 + int((min(np.ceil(pts[:, 1].max()), wh) - y0) // c) * c
        if x1 - x0 < c or y1 - y0 < c:
            raise ValueError(f"zone is smaller than one {c}-pixel cell at {ww}x{wh}")
        self.crop = (x0, y0, x1, y1)
        self.grid = ((y1 - y0) // c, (x1 - x0) // c)
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(inside, [np.round(pts - (x0, y0)).astype(np.int32)], 1)
        self.pixel_mask = inside.astype(bool)
        self.cell_mask = _blocks(inside.astype(np.float32), c).mean(axis=(2, 3)) >= 0.5
        if not self.cell_mask.any():
            raise ValueError("zone covers no whole cell")
        gy, gx = np.mgrid[0 : self.grid[0], 0 : self.grid[1]]
        # Cell centres in frame pixels, to test against boxes.
        self.centres = np.stack([(x0 + (gx + 0.5) * c) / self.scale, (y0 + (gy + 0.5) * c) / self.scale], axis=-1)
        self.reset()

    def prepare(self, width: int, height: int) -> None:
        """Set up the geometry for frames of this size (done by the first `update` otherwise), so
        that `seed()` can be called before the first sample."""
        if self._frame_size != (width, height):
            self._setup(width, height)

    def reset(self) -> None:
        """Forget everything learned (the next samples learn the background again)."""
        shape = self.grid
        self.trust = np.zeros(shape, np.int32)  # samples each cell was learned unchanged and unexplained
        self.seed_grey: np.ndarray | None = None  # a clean background to start from (see seed)
        self.seed_cells = np.zeros(shape, bool)
        self.ring: deque[np.ndarray] = deque(maxlen=self.p.short_term_samples)
        self.cover_ring: deque[np.ndarray] = deque(maxlen=self.p.short_term_samples)
        self.long: np.ndarray | None = None
        self.short: np.ndarray | None = None
        self.cover = np.zeros(shape, np.float32)  # how much the long-term background shows explained objects
        self.since = np.full(shape, np.nan)
        self.last_hit = np.full(shape, np.nan)
        self.seen = np.zeros(shape, np.int32)
        self.hits = np.zeros(shape, np.int32)
        self.explained_hits = np.zeros(shape, np.int32)
        self.ref = np.zeros((shape[0] * self.p.cell_px, shape[1] * self.p.cell_px), np.float32)
        self.changed = np.zeros(shape, bool)
        self.gain, self.offset = 1.0, 0.0

    @property
    def ready(self) -> bool:
        return self.long is not None

    @property
    def zone_cells(self) -> int:
        return int(self.cell_mask.sum()) if self._frame_size else 0

    # -- per sample ----------------------------------------------------------------------------

    def update(self, frame_bgr: np.ndarray, t_s: float, explained_xyxy: np.ndarray | None = None) -> None:
        """Feed one sample taken at `t_s` (seconds, any origin, increasing) with the boxes (frame
        pixels) of objects whose change is accounted for elsewhere."""
        h, w = frame_bgr.shape[:2]
        if self._frame_size != (w, h):
            self._setup(w, h)  # first frame, or a new resolution after a reconnect: start again
        covered = self._covered(explained_xyxy)
        grey = self._normalised(self.crop_grey(frame_bgr))
        self.ring.append(grey)
        self.cover_ring.append(covered)
        dt = 0.0 if self._last_t is None else max(0.0, t_s - self._last_t)
        self._last_t = t_s
        if len(self.ring) < self.ring.maxlen:
            return  # still filling the short-term window
        short = np.median(np.stack(self.ring), axis=0).astype(np.float32) if len(self.ring) > 1 else grey
        previous_short, self.short = self.short, short
        if self.long is None:
            self.cover = np.mean(np.stack(self.cover_ring), axis=0).astype(np.float32)
            if not self.seed_cells.any():
                self.long = short.copy()
                return
            # Seeded: what differs from the clean state already is change, from the first sample.
            self.long = np.where(_expand(self.seed_cells, self.p.cell_px), self.seed_grey, short).astype(np.float32)
            self.cover[self.seed_cells] = 0.0
            self.trust[self.seed_cells] = SEEDED
        changed = (1.0 - _cs(short, self.long, self.p.cell_px) > self.p.change_threshold) & self.cell_mask
        self._relearn_revealed(changed, covered, short, previous_short)
        self.changed = changed
        self._follow(changed, covered, short, t_s)
        self._learn_background(changed, covered, short, dt)

    def crop_grey(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The zone's crop of a frame as the model sees it: grey, at the work size (after prepare)."""
        grey = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) if frame_bgr.ndim == 3 else frame_bgr
        if self.scale < 1.0:
            grey = cv2.resize(grey, self.work_size, interpolation=cv2.INTER_AREA)
        x0, y0, x1, y1 = self.crop
        return grey[y0:y1, x0:x1].astype(np.float32)

    def _normalised(self, grey: np.ndarray) -> np.ndarray:
        """`grey` mapped onto the long-term background's photometry (gain and offset fitted on the
        zone's percentiles; before there is one, onto the first sample's)."""
        target = self.long if self.long is not None else self.seed_grey
        if target is None:
            target = self.ring[0] if self.ring else None
        if target is None:
            return grey
        # Fitted where the scene has not changed: a stall's dark goods must not pass for dusk.
        still = self.pixel_mask & ~_expand(self.changed | ~np.isnan(self.since), self.p.cell_px)
        if still.sum() < 0.25 * self.pixel_mask.sum():
            still = self.pixel_mask
        src = np.percentile(grey[still], PERCENTILES)
        dst = np.percentile(target[still], PERCENTILES)
        if np.ptp(src) < 1.0:  # a flat (black, covered) frame: nothing to fit
            return grey
        gain = np.polyfit(src, dst, 1)[0]  # the offset is refitted robustly once the gain is clamped
        gain = float(np.clip(gain, MIN_GAIN, MAX_GAIN))
        self.gain, self.offset = gain, float(np.median(dst - gain * src))
        return grey * self.gain + self.offset

    def _covered(self, boxes: np.ndarray | None) -> np.ndarray:
        if boxes is None or len(boxes) == 0:
            return np.zeros(self.grid, bool)
        b = np.asarray(boxes, np.float32).reshape(-1, 4)
        x, y = self.centres[..., 0:1], self.centres[..., 1:2]
        inside = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
        return inside.any(axis=-1)

    def _relearn_revealed(self, changed: np.ndarray, covered: np.ndarray, short: np.ndarray, previous: np.ndarray | None) -> None:
        """Cells whose background showed an explained object, now changed with nothing in front:
        the object left. Once the short-term view is steady there, it is the new background."""
        revealed = changed & ~covered & (self.cover >= COVER_SHARE)
        if previous is None or not revealed.any():
            return
        steady = 1.0 - _cs(short, previous, self.p.cell_px) <= self.p.change_threshold
        revealed &= steady
        if revealed.any():
            pix = _expand(revealed, self.p.cell_px)
            self.long[pix] = short[pix]
            self.cover[revealed] = 0.0
            self.trust[revealed] = 0  # learned afresh from here
            changed &= ~revealed
            self._drop(revealed)

    def _follow(self, changed: np.ndarray, covered: np.ndarray, short: np.ndarray, t: float) -> None:
        p = self.p
        active = ~np.isnan(self.since)
        same = 1.0 - _cs(short, self.ref, p.cell_px) <= p.change_threshold
        start = changed & ~active
        self._start(start, short, t, covered)
        cont = active & self.cell_mask
        self.seen[cont] += 1
        hit = cont & changed & (same | covered)
        self.hits[hit] += 1
        self.explained_hits[hit & covered] += 1
        self.last_hit[hit] = t
        # The content it stays with may drift slowly (light, a vendor rearranging goods).
        drift = hit & same & ~covered
        if drift.any():
            self.ref[_expand(drift, p.cell_px)] = short[_expand(drift, p.cell_px)]
        stale = cont & ~hit & (t - self.last_hit > p.max_gap_s)
        other = stale & changed & ~covered  # something else stays there now: a new candidate
        self._drop(stale)
        self._start(other, short, t, covered)

    def _start(self, cells: np.ndarray, short: np.ndarray, t: float, covered: np.ndarray) -> None:
        if not cells.any():
            return
        self.since[cells] = t
        self.last_hit[cells] = t
        self.seen[cells] = 1
        self.hits[cells] = 1
        self.explained_hits[cells] = covered[cells].astype(np.int32)
        pix = _expand(cells, self.p.cell_px)
        self.ref[pix] = short[pix]

    def _drop(self, cells: np.ndarray) -> None:
        self.since[cells] = np.nan
        self.last_hit[cells] = np.nan
        self.seen[cells] = self.hits[cells] = self.explained_hits[cells] = 0

    def _learn_background(self, changed: np.ndarray, covered: np.ndarray, short: np.ndarray, dt: float) -> None:
        quiet = ~changed & np.isnan(self.since)
        if not quiet.any():
            return
        rate = min(1.0, dt / self.p.background_tau_s)
        pix = _expand(quiet, self.p.cell_px)
        self.long[pix] += rate * (short[pix] - self.long[pix])
        self.cover[quiet] += COVER_RATE * (covered[quiet].astype(np.float32) - self.cover[quiet])
        self.trust[quiet & ~covered & (self.cover < COVER_SHARE)] += 1

    # -- a clean start, and what to save for one -------------------------------------------------

    def seed(self, grey: np.ndarray, cells: np.ndarray | None = None) -> None:
        """Start the long-term background from `grey` (a `crop_grey` of a clean frame, or a saved
        `state()["long"]`) on `cells` (default: all); the first samples fill the rest. Call after
        `prepare` and before the first sample."""
        if grey.shape != self.ref.shape:
            raise ValueError(f"seed of shape {grey.shape} for a zone crop of {self.ref.shape}")
        if self.long is not None:
            raise ValueError("seed() after the background was learned: reset() first")
        self.seed_grey = grey.astype(np.float32)
        self.seed_cells = (np.ones(self.grid, bool) if cells is None else np.asarray(cells, bool)) & self.cell_mask

    def geometry(self) -> dict[str, np.ndarray]:
        """What a saved state must match to be reused: frame size, crop, cell size, polygon."""
        return {
            "frame_size": np.asarray(self._frame_size or (0, 0), np.int32),
            "crop": np.asarray(self.crop, np.int32),
            "cell_px": np.asarray(self.p.cell_px, np.int32),
            "polygon": self.polygon.astype(np.float32),
        }

    def state(self) -> dict[str, np.ndarray] | None:
        """The long-term background and the cells to trust in it (None before there is one)."""
        if self.long is None:
            return None
        trusted = (self.trust >= self.p.short_term_samples) & self.cell_mask
        return {**self.geometry(), "long": np.clip(np.round(self.long), 0, 255).astype(np.uint8), "trusted": trusted}

    def matches(self, state: dict[str, np.ndarray]) -> bool:
        """Whether a saved `state()` was taken with this geometry (same view and zone)."""
        mine = self.geometry()
        try:
            return all(np.array_equal(mine[k], state[k]) for k in mine) and state["long"].shape == self.ref.shape
        except KeyError:
            return False

    # -- results -------------------------------------------------------------------------------

    def cells_in_box(self, xyxy) -> np.ndarray:
        """Cells of the zone (bool grid) whose centre lies in the box (frame pixels)."""
        if not self._frame_size:
            return np.zeros((0, 0), bool)
        return self._covered(np.asarray(xyxy, np.float32).reshape(1, 4)) & self.cell_mask

    def changed_fraction(self) -> float:
        """Share of the zone whose structure differs from the long-term background now."""
        return float(self.changed.sum() / max(self.zone_cells, 1)) if self.ready else 0.0

    def stayed(self, now_s: float, min_stay_s: float, explained_share: float = 0.5) -> list[Region]:
        """Connected regions of cells that changed at least `min_stay_s` ago and stayed. A cell
        inside explained boxes in `explained_share` of its sightings or more is explained."""
        if not self.ready:
            return []
        p = self.p
        active = ~np.isnan(self.since)
        with np.errstate(invalid="ignore"):
            old = active & (now_s - self.since >= min_stay_s)
        ok = old & (self.hits >= p.min_stay_fraction * np.maximum(self.seen, 1)) & self.cell_mask
        if not ok.any():
            return []
        n, labels, stats, _ = cv2.connectedComponentsWithStats(ok.astype(np.uint8), connectivity=8)
        regions = []
        c = p.cell_px
        x0, y0 = self.crop[:2]
        for i in range(1, n):
            cells = int(stats[i, cv2.CC_STAT_AREA])
            if cells < p.min_region_cells:
                continue
            mask = labels == i
            gx, gy, gw, gh = (int(stats[i, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
            box = ((x0 + gx * c) / self.scale, (y0 + gy * c) / self.scale, (x0 + (gx + gw) * c) / self.scale, (y0 + (gy + gh) * c) / self.scale)
            explained = float(self.explained_hits[mask].sum() / max(self.hits[mask].sum(), 1))
            unexplained = int((self.explained_hits[mask] < explained_share * np.maximum(self.hits[mask], 1)).sum())
            since = float(np.nanmin(self.since[mask]))
            seen = float(np.nanmax(self.last_hit[mask]))
            regions.append(Region(box, cells, cells / self.zone_cells, since, seen, explained, unexplained, mask))
        return regions


def _blocks(img: np.ndarray, c: int) -> np.ndarray:
    """(H, W) -> (H/c, W/c, c, c) view of the cells."""
    h, w = img.shape
    return img.reshape(h // c, c, w // c, c).swapaxes(1, 2)


def _expand(cells: np.ndarray, c: int) -> np.ndarray:
    """A cell mask as a pixel mask."""
    return np.repeat(np.repeat(cells, c, axis=0), c, axis=1)


def _cs(a: np.ndarray, b: np.ndarray, c: int) -> np.ndarray:
    """SSIM's contrast-structure term per cell: (2 cov + C) / (var_a + var_b + C)."""
    ba, bb = _blocks(a, c), _blocks(b, c)
    ma, mb = ba.mean(axis=(2, 3), keepdims=True), bb.mean(axis=(2, 3), keepdims=True)
    da, db = ba - ma, bb - mb
    var_a, var_b = (da * da).mean(axis=(2, 3)), (db * db).mean(axis=(2, 3))
    cov = (da * db).mean(axis=(2, 3))
    return (2 * cov + STRUCTURE_C) / (var_a + var_b + STRUCTURE_C)
