"""`epatrol train-bins`: fit the bin-area classifier on labelled photos and report held-out figures;
with `--presence`, the bin-presence classifier (bin photos against no-bin crops of ../shared/media).

Needs no configuration file: the data folder, the models folder (for yolov8n, the embedding) and
where to write the parameters are arguments. cli.py wires it in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_OUT = Path("epatrol/detectors/bins/data/bins_classifier.npz")
PRESENCE_OUT = Path("epatrol/detectors/bins/data/bins_presence.npz")


def add_parsers(sub) -> None:
    p = sub.add_parser("train-bins", help="train the overflowing-bin classifier on clean/dirty photos; prints held-out figures")
    p.add_argument("--data", type=Path, required=True, help="the photo set: <data>/train/{clean,dirty} (e.g. ../shared/datasets/bins-clean-dirty)")
    p.add_argument("--models", type=Path, default=None, help="folder with yolov8n_int8.onnx (default: EPATROL_MODELS or ../shared/models)")
    p.add_argument("--out", type=Path, default=None, help=f"where the learned parameters go (default {DEFAULT_OUT}; with --presence {PRESENCE_OUT})")
    p.add_argument("--presence", action="store_true", help="fit the bin-presence classifier instead (bin photos against no-bin crops of <shared>/media)")
    p.add_argument("--shared", type=Path, default=None, help="with --presence: the shared folder with media/ and datasets/ (default: two levels above --data)")
    p.add_argument("--test-percent", type=float, default=25.0, help="share of scene groups held out for measuring")
    p.add_argument("--report", type=Path, default=None, help="also write the full report (figures, held-out file names) as JSON")
    p.add_argument("--limit", type=int, default=None, help="use at most this many photos (a quick trial run)")
    p.set_defaults(standalone=cmd_train_bins)


def cmd_train_bins(args: argparse.Namespace) -> int:
    from epatrol.models.manifest import resolve_models_dir
    from epatrol.training.bin_training import train

    models = args.models
    if models is None:
        default = Path("../shared/models")
        models = default if default.is_dir() else None
    models_dir = resolve_models_dir(models)
    if not args.data.is_dir():
        print(f"epatrol: --data {args.data}: not a folder", file=sys.stderr)
        return 2
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    try:
        if args.presence:
            from epatrol.training.bins_presence_fit import train_presence

            shared = args.shared or args.data.resolve().parents[1]
            result = train_presence(args.data, shared, args.out or PRESENCE_OUT, models_dir, log=log)
        else:
            result = train(args.data, args.out or DEFAULT_OUT, models_dir, args.test_percent, log=log, limit=args.limit)
    except (FileNotFoundError, ValueError) as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    if args.report is not None:
        args.report.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    summary = {k: v for k, v in result.items() if k != "test_files"}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0
