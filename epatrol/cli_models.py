"""`epatrol models bench` (which runtime and precision run each model here, and why),
`epatrol models derive` (build the derived graphs from the shipped files and show their records),
`epatrol models add` (register a district-trained ONNX export) and `epatrol models list`.

No configuration file needed: the models folder, the reference frames and the cache are arguments
(the defaults are the ones `epatrol run` uses). cli.py wires it in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parsers(sub) -> None:
    models = sub.add_parser("models", help="the models' runtimes: measure and choose (bench), build derived graphs (derive)")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    bench = models_sub.add_parser("bench", help="measure every runtime and precision installed on real frames; print the table and the choice")
    derive = models_sub.add_parser("derive", help="build the float graphs of the shipped int8 files into the cache; print their checksums and parents")
    for p in (bench, derive):
        p.add_argument("names", nargs="*", help="models (default: every model in the manifest)")
        p.add_argument("--models", type=Path, default=None, help="folder with the ONNX files (default: EPATROL_MODELS or ../shared/models)")
        p.add_argument("--cache", type=Path, default=None, help="derived graphs and the choice (default: EPATROL_CACHE or ~/.cache/epatrol)")
    bench.add_argument("--frames", type=Path, default=None, help="real frames to agree on (default: <models>/reference_frames, then media/ beside <models>)")
    bench.add_argument("--threads", type=int, default=1, help="threads per inference, as the pipeline runs them (default 1)")
    bench.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    bench.add_argument("--cached", action="store_true", help="show this machine's cached choice instead of measuring again")
    bench.add_argument("--json", type=Path, default=None, help="also write the measurements as JSON")
    bench.set_defaults(standalone=cmd_models_bench)
    derive.set_defaults(standalone=cmd_models_derive)
    add = models_sub.add_parser("add", help="register a district-trained ONNX export (epatrol train) in <models>/models.json")
    add.add_argument("file", type=Path, help="the ONNX file (an Ultralytics export: its metadata names the classes, task and input size)")
    add.add_argument("--name", required=True, help="the name rules and config use: lower-case letters, digits, _")
    add.add_argument("--licence", default=None, help="default: the export's own licence metadata")
    add.add_argument("--source", default=None, help="where it came from (default: the training record beside the file)")
    add.add_argument("--replace", action="store_true", help="register a new file under a name already registered")
    listing = models_sub.add_parser("list", help="every model: the built-ins and the district's own")
    for p in (add, listing):
        p.add_argument("--models", type=Path, default=None, help="folder with the ONNX files (default: EPATROL_MODELS or ../shared/models)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(standalone=cmd_models_add)
    listing.set_defaults(standalone=cmd_models_list)


def _models_dir(given: Path | None) -> Path:
    from epatrol.models.manifest import resolve_models_dir

    default = Path("../shared/models")
    return resolve_models_dir(given if given is not None else default if default.is_dir() else None)


def _names(given: list[str]) -> list[str]:
    from epatrol.models.manifest import MODELS, get_spec

    return [get_spec(n).name for n in given] if given else sorted(MODELS)


def cmd_models_add(args: argparse.Namespace) -> int:
    from epatrol.models.district import add_model
    from epatrol.models.manifest import ModelError

    try:
        entry = add_model(args.file, args.name, _models_dir(args.models), args.licence, args.source, args.replace)
    except ModelError as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"name": args.name, **entry}, indent=1, ensure_ascii=False))
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from epatrol.models.district import listing
    from epatrol.models.manifest import ModelError

    try:
        rows = listing(_models_dir(args.models))
    except ModelError as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    print("| name | origin | task | classes | input | licence | file | sha256 | source |")
    print("|---|---|---|---:|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['origin']} | {r['task']} | {r['classes']} | {r['input']} | {r['licence']} | {r['file']} | {r['sha256'][:12]} | {r['source']} |")
    return 0


def cmd_models_bench(args: argparse.Namespace) -> int:
    from epatrol.models.detector import load_detector
    from epatrol.models.selection import machine

    folder = _models_dir(args.models)
    info = machine()
    print(f"# runtimes on {info['cpu']} ({info['cores']} cores; {', '.join(info['flags']) or 'no AVX-512/AMX'}); "
          f"{', '.join(f'{k} {v}' for k, v in info['runtimes'].items())}; {args.threads} thread(s) per run, median ms")  # fmt: skip
    results = {}
    for name in _names(args.names):
        detector = load_detector(
            name, folder, args.threads, args.device, runtime="auto", cache_dir=args.cache, frames_dir=args.frames, remeasure=not args.cached
        )
        choice = detector.choice
        if choice is None:
            print(f"\n{name}: no reference frames found: the reference (shipped graph on onnxruntime) runs", file=sys.stderr)
            continue
        results[name] = choice.to_json()
        print(f"\n## {name}: runs on {detector.runs_on} ({choice.frames} real frames)\n")
        print("| runtime / precision (graph) | ms per run | x reference | accepted | why |")
        print("|---|---:|---:|---|---|")
        base = choice.rows[0].ms
        for row in choice.rows:
            ms = f"{row.ms:.1f}" if row.ms is not None else "-"
            ratio = f"{base / row.ms:.2f}" if row.ms else "-"
            mark = "**chosen**" if row.key == choice.chosen else ("yes" if row.accepted else "no")
            print(f"| {row.candidate} | {ms} | {ratio} | {mark} | {row.reason} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": info, "models": results}, indent=1))
    return 0


def cmd_models_derive(args: argparse.Namespace) -> int:
    from epatrol.models import derive
    from epatrol.models.manifest import get_spec, verify_model_file

    folder = _models_dir(args.models)
    cache = derive.cache_dir(args.cache)
    for name in _names(args.names):
        spec = get_spec(name)
        path = verify_model_file(spec, folder)
        if not derive.is_dynamic_int8(path):
            print(f"{name}: {spec.file} is already a float graph: nothing to derive")
            continue
        record = derive.float_graph(spec, path, cache)
        print(json.dumps({**record.__dict__, "path": str(record.path(cache))}))
    return 0
