"""YAML configuration files, for the box (epatrol/config) and the centre (epatrol/centre/config.py):
read one, validate it against a pydantic model, and refuse it with a ConfigError that names the
file and each bad field by its path (e.g. ``cameras.0.zones.1.polygon: ...``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from epatrol.common.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> object:
    """The parsed YAML document of `path` (any type: `validate` checks it is a mapping)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None


def format_errors(source: str, err: ValidationError) -> str:
    lines = [f"{source}: {err.error_count()} invalid field(s)"]
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"  {path}: {e['msg']}")
    return "\n".join(lines)


def validate(model: type[M], data: object, source: str) -> M:
    """`data` as a `model`; `source` (the file's name) begins every error message."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_errors(source, e)) from None


def relative_to(base: Path) -> Callable[[Path | None], Path | None]:
    """A path written in the file, made absolute against the file's folder `base` (None stays None)."""

    def rel(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p).resolve()

    return rel
