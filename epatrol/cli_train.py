"""`epatrol train-bins`: fit the bin-area classifier on labelled photos and report held-out figures;
with `--presence`, the bin-presence classifier (bin photos against no-bin crops of ../shared/media).
`epatrol train`: the district's own detector or region classifier (the train extra; docs/training.md).
`epatrol dataset export`: reviewed events as such a labelled folder.

Needs no configuration file: the data folder, the models folder (for yolov8n, the embedding) and
where to write the parameters are arguments. cli.py wires it in."""

from __future__ import annotations

import argparse
import json
import os
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
    add_district_parsers(sub)


def add_district_parsers(sub) -> None:
    from epatrol.training.district_data import MIN_EXAMPLES

    t = sub.add_parser("train", help="train the district's own detector or region classifier from a labelled folder (needs the train extra)")
    t.add_argument("--task", choices=["detect", "classify"], required=True, help="detect: YOLO boxes folder; classify: one folder per class")
    t.add_argument("--data", type=Path, required=True, help="the labelled folder (detect: images/, labels/, data.yaml; classify: <class>/*.jpg)")
    t.add_argument("--out", type=Path, required=True, help="where model.onnx and training.json go")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--imgsz", type=int, default=320, help="input size (a multiple of 32)")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--init", default="scratch", help="start: scratch, yolov8n_int8 (the COCO weights in the models folder), or an Ultralytics .yaml/.pt")
    t.add_argument("--min-examples", type=int, default=None,
                   help=f"refuse fewer labelled examples (default detect {MIN_EXAMPLES['detect']} images with boxes, classify {MIN_EXAMPLES['classify']} images per class)")
    t.add_argument("--val-fraction", type=float, default=0.2, help="share of the images held back for validation")
    t.add_argument("--check-only", action="store_true", help="check the folder, print its counts, do not train (no train extra needed)")
    t.add_argument("--name", default=None, help="the name the printed `epatrol models add` line suggests")
    t.add_argument("--models", type=Path, default=None, help="models folder, for --init (default: EPATROL_MODELS or ../shared/models)")
    t.add_argument("--device", default="cpu", help="torch device: cpu, 0 (first GPU)...")
    t.set_defaults(standalone=cmd_train)

    d = sub.add_parser("dataset", help="labelled data from the officers' decisions")
    ds = d.add_subparsers(dest="dataset_command", required=True)
    e = ds.add_parser("export", help="confirmed and dismissed events as a labelled folder `epatrol train` reads")
    e.add_argument("-c", "--config", type=Path, required=True, help="the box's config (its database and storage)")
    e.add_argument("--out", type=Path, required=True, help="an empty or new folder")
    e.add_argument("--violation", default=None, help="only this violation (default: every one)")
    e.add_argument("--since", default=None, help="only events that started at or after this ISO time (e.g. 2025-01-31 or 2025-01-31T08:00+08:00)")
    e.add_argument("--layout", choices=["auto", "detect", "classify"], default="auto",
                   help="detect: images + YOLO labels; classify: zone crops per decision; auto: classify for region_state rules")
    e.set_defaults(standalone=cmd_dataset_export)


def _default_models(given: Path | None) -> Path | None:
    if given is not None:
        return given
    default = Path("../shared/models")
    return default if default.is_dir() and not os.environ.get("EPATROL_MODELS") else None


def cmd_train(args: argparse.Namespace) -> int:
    from epatrol.training.district_data import DatasetError, check

    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    try:
        if args.check_only:
            print(json.dumps(check(args.task, args.data, args.min_examples).summary(), indent=1, ensure_ascii=False))
            return 0
        from epatrol.models.manifest import ModelError
        from epatrol.training.district_training import TrainingError, train

        record = train(args.task, args.data, args.out, args.epochs, args.imgsz, args.init, args.min_examples,
                       args.val_fraction, args.batch, _default_models(args.models), args.device, log=log)  # fmt: skip
    except (DatasetError, ModelError, TrainingError, FileNotFoundError) as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: record[k] for k in ("task", "names", "data", "init", "epochs", "imgsz", "metrics", "seconds")}, indent=1, ensure_ascii=False))
    name = args.name or "district_model"
    print(f"\nregister it:\n  epatrol models add {args.out / record['onnx']} --name {name} --models <models dir>")
    return 0


def cmd_dataset_export(args: argparse.Namespace) -> int:
    from epatrol.config import ConfigError, load_config
    from epatrol.training.dataset_export import export_dataset, parse_since

    try:
        cfg = load_config(args.config)
        summary = export_dataset(cfg, args.out, args.violation, parse_since(args.since), args.layout)
    except (ConfigError, ValueError, FileExistsError) as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return 0


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
