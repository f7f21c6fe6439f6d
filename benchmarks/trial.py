"""One benchmark trial, in a fresh process (so CPU and memory are the trial's own):

    python -m benchmarks.trial SPEC.json RESULT.json

SPEC["mode"] is one of
  pipeline   the real pipeline (benchmarks/pipeline_trial.py)
  baseline   what a user would otherwise write by hand (benchmarks/baseline_trial.py)
  decode     decoding alone (benchmarks/bounds.py)
  inference  inference alone (benchmarks/bounds.py)
The orchestrator (benchmarks/bench.py) writes SPEC and reads RESULT."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.baseline_trial import run_baseline  # noqa: E402
from benchmarks.bounds import run_decode, run_inference  # noqa: E402
from benchmarks.pipeline_trial import run_pipeline  # noqa: E402

TRIALS = {"pipeline": run_pipeline, "baseline": run_baseline, "decode": run_decode, "inference": run_inference}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m benchmarks.trial SPEC.json RESULT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = TRIALS[spec["mode"]](spec)
    Path(argv[1]).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
