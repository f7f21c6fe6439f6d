"""The footage of `epatrol demo`: one file camera per violation, built from real media in ``../shared``.

Built on demand (kept when present) into a folder git ignores, like everything derived from
../shared (sample_videos/build.py says why). The same builders make the tests' scenes, so a test
session and the demo share files::

    parked_bike.mp4       parked bikes: bikes.mp4's bicycle against a wall, 60 s     (build.py)
    campus_walkers.mp4    a hard negative: vtest.avi's walkers, a parked van and car  (build.py)
    open_burning.mp4      open burning: the drone's scrub fire, 16.5 s                (build.py)
    vending_stall_walkers_45s_at8s.mp4
                          street vending: vtest walkers; a rickshaw piled with goods stops with
                          its two vendors at 8 s and stays (scenes/vending.py, the clip
                          tests/test_street_vending.py runs)
    bins_demo_dirty_steady_16s.mp4
                          overflowing bins: the first overflowing photo of the classifier's
                          held-out split (by the hash of its name: never trained on, not chosen by
                          its score) held still 16 s in daylight with sensor noise (scenes/bins.py)

Usage, from the repo root: ``python sample_videos/demo_footage.py [--shared ../shared] [--out DIR]``;
`epatrol demo` runs ``build_demo_footage``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script or through runpy: the sample_videos package
    sys.path.insert(0, str(REPO_ROOT))

from sample_videos.build import BUILDERS, DEFAULT_OUT, DEFAULT_SHARED, MissingMediaError  # noqa: E402
from sample_videos.scenes import bins, vending  # noqa: E402

VENDING_SCENE, VENDING_S, VENDING_AT_S = "stall_walkers", 45.0, 8.0
VENDING_CLIP = vending.clip_name(VENDING_SCENE, VENDING_S, VENDING_AT_S)
BINS_S = 16.0
BINS_CLIP = f"bins_demo_dirty_steady_{BINS_S:g}s.mp4"


def _vending(out: Path, shared: Path) -> Path:
    (record,) = vending.build_vending_scenes(out, VENDING_S, VENDING_AT_S, shared, [VENDING_SCENE])
    return Path(record["path"])


def _bins(out: Path, shared: Path) -> Path:
    dirty, _ = bins.pick_photos(shared, 1, 0)  # reads the data set (a few seconds): only when building
    return bins.build_bin_clip(out / BINS_CLIP, dirty[0], "steady", BINS_S)


def demo_builders() -> dict[str, Callable[[Path, Path], Path]]:
    """File name -> builder(out_dir, shared_dir), in the order the demo builds them."""
    steps: dict[str, Callable[[Path, Path], Path]] = {name: fn for name, fn in BUILDERS.items()}
    steps[VENDING_CLIP] = _vending
    steps[BINS_CLIP] = _bins
    return steps


def build_demo_footage(out_dir: Path | str = DEFAULT_OUT, shared_dir: Path | str = DEFAULT_SHARED,
                       log: Callable[[str], None] = print) -> dict[str, Path]:
    """Build the demo's files into ``out_dir`` (those present are kept), logging each; name -> path.
    A missing source raises MissingMediaError (or FileNotFoundError for the bins data set) naming it."""
    out, shared = Path(out_dir), Path(shared_dir)
    if not (shared / "media").is_dir():
        raise MissingMediaError(f"{shared / 'media'} not found: pass the shared folder that holds media/ and datasets/")
    out.mkdir(parents=True, exist_ok=True)
    built = {}
    steps = demo_builders()
    for i, (name, build) in enumerate(steps.items(), 1):
        if (out / name).exists():
            log(f"footage {i}/{len(steps)}: {name} (kept)")
            built[name] = out / name
            continue
        log(f"footage {i}/{len(steps)}: building {name} ...")
        t0 = time.monotonic()
        built[name] = build(out, shared)
        log(f"footage {i}/{len(steps)}: {name} built in {time.monotonic() - t0:.0f} s")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the footage of `epatrol demo` from ../shared.")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help=f"shared dir holding media/ and datasets/ (default {DEFAULT_SHARED})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        build_demo_footage(args.out, args.shared)
    except FileNotFoundError as exc:  # MissingMediaError is one
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
