"""The parked-bikes judge's cues measured on labelled footage: what chose its thresholds.

The judge (detectors/parked_bikes.py) calls a bike parked when its track has stood still within
`max_motion` box diagonals for `dwell_s`, detected at `confidence` or more in at least
MIN_SEEN_FRACTION of the samples since. `dwell_s` is policy (how long a bike may stand: the
district's rule, 120 s by default); the other three are measured here, on every parked_bikes clip
of a ground-truth file (epatrol eval's format), sampled as the judge samples (1 a second):

- per positive clip: the share of samples in which yolov8n finds the parked bike at each
  confidence (the seen fraction the rule needs), and how far its box wanders (in diagonals);
- per negative clip: the longest time any bike track stays still in the zone, and its seen
  fraction, at each confidence.

A threshold is safe where every positive clears it with margin and no negative does. The clips are
few (3 positives from 2 real shots), so this is a check of margins, not a fit: the report says
which values would break a positive or let a negative through.

    python -m epatrol.training.bike_cues --truth build/eval/truth.yaml --out docs/reports/parked_bikes.md
"""

from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import numpy as np

from epatrol.config import ParkedBikes
from epatrol.detectors.parked_bikes import MIN_SEEN_FRACTION
from epatrol.detectors.tracking import StillTracker
from epatrol.detectors.zones import ZoneShape, bottom_centres
from epatrol.evaluation.ground_truth import load_ground_truth
from epatrol.evaluation.runner import default_models_dir
from epatrol.models import load_detector
from epatrol.models.detections import Detections

CONFIDENCES = (0.2, 0.25, 0.3, 0.4, 0.5)
MOTIONS = (0.1, 0.2, 0.35, 0.5)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class ClipCues:
    path: str
    positive: bool
    samples: int
    seen: dict[float, float]  # confidence -> share of samples with a bike in the zone at that confidence
    scores: list[float]  # best bike score in the zone per sample (0: none)
    wander: float  # positives: largest move of the bike's box centre from its median, in diagonals
    still_s: dict[tuple[float, float], float]  # (confidence, max_motion) -> longest still run of a bike track in the zone
    seen_at_dwell: dict[tuple[float, float], float]  # ... best seen fraction of a track still for dwell_s or more (0: none)
    parked_at: dict[tuple[float, float], float | None]  # ... media s at which the rule first calls a bike parked


def frames_every(path: Path, every_s: float):
    """(media seconds, BGR frame) one per `every_s`, decoding the whole file (clips are short)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        next_t = 0.0
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t + 1e-6 >= next_t:
                next_t += every_s
                yield t, frame.to_ndarray(format="bgr24")


def bike_samples(detector, path: Path, zone: ZoneShape, params: ParkedBikes) -> list[tuple[float, Detections]]:
    """(media s, bikes whose feet are in the zone at the lowest confidence measured) per sample: the
    costly part (one detector run a sample), done once per clip."""
    classes = set(params.classes)
    out = []
    for t, frame in frames_every(path, params.sample_every_s):
        bikes = detector.detect(frame, conf=min(CONFIDENCES)).of_classes(classes)
        h, w = frame.shape[:2]
        inside = zone.contains(bottom_centres(bikes.xyxy), w, h) if len(bikes) else np.zeros(0, bool)
        out.append((t, bikes.filter(inside)))
    return out


def measure_clip(name: str, per_sample: list[tuple[float, Detections]], positive: bool, params: ParkedBikes) -> ClipCues:
    scores = [float(b.confidence.max()) if len(b) else 0.0 for _, b in per_sample]
    seen = {c: float(np.mean([s >= c for s in scores])) for c in CONFIDENCES}
    wander = 0.0
    if positive:
        best = [b.xyxy[int(np.argmax(b.confidence))] for _, b in per_sample if len(b)]
        if best:
            boxes = np.stack(best)
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            diag = float(np.median(np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
            wander = float(np.max(np.linalg.norm(centres - np.median(centres, axis=0), axis=1)) / max(diag, 1.0))
    still_s, seen_at_dwell, parked_at = {}, {}, {}
    for c in CONFIDENCES:
        for m in MOTIONS:
            # As the judge does: at every sample, a track in the zone still for dwell_s and seen in
            # MIN_SEEN_FRACTION of the samples since it came to rest is parked.
            tracker = StillTracker(max_age_s=params.end_after_s, max_motion=m)
            longest, best_seen, first = 0.0, 0.0, None
            for t, bikes in per_sample:
                now = T0 + timedelta(seconds=t)
                tracker.update(bikes.filter(bikes.confidence >= c), now)
                for tr in tracker.tracks:
                    run = tr.still_for_s(now)
                    longest = max(longest, run)
                    if run >= params.dwell_s:
                        frac = tr.hits_since_still / max(1.0, run / params.sample_every_s)
                        best_seen = max(best_seen, frac)
                        if first is None and frac >= MIN_SEEN_FRACTION:
                            first = t
            still_s[(c, m)], seen_at_dwell[(c, m)], parked_at[(c, m)] = longest, best_seen, first
    return ClipCues(name, positive, len(per_sample), seen, scores, wander, still_s, seen_at_dwell, parked_at)


def judged_parked(cue: ClipCues, c: float, m: float) -> bool:
    return cue.parked_at[(c, m)] is not None


def report(cues: list[ClipCues], params: ParkedBikes) -> str:
    pos, neg = [c for c in cues if c.positive], [c for c in cues if not c.positive]
    lines = [
        "# Parked bikes: the cues behind the thresholds",
        "",
        f"Measured by `python -m epatrol.training.bike_cues` on {len(pos)} positive and {len(neg)} negative clips "
        f"({sum(c.samples for c in cues)} samples at {params.sample_every_s:g} s), yolov8n_int8, dwell_s {params.dwell_s:g} s.",
        "",
        "## Seen fraction: share of samples with the bike detected in the zone",
        "",
        "| clip | kind | " + " | ".join(f"conf >= {c:g}" for c in CONFIDENCES) + " | median score | box wander (diagonals) |",
        "|---|---|" + "---|" * len(CONFIDENCES) + "---|---|",
    ]
    for c in cues:
        nonzero = [s for s in c.scores if s > 0]
        med = f"{np.median(nonzero):.2f}" if nonzero else "–"
        wander = f"{c.wander:.2f}" if c.positive else "–"
        lines.append(f"| {c.path} | {'positive' if c.positive else 'negative'} | " + " | ".join(f"{c.seen[x]:.2f}" for x in CONFIDENCES) + f" | {med} | {wander} |")
    lines += [
        "",
        f"## The rule at each confidence and motion limit (seen fraction >= {MIN_SEEN_FRACTION:g}, still >= {params.dwell_s:g} s)",
        "",
        "Positives found / negatives flagged, and the margins: the weakest positive's best seen fraction once still for dwell_s "
        "(the rule needs MIN_SEEN_FRACTION), and the negatives' longest still run (the rule needs dwell_s).",
        "",
        "| confidence | max_motion | positives found | negatives flagged | weakest positive seen | longest negative still run (s) |",
        "|---|---|---|---|---|---|",
    ]
    for c in CONFIDENCES:
        for m in MOTIONS:
            found = sum(judged_parked(x, c, m) for x in pos)
            flagged = sum(judged_parked(x, c, m) for x in neg)
            weakest = min((x.seen_at_dwell[(c, m)] for x in pos), default=0.0)
            longest = max((x.still_s[(c, m)] for x in neg), default=0.0)
            mark = " **(shipped)**" if (c, m) == (params.confidence, params.max_motion) else ""
            lines.append(f"| {c:g} | {m:g}{mark} | {found}/{len(pos)} | {flagged}/{len(neg)} | {weakest:.2f} | {longest:.0f} |")
    shipped = (params.confidence, params.max_motion)
    lines += ["", "## When the shipped rule calls each clip's bike parked (media s; dwell_s is the floor)", ""]
    lines += [f"- {x.path} ({'positive' if x.positive else 'negative'}): "
              + (f"{x.parked_at[shipped]:.0f} s" if x.parked_at[shipped] is not None else "never") for x in cues]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Measure the parked-bikes cues on the parked_bikes clips of a ground truth.")
    p.add_argument("--truth", type=Path, required=True, help="ground-truth YAML (epatrol eval's format)")
    p.add_argument("--out", type=Path, required=True, help="markdown report to write")
    p.add_argument("--cache", type=Path, help="keep the per-sample detections in this pickle, to re-read the rule without the detector")
    p.add_argument("--models", type=Path, help="models folder (default: EPATROL_MODELS, else ../shared/models)")
    args = p.parse_args(argv)
    gt = load_ground_truth(args.truth)
    params = ParkedBikes()
    detector = load_detector("yolov8n_int8", args.models or default_models_dir(), threads=2, device="cpu")
    cues = []
    cache = pickle.loads(args.cache.read_bytes()) if args.cache and args.cache.exists() else {}
    for clip in gt.clips:
        if clip.violation.value != "parked_bikes":
            continue
        path = gt.clip_path(clip)
        key = (str(path), tuple(map(tuple, clip.zone)))
        if key not in cache:
            cache[key] = bike_samples(detector, path, ZoneShape("zone", tuple(tuple(p) for p in clip.zone)), params)
            if args.cache:
                args.cache.write_bytes(pickle.dumps(cache))
        cue = measure_clip(path.name, cache[key], bool(clip.truth), params)
        print(f"{cue.path}: {cue.samples} samples, seen at 0.3: {cue.seen[0.3]:.2f}", flush=True)
        cues.append(cue)
    if not cues:
        print(f"{args.truth}: no parked_bikes clips", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(cues, params), encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
