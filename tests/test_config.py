"""The configuration file: the documented example loads, bad files are rejected naming the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from epatrol.config import ConfigError, load_config, parse_config

EXAMPLE = """
storage: {root: ./data}
models: {dir: ../shared/models}
cameras:
  - id: school-gate-1
    name: 实验小学东门
    url: rtsp://127.0.0.1:8554/cam1
    site: school
    zones:
      - name: east-sidewalk
        polygon: [[0.05, 0.55], [0.60, 0.55], [0.60, 0.98], [0.05, 0.98]]
        violations: [parked_bikes]
violations:
  parked_bikes: {dwell_s: 120, min_count: 1}
evidence: {pre_s: 10, post_s: 10}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "epatrol.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_loads_with_paths_relative_to_the_file(tmp_path):
    cfg = load_config(_write(tmp_path, EXAMPLE))
    cam = cfg.cameras[0]
    assert cam.name == "实验小学东门" and cam.site.value == "school" and cam.is_live
    assert cfg.storage.root == (tmp_path / "data").resolve()
    assert cfg.models.dir == (tmp_path.parent / "shared" / "models").resolve()
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'data' / 'epatrol.db').resolve().as_posix()}"
    assert cfg.violations.parked_bikes.dwell_s == 120


@pytest.mark.parametrize(
    "change, field",
    [
        (("dwell_s: 120", "dwell_s: -5"), "violations.parked_bikes.dwell_s"),
        (("min_count: 1", "min_count: 1, minimum: 3"), "violations.parked_bikes.minimum"),
        (("site: school", "site: mall"), "cameras.0.site"),
        (("[0.60, 0.98]", "[1.60, 0.98]"), "cameras.0.zones.0.polygon.2.0"),
        (("violations: [parked_bikes]", "violations: [parked_bike]"), "cameras.0.zones.0.violations.0"),
        (("id: school-gate-1", "id: School Gate"), "cameras.0.id"),
        (("pre_s: 10", "pre_s: ten"), "evidence.pre_s"),
        (("storage:", "storage_:"), "storage_"),
    ],
)
def test_bad_field_is_named(tmp_path, change, field):
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, EXAMPLE.replace(old, new)))
    assert field in str(err.value)
    assert "epatrol.yaml" in str(err.value)


def test_duplicate_camera_ids_and_missing_cameras(tmp_path):
    cam = {"id": "a", "name": "A", "url": "a.mp4"}
    with pytest.raises(ConfigError, match="duplicate camera ids: a"):
        parse_config({"cameras": [cam, cam]})
    with pytest.raises(ConfigError, match="cameras"):
        parse_config({"storage": {"root": "x"}})


def test_unreadable_or_not_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "cameras: [unclosed"))
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- just\n- a list\n"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epatrol", *args], capture_output=True, text=True, timeout=60)


def test_cli_config_check_and_schema(tmp_path):
    good = _cli("config", "check", str(_write(tmp_path, EXAMPLE)))
    assert good.returncode == 0 and "OK" in good.stdout
    bad = _cli("config", "check", str(_write(tmp_path, EXAMPLE.replace("site: school", "site: mall"))))
    assert bad.returncode == 2 and "cameras.0.site" in bad.stderr
    schema = json.loads(_cli("config", "schema").stdout)
    assert schema["additionalProperties"] is False
    assert "cameras" in schema["required"]
    assert "parked_bikes" in json.dumps(schema)
