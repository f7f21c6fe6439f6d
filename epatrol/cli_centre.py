"""`epatrol centre -c centre.yaml`: the command centre's ingest consumer, and its web app when
epatrol/centre/app.py provides one. cli.py wires it in."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from epatrol.centre.config import CentreConfig, load_centre_config
from epatrol.common.errors import ConfigError

log = logging.getLogger(__name__)


def centre_config_or_none(path: Path) -> CentreConfig | None:
    """The centre's configuration, or None with the reason printed (the commands then exit 2)."""
    try:
        return load_centre_config(path)
    except ConfigError as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return None


def add_parsers(sub) -> None:
    centre = sub.add_parser("centre", help="run the command centre: ingest from the boxes (NATS JetStream) and its web app")
    centre.add_argument("-c", "--config", required=True, type=Path, help="centre YAML configuration file")
    centre.add_argument("--listen", default="127.0.0.1:8100", metavar="HOST:PORT", help="where the centre's web app listens")
    centre.add_argument("--no-app", action="store_true", help="run the ingest only")
    centre.set_defaults(standalone=cmd_centre)
    release = sub.add_parser("centre-release-box", help="let another evidence database send under a box id (after replacing a box's database)")
    release.add_argument("-c", "--config", required=True, type=Path, help="centre YAML configuration file")
    release.add_argument("box_id")
    release.set_defaults(standalone=cmd_release_box)


def cmd_centre(args: argparse.Namespace) -> int:
    from epatrol.centre.ingest import CentreIngest
    from epatrol.migrations import open_centre_store

    cfg = centre_config_or_none(args.config)
    if cfg is None:
        return 2
    store = open_centre_store(cfg.database_url)
    server = None if args.no_app else _app_server(cfg, store, args.listen)
    ingest = CentreIngest(cfg, store)

    def _on_stop(signum, _frame):
        log.info("%s: stopping the centre", signal.Signals(signum).name)
        ingest.stop()
        if server is not None:
            server.should_exit = True

    signal.signal(signal.SIGINT, _on_stop)
    signal.signal(signal.SIGTERM, _on_stop)
    if server is not None:
        threading.Thread(target=server.run, name="centre-app", daemon=True).start()
    log.info("centre: ingesting from %s into %s", ", ".join(cfg.nats.servers), store.engine.url.render_as_string(hide_password=True))
    ingest.run()  # until SIGINT/SIGTERM
    log.info("centre: %s", dict(ingest.stats))
    return 0


def _app_server(cfg, store, listen: str):
    try:
        from epatrol.centre.app import create_centre_app
    except ImportError:
        log.warning("centre: no web app in this epatrol (epatrol/centre/app.py); running the ingest only")
        return None
    import uvicorn

    from epatrol.common.web import server_options

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"epatrol: --listen must be HOST:PORT, got {listen!r}")
    options = server_options(cfg.web)  # HTTPS with web.tls_cert/tls_key; a bad one is a ConfigError
    app = create_centre_app(cfg, store)
    config = uvicorn.Config(app, host=host, port=int(port), log_level="warning", **options)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # ours stop both the app and the ingest
    return server


def cmd_release_box(args: argparse.Namespace) -> int:
    import asyncio

    from epatrol.common.nats import connect, release_box_id

    cfg = centre_config_or_none(args.config)
    if cfg is None:
        return 2

    async def release() -> bool:
        nc = await connect(cfg.nats.servers, "epatrol-centre-admin", cfg.nats.tls_ca)
        try:
            return await release_box_id(nc.jetstream(), args.box_id)
        finally:
            await nc.close()

    if asyncio.run(release()):
        print(f"box id {args.box_id} released: the next database that connects under it claims it")
    else:
        print(f"box id {args.box_id} was not claimed")
    return 0
