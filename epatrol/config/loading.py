"""Reading a configuration: YAML file -> Config, errors naming the file and each bad field
(ConfigError, see epatrol/common/yaml_file.py), paths in the file made relative to the file; and the JSON Schema of the whole."""

from __future__ import annotations

import json
from pathlib import Path

from epatrol.common.yaml_file import read_yaml, relative_to, validate
from epatrol.config.box import Config
from epatrol.config.cameras import Camera


def _resolve_relative(cfg: Config, base: Path) -> Config:
    """Paths in the file are relative to the file, not to the caller's working directory."""
    rel = relative_to(base)

    def with_paths(c: Camera) -> Camera:
        url = c.url if c.is_live or Path(c.url).is_absolute() else str((base / c.url).resolve())
        zones = [z.model_copy(update={"clean_reference": rel(z.clean_reference)}) for z in c.zones]
        return c.model_copy(update={"url": url, "zones": zones})

    cameras = [with_paths(c) for c in cfg.cameras]
    burning = cfg.violations.open_burning
    return cfg.model_copy(
        update={
            "storage": cfg.storage.model_copy(update={"root": rel(cfg.storage.root)}),
            "models": cfg.models.model_copy(update={"dir": rel(cfg.models.dir)}),
            "review": cfg.review.model_copy(update={"signing_key": rel(cfg.review.signing_key)}),
            "uplink": cfg.uplink and cfg.uplink.model_copy(update={"tls_ca": rel(cfg.uplink.tls_ca)}),
            "web": cfg.web.relative_to(rel),
            "cameras": cameras,
            "violations": cfg.violations.model_copy(update={"open_burning": burning.model_copy(update={"decision": rel(burning.decision)})}),
        }
    )


def parse_config(data: object, source: str = "<config>", base: Path | None = None) -> Config:
    cfg = validate(Config, data, source)
    return _resolve_relative(cfg, base) if base is not None else cfg


def load_config(path: Path | str) -> Config:
    path = Path(path)
    return parse_config(read_yaml(path), str(path), base=path.resolve().parent)


def json_schema() -> str:
    return json.dumps(Config.model_json_schema(), indent=2, ensure_ascii=False)

