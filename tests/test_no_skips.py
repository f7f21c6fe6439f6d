"""The suite cannot pass quietly: a run with a skipped test exits non-zero naming it and its reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _run(tmp_path: Path, body: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(body)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no_skips", "-p", "no:cacheprovider", str(tmp_path / "test_sample.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if k != "EPATROL_ALLOW_SKIPS"}, "PYTHONPATH": str(TESTS), **env},
    )


def test_a_skipped_test_fails_the_run_and_is_named(tmp_path):
    done = _run(tmp_path, "import pytest\n\ndef test_ok():\n    pass\n\ndef test_needs_a_part():\n    pytest.skip('nats-server not installed')\n")
    assert done.returncode == 1, done.stdout
    assert "test_sample.py::test_needs_a_part: Skipped: nats-server not installed" in done.stdout


def test_a_run_without_skips_passes_and_a_developer_may_allow_them(tmp_path):
    assert _run(tmp_path, "def test_ok():\n    pass\n").returncode == 0
    allowed = _run(tmp_path, "import pytest\n\ndef test_skip():\n    pytest.skip('no chromium')\n", EPATROL_ALLOW_SKIPS="1")
    assert allowed.returncode == 0, allowed.stdout
