"""The HTTP API and the review page: wires the routers, the error mapping and static files.

Business rules live in epatrol.evidence; the routers only translate HTTP to those calls.
Refusals map to statuses in epatrol.common.http (404, 409, 422, each with a ``detail``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from epatrol import __version__
from epatrol.api import (
    routes_audit,
    routes_auth,
    routes_cameras,
    routes_cases,
    routes_events,
    routes_system,
    routes_users,
)
from epatrol.api.auth import SESSION_COOKIE, ApiContext
from epatrol.common.http import install_problem_handlers, install_web_guard
from epatrol.common.times import local_zone
from epatrol.common.web import docs_urls
from epatrol.config import Config, ConfigError
from epatrol.evidence.export.signing import (
    SigningKeyError,
    export_key_path,
    load_private_key,
)
from epatrol.evidence.store.db import Database

STATIC = Path(__file__).with_name("static")

DESCRIPTION = """\
Officer review of violation events: search events, watch clips (HTTP Range), confirm or
dismiss, group confirmed events into cases, export a case as a verifiable zip.

Sign in with `POST /api/auth/login`; send the returned token as `Authorization: Bearer
<token>`, or rely on the HttpOnly session cookie the same call sets. Roles: viewer (read),
officer (review, cases, export), admin (users, audit log, and all an officer may do).
A change (POST, PUT, PATCH, DELETE) signed in by the cookie must carry this site's own `Origin`
(a browser sends it) or it is refused with 403; API clients send the bearer token instead.
"""

def create_app(cfg: Config, db: Database | None = None, *, health: Any = None, reload: Any = None) -> FastAPI:
    """``health``: the HealthBoard of cameras running in this process, if any; ``reload``: a
    callable asking that patrol to re-read its configuration."""
    db = db or Database(cfg.database_url)
    try:  # every export is signed: by the configured key, else the box's own (made at first start)
        key = load_private_key(export_key_path(cfg.review.signing_key, cfg.storage.root))
    except (SigningKeyError, OSError) as e:
        raise ConfigError(f"review.signing_key: {e}") from None
    ctx = ApiContext(cfg, db, cfg.storage.root, local_zone(cfg.review.timezone), key, health, reload)

    app = FastAPI(title="epatrol", version=__version__, description=DESCRIPTION, **docs_urls(cfg.web))
    app.state.epatrol = ctx
    app.state.login_throttle = routes_auth.new_throttle(cfg.review)  # sign-in lockout (review.login_*)
    for module in (routes_auth, routes_events, routes_cases, routes_cameras, routes_users, routes_audit, routes_system):
        app.include_router(module.router)

    install_problem_handlers(app)
    install_web_guard(app, cfg.web, session_cookie=SESSION_COOKIE)  # security headers, cross-site check, proxies

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Liveness, without sign-in."""
        body: dict[str, Any] = {"status": "ok", "cameras": [c.id for c in cfg.cameras]}
        if health is not None:  # cameras run in this process (`epatrol run --serve`): their state
            body["health"] = [h.as_json() for h in health.snapshot()]
            body["offline"] = [c["camera_id"] for c in body["health"] if not c["online"]]
            # Configuration problems the judges found (e.g. a bin zone with no bin): camera -> messages.
            body["problems"] = {c["camera_id"]: c["problems"] for c in body["health"] if c.get("problems")}
            body["status"] = "degraded" if body["offline"] or body["problems"] else "ok"
        return body

    if health is not None:

        @app.get("/metrics", include_in_schema=False)
        def metrics() -> Response:
            from prometheus_client import CONTENT_TYPE_LATEST

            from epatrol.api.metrics import render_metrics

            return Response(render_metrics(health, cfg.storage.root), media_type=CONTENT_TYPE_LATEST)

    if STATIC.is_dir():  # the review page; mounted last so the API routes win
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="page")
    return app
