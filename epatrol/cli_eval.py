"""`epatrol eval --truth set.yaml`: the real pipeline over a labelled set -> per-violation metrics.

With --build DIR the labelled set is first built from ../shared (sample_videos/eval_set.py, a source
checkout only) into DIR, and --truth defaults to the ground truth written there."""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import tempfile
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="run the real pipeline over labelled clips; report precision, recall, time to alert, false alerts")
    p.add_argument("--truth", type=Path, help="ground-truth YAML (clip paths relative to it); default with --build: DIR/truth.yaml")
    p.add_argument("--out", type=Path, help="write the full report (per violation and per clip) as JSON")
    p.add_argument("--markdown", type=Path, help="write the metrics table (and the per-clip table) as markdown")
    p.add_argument("--build", type=Path, metavar="DIR", help="first build the labelled set from ../shared into DIR (kept files are reused)")
    p.add_argument("--shared", type=Path, help="with --build: the shared folder holding media/ and datasets/ (default ../shared)")
    p.add_argument("--quiet-hours", type=float, default=1.0, metavar="H",
                   help="with --build: length of each long quiet negative clip in hours (6 scenes, each watched by all four judges; 0: none)")
    p.add_argument("--models", type=Path, help="models folder (default: EPATROL_MODELS, else ../shared/models)")
    p.add_argument("--storage", type=Path, help="keep the run's database and evidence here (default: a temporary folder, deleted)")
    p.set_defaults(standalone=cmd_eval)


def _build(out_dir: Path, shared: Path | None, quiet_hours: float) -> Path:
    import epatrol

    script = Path(epatrol.__file__).resolve().parents[1] / "sample_videos" / "eval_set.py"
    if not script.is_file():
        raise FileNotFoundError(f"--build needs a source checkout: {script} not found")
    build = runpy.run_path(str(script))["build_eval_set"]
    return build(out_dir, shared, quiet_s=quiet_hours * 3600) if shared else build(out_dir, quiet_s=quiet_hours * 3600)


def cmd_eval(args: argparse.Namespace) -> int:
    from epatrol.evaluation.ground_truth import GroundTruthError, load_ground_truth
    from epatrol.evaluation.report import build_report, clip_table, markdown_table
    from epatrol.evaluation.runner import default_models_dir, run_eval

    truth = args.truth
    if args.build is not None:
        built = _build(args.build, args.shared, args.quiet_hours)
        truth = truth or built
    if truth is None:
        print("epatrol eval: give --truth FILE (or --build DIR)", file=sys.stderr)
        return 2
    try:
        gt = load_ground_truth(truth)
    except GroundTruthError as e:
        print(f"epatrol eval: {e}", file=sys.stderr)
        return 2
    models = args.models or default_models_dir()
    if args.storage is not None:
        run = run_eval(gt, args.storage.resolve(), models)
    else:
        with tempfile.TemporaryDirectory(prefix="epatrol-eval-") as tmp:
            run = run_eval(gt, Path(tmp), models)
    report = build_report(gt, run)
    table = markdown_table(report)
    print(table, end="")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(table + "\n" + clip_table(report), encoding="utf-8")
    return 0
