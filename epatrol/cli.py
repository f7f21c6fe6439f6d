"""The `epatrol` command: run, demo, events, verify, serve, config check|schema, user add, verify-export, export-key, models."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from epatrol.common.stacks import dump_stacks_on
from epatrol.config import Config, ConfigError, json_schema, load_config
from epatrol.logs import setup_logging

log = logging.getLogger("epatrol")


def _open_db(cfg: Config):
    from epatrol.migrations import open_database

    return open_database(cfg.database_url)


def cmd_run(cfg: Config, args: argparse.Namespace) -> int:
    from epatrol.common.web import server_options
    from epatrol.evidence.recording.lock import StorageBusy, lock_storage
    from epatrol.evidence.recording.recovery import recover
    from epatrol.evidence.recording.retention import apply_retention
    from epatrol.health import HealthBoard
    from epatrol.judges import required_models
    from epatrol.models.detector import load_detectors
    from epatrol.supervisor import Supervisor
    from epatrol.uplink.service import start_uplink

    serve_options = server_options(cfg.web) if args.serve else {}  # a bad certificate stops us before any camera starts
    # Every model the cameras need, checked and loaded before any camera starts.
    detectors = load_detectors(required_models(cfg), cfg.models)
    for d in detectors.values():
        log.info("detector %s (%s) on %s", d.name, d.sha256[:12], d.runs_on)
    try:
        lock = lock_storage(cfg.storage.root)  # held until the process exits
    except StorageBusy as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    db = _open_db(cfg)
    recover(db, cfg.storage.root)
    health = HealthBoard()
    sup = Supervisor(cfg, detectors, db, health=health)
    uplink = start_uplink(cfg, db, sup)  # None without an `uplink` section
    reload_requested = threading.Event()

    def _on_stop(signum, _frame):
        log.info("%s: closing open clips and stopping", signal.Signals(signum).name)
        sup.stop_all.set()

    def _on_hup(_signum, _frame):
        reload_requested.set()

    next_retention = 0.0

    next_status = 0.0

    def _tick() -> None:
        nonlocal next_retention, next_status
        if time.monotonic() >= next_status:
            next_status = time.monotonic() + STATUS_EVERY_S
            _save_status(db, health)
        if time.monotonic() >= next_retention:
            next_retention = time.monotonic() + sup.cfg.retention.check_every_s
            try:
                apply_retention(db, cfg.storage.root, sup.cfg.retention)
            except Exception:  # retention trouble must not stop the patrol
                log.exception("retention failed")
        _reload_if_asked()

    def _reload_if_asked() -> None:
        if not reload_requested.is_set():
            return
        reload_requested.clear()
        try:
            sup.reload(load_config(args.config))
        except ConfigError as e:  # a bad edit must not take the running cameras down
            log.error("reload refused, keeping the running configuration: %s", e)

    signal.signal(signal.SIGINT, _on_stop)
    signal.signal(signal.SIGTERM, _on_stop)
    signal.signal(signal.SIGHUP, _on_hup)
    if args.serve:
        _serve_in_background(cfg, db, health, args.serve, serve_options, reload=reload_requested.set, workers=sup)
    sup.start()
    sup.wait(tick=_tick)
    if uplink is not None:
        uplink.stop()
    _save_status(db, health)
    lock.close()
    for w in sup.finished_workers:
        log.info(
            "camera %s: %d packets, %d samples, %d events; per call: %s",
            w.camera.id, w.stats.packets, w.stats.samples, w.stats.events, w.stats.times.summary(),
        )
    if args.stats:
        Path(args.stats).write_text(json.dumps(_stats_json(sup.finished_workers), indent=2))
    return 0


STATUS_EVERY_S = 5.0


def _save_status(db, health) -> None:
    try:
        db.save_camera_status([h.as_json() for h in health.snapshot()])
    except Exception:  # a full disk must not stop the patrol; the next tick tries again
        log.exception("camera status not saved")


def _serve_in_background(cfg: Config, db, health, address: str, options: dict, reload, workers=None) -> None:
    """``options``: uvicorn's TLS and proxy settings from the `web:` section (common.web.server_options)."""
    import uvicorn

    from epatrol.api.app import create_app

    host, _, port = address.rpartition(":")
    app = create_app(cfg, db, health=health, reload=reload)
    app.state.workers = workers  # the running cameras: GET /api/cameras/{id}/live reads their newest frame
    server = uvicorn.Server(uvicorn.Config(app, host=host or "127.0.0.1", port=int(port), log_level="warning", **options))
    server.install_signal_handlers = lambda: None  # the patrol owns SIGINT/SIGTERM/SIGHUP
    threading.Thread(target=server.run, name="api", daemon=True).start()


def _stats_json(workers) -> dict:
    return {
        w.camera.id: {
            "packets": w.stats.packets,
            "samples": w.stats.samples,
            "events": w.stats.events,
            "reconnects": w.feed.reconnects,
            "per_call": {
                k: {m: round(x, 3) for m, x in v.items()} for k, v in w.stats.times.per_call_ms().items()
            },
        }
        for w in workers
    }


def cmd_events(cfg: Config, args: argparse.Namespace) -> int:
    db = _open_db(cfg)
    from epatrol.evidence.store.records import event_record

    events = db.list_events(camera_id=args.camera, violation=args.violation, limit=args.limit)
    for ev in events:
        record = event_record(ev, cfg.storage.root)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(
                f"#{record['id']} {record['alerted_at']} {record['camera']} {record['zone']} "
                f"{record['violation']} clip={record['clip'] or '-'}"
            )
    return 0


def cmd_verify(cfg: Config, args: argparse.Namespace) -> int:
    from epatrol.evidence.export.verify import partial_clips, verify_files

    db = _open_db(cfg)
    problems = verify_files(db, cfg.storage.root)
    for p in problems:
        print(f"{p.reason.upper()}: {p.path} (event {p.event_id}, {p.kind})")
    total = len(db.all_files())
    print(f"{total - len(problems)} of {total} evidence files intact")
    if partial := partial_clips(db):  # hashed above like any file; short because a crash or power cut cut them off
        print(f"{len(partial)} partial clip(s), recorded up to a crash or power cut: event(s) {', '.join(map(str, partial))}")
    from epatrol.cli_review import report_ledger

    ledger_problems = report_ledger(db)  # edited, deleted or reordered records
    return 1 if problems or ledger_problems else 0


def cmd_retention(cfg: Config, args: argparse.Namespace) -> int:
    from epatrol.evidence.recording.retention import apply_retention

    report = apply_retention(_open_db(cfg), cfg.storage.root, cfg.retention)
    print(
        f"purged {len(report.purged_events)} event(s) {report.purged_events or ''}, "
        f"{report.freed_bytes / 2**20:.1f} MB freed, {report.free_bytes_after / 2**20:.0f} MB free; "
        f"{report.held_skipped} held event(s) kept"
    )
    return 0


def cmd_serve(cfg: Config, args: argparse.Namespace) -> int:
    import uvicorn

    from epatrol.api.app import create_app
    from epatrol.common.web import server_options
    from epatrol.migrations import open_database

    options = server_options(cfg.web)  # HTTPS with web.tls_cert/tls_key; a bad one is a ConfigError
    uvicorn.run(create_app(cfg, open_database(cfg.database_url)), host=args.host, port=args.port, log_level="info", **options)
    return 0


def cmd_config_check(cfg: Config, file: Path) -> int:
    """The file parsed; its custom violations are checked against their models' classes too."""
    from epatrol.judges import check_custom
    from epatrol.models.manifest import resolve_models_dir

    # Only custom rules need the models (their classes); a file without them checks anywhere.
    if cfg.violations.custom and (problems := check_custom(cfg, resolve_models_dir(cfg.models.dir))):
        print(f"epatrol: {file}: {len(problems)} problem(s)", *(f"  {p}" for p in problems), sep="\n", file=sys.stderr)
        return 2
    print(f"{file}: OK ({len(cfg.cameras)} camera(s), {len(cfg.violations.custom)} custom violation(s))")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from epatrol.demo import create_demo_officer, demo_config, port_taken, run_demo

    serve = args.serve if args.serve is not None else sys.stdin.isatty() and sys.stdout.isatty()
    if serve and (problem := port_taken("127.0.0.1", args.port)):
        print(f"epatrol demo: {problem}", file=sys.stderr)
        return 2
    code = run_demo(shared=args.shared, storage=args.storage, footage=args.footage, log_level=args.log_level)
    if code or not serve:
        return code
    cfg = load_config(demo_config(args.storage))
    username, password = create_demo_officer(cfg)
    print(f"\nreview page: http://127.0.0.1:{args.port}/  sign in as {username} with password {password}  (Ctrl-C stops)", flush=True)
    return cmd_serve(cfg, argparse.Namespace(host="127.0.0.1", port=args.port))


def cmd_fit_fire(args: argparse.Namespace) -> int:
    from epatrol.training.fire_fit import (
        run as fit_fire,  # offline code: imported only here
    )

    models = args.shared / "models"
    try:
        fit_fire(args.shared, args.out, args.report, models if models.is_dir() else None, args.cache, args.limit,
                 log=lambda s: print(s, file=sys.stderr))
    except (FileNotFoundError, ValueError) as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="epatrol", description="Electronic patrol: cameras -> violations -> evidence.")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"], help="json: one object per line")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-c", "--config", required=True, type=Path, help="YAML configuration file")
        return p

    run = with_config(sub.add_parser("run", help="run every camera until its source ends or SIGINT/SIGTERM"))
    run.add_argument("--stats", help="write per-camera counts and CPU cost per stage to this JSON file")
    run.add_argument("--serve", metavar="HOST:PORT", help="also serve the API and review page from this process")
    demo = sub.add_parser("demo", help="build the sample footage and run the sample configuration on it")
    demo.add_argument("--shared", type=Path, default=None, help="the shared folder with media/, datasets/ and models/ (default: shared/ beside the checkout)")
    demo.add_argument("--storage", type=Path, default=Path("data/demo"), help="where the demo's evidence goes")
    demo.add_argument("--footage", type=Path, default=None, help="where the demo's footage is built and kept (default: sample_videos/)")
    demo.add_argument("--serve", action=argparse.BooleanOptionalAction, default=None,
                      help="then serve the review page on 127.0.0.1 with a demo officer, until Ctrl-C (default: when run from a terminal)")
    demo.add_argument("--port", type=int, default=8000, help="the review page's port with --serve (default 8000)")
    events = with_config(sub.add_parser("events", help="list recorded events"))
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--camera")
    events.add_argument("--violation")
    events.add_argument("--limit", type=int, default=1000)
    with_config(sub.add_parser("retention", help="apply the retention policy once (the service does it every check_every_s)"))
    with_config(sub.add_parser("verify", help="re-hash every clip and snapshot and walk the hash chain; exit 1 naming each problem"))
    serve = with_config(sub.add_parser("serve", help="serve the HTTP API and the review page"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    config = sub.add_parser("config", help="check a configuration file or print its JSON Schema")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a configuration file")
    check.add_argument("file", type=Path)
    config_sub.add_parser("schema", help="print the configuration's JSON Schema")
    from epatrol import (
        cli_bench,
        cli_centre,
        cli_centre_users,
        cli_eval,
        cli_models,
        cli_review,
        cli_train,
    )

    cli_review.add_parsers(sub, with_config)  # user add, verify-export
    cli_eval.add_parsers(sub)  # eval
    cli_train.add_parsers(sub)  # train-bins (no config)
    cli_models.add_parsers(sub)  # models bench|derive (no config)
    fit_fire = sub.add_parser("fit-fire", help="fit the open-burning decision on the real scenes of the shared folder; writes it and a report")
    fit_fire.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared folder (datasets/fire-smoke-cctv, media/, models/)")
    fit_fire.add_argument("--out", type=Path, default=Path("epatrol/detectors/fire/data/fire_decision.json"), help="where the decision goes")
    fit_fire.add_argument("--report", type=Path, default=None, help="folder for open_burning.md and its PNGs (e.g. docs/reports)")
    fit_fire.add_argument("--cache", type=Path, default=Path("build/fire_fit/boxes.json"), help="the model's boxes per frame, kept between refits")
    fit_fire.add_argument("--limit", type=int, default=None, help="use about this many scenes (a quick trial run)")
    fit_fire.set_defaults(standalone=cmd_fit_fire)
    cli_centre.add_parsers(sub)  # centre (its own centre.yaml)
    cli_centre_users.add_parsers(sub)  # centre-user
    cli_bench.add_parsers(sub)  # bench (from a source checkout)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    dump_stacks_on(signal.SIGUSR1)  # `kill -USR1 <pid>`: where every thread is, on stderr
    from epatrol.evidence.store.db import SchemaMismatch
    from epatrol.models.manifest import ModelError

    try:
        if args.command == "config":
            if args.config_command == "schema":
                print(json_schema())
                return 0
            cfg = load_config(args.file)
            return cmd_config_check(cfg, args.file)
        if args.command == "demo":
            return cmd_demo(args)
        if getattr(args, "standalone", None) is not None:  # commands without -c: eval, train-bins
            return args.standalone(args)
        from epatrol import cli_review

        if args.command == "verify-export":
            return cli_review.cmd_verify_export(args)
        cfg = load_config(args.config)
        handler = {
            "run": cmd_run, "events": cmd_events, "verify": cmd_verify, "serve": cmd_serve, "retention": cmd_retention, "user": cli_review.cmd_user,
            "export-key": cli_review.cmd_export_key,
        }[args.command]
        return handler(cfg, args)
    except (ConfigError, ModelError, SchemaMismatch) as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C where no handler of ours runs (demo, bench, start-up): no traceback
        print(f"\nepatrol {args.command}: stopped by Ctrl-C", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
