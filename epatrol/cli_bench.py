"""`epatrol bench`: the throughput benchmark (benchmarks/bench.py), run from a source checkout.

The harness is not part of the installed package (it builds footage from ../shared/media and
starts the test RTSP server), so this command finds the checkout beside the package (the
editable install) and imports it from there only when asked to (benchmarks/ is never imported
by the package otherwise)."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def _checkout_module(name: str):
    if not (CHECKOUT / "benchmarks" / "bench.py").is_file():
        return None
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    return importlib.import_module(name)


def add_parsers(sub) -> None:
    bench = sub.add_parser(
        "bench",
        help="measure how many live cameras this box sustains (the pipeline as deployed: default rates, runtime chosen by measurement; its bounds; and the hand-written OpenCV + onnxruntime baseline running every model the violations need at the same rates); from a source checkout",
        description="Simulated RTSP cameras through the real pipeline; writes bench.json, bench.md and bench.png (see benchmarks/bench.py).",
    )
    bench.set_defaults(standalone=cmd_bench)  # no -c: the bench writes its own configurations
    options = _checkout_module("benchmarks.options")  # argparse only: cheap on every start
    if options is not None:
        options.add_arguments(bench)


def cmd_bench(args: argparse.Namespace) -> int:
    bench = _checkout_module("benchmarks.bench")
    if bench is None:
        print(
            f"epatrol bench: benchmarks/bench.py not found next to the package ({CHECKOUT}); "
            "run it from a source checkout installed with `pip install -e .[bench]`",
            file=sys.stderr,
        )
        return 2
    bench.run(args)
    return 0
