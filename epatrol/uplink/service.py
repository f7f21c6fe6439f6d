"""Starts the uplink for `epatrol run` when the config has an enabled ``uplink`` section."""

from __future__ import annotations

import logging

from epatrol.config import Config
from epatrol.evidence.store.db import Database
from epatrol.uplink.inspect import Workers, ZoneInspector
from epatrol.uplink.sender import UplinkSender

log = logging.getLogger(__name__)


def start_uplink(cfg: Config, db: Database, workers: Workers | None = None) -> UplinkSender | None:
    if cfg.uplink is None or not cfg.uplink.enabled:
        return None
    sender = UplinkSender(cfg.uplink, db, cfg.storage.root, ZoneInspector(workers) if workers is not None else None)
    sender.start()
    log.info("uplink %s: sending to %s", cfg.uplink.box_id, ", ".join(cfg.uplink.servers))
    return sender
