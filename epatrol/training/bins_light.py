"""Light variants of training photos for the bin classifiers: dusk, and night under street lights
with passing headlights.

The labelled bin photos are almost all daylight, while street cameras watch bins all night. These
turn a photo into what a camera would deliver at dusk or at night, so that the classifiers see
both. They are deliberately NOT the eval scenes' light models (sample_videos/scenes/bins.py):
measuring on the transformation one trained on would flatter the figures.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np


def _deliver(out: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float], quality: tuple[int, int]) -> np.ndarray:
    """Sensor noise (stronger in the dark: gain amplifies it) and lossy compression."""
    out = np.clip(out + rng.normal(0.0, rng.uniform(*sigma), out.shape), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(quality[0], quality[1] + 1))])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def at_dusk(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fading daylight: 25..55% of the light, crushed shadows (gamma), a blue cast."""
    gain, gamma = rng.uniform(0.25, 0.55), rng.uniform(1.1, 1.6)
    out = 255.0 * (img.astype(np.float32) / 255.0) ** gamma * gain
    out *= np.array([rng.uniform(1.05, 1.3), 1.0, rng.uniform(0.75, 0.95)], np.float32)  # BGR
    return _deliver(out, rng, (2.0, 5.0), (20, 50))


def at_night(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Night under sodium or white street lights (10..35% of the light, a warm or neutral cast, a
    pool of light from above), often with a car's headlight glare somewhere in the view."""
    h, w = img.shape[:2]
    base = 255.0 * (img.astype(np.float32) / 255.0) ** rng.uniform(1.2, 1.8) * rng.uniform(0.1, 0.35)
    if rng.random() < 0.6:  # sodium lamp: orange
        base *= np.array([0.6, 0.9, 1.25], np.float32)
    ys = np.arange(h, dtype=np.float32)[:, None] / h
    xs = np.arange(w, dtype=np.float32)[None, :] / w
    lx = rng.uniform(0.1, 0.9)
    pool = 0.6 + 0.8 * np.exp(-(((xs - lx) ** 2) + (ys - rng.uniform(-0.2, 0.4)) ** 2) / (2 * rng.uniform(0.2, 0.5) ** 2))
    out = base * pool[..., None]
    if rng.random() < 0.7:  # headlights: a bright warm-white blob, somewhere low in the view
        cx, cy, r = rng.uniform(-0.1, 1.1), rng.uniform(0.4, 1.0), rng.uniform(0.1, 0.35)
        glare = np.exp(-(((xs - cx) ** 2) + ((ys - cy) * h / w) ** 2) / (2 * r**2))
        out = out + glare[..., None] * rng.uniform(120, 230) * np.array([0.75, 0.9, 1.0], np.float32)
    return _deliver(out, rng, (3.0, 7.0), (15, 45))


VARIANTS = {"dusk": at_dusk, "night": at_night}


def _seed(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def light_of(key: str) -> str:
    """Dusk for half the images, night for the other half (by hash of `key`): one light variant per
    image halves the backbone runs of a refit, and the two halves still cover both."""
    return "dusk" if _seed(f"light:{key}") % 2 else "night"


def lit(img: np.ndarray, key: str) -> np.ndarray:
    """The image at dusk or at night (light_of), seeded by `key`: the same key, the same picture."""
    name = light_of(key)
    return VARIANTS[name](img, np.random.default_rng(_seed(key + name)))
