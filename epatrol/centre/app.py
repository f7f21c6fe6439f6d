"""The centre's HTTP API and page: cases for each role, statistics, users and the audit trail.

``create_centre_app(cfg)`` is what `epatrol centre` serves. While the app runs (uvicorn's
lifespan), a ticker thread runs the workflow's ``tick`` every ``workflow.tick_every_s``: new
cases from confirmed events, reminders, escalation, re-inspection answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from epatrol import __version__
from epatrol.centre import (
    routes_admin,
    routes_auth,
    routes_cases,
    routes_stats,
    workflow,
)
from epatrol.centre.auth import SESSION_COOKIE, CentreContext
from epatrol.centre.config import CentreConfig
from epatrol.centre.store import CentreStore
from epatrol.common.http import install_problem_handlers, install_web_guard
from epatrol.common.times import local_zone, utcnow
from epatrol.common.web import docs_urls

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")

DESCRIPTION = """\
The command centre: cases from every box's confirmed events, dispatched (派遣) to departments,
handled (处置), re-inspected by the camera (核查) and closed (结案) or reopened (回头看);
statistics for assessment (考核). Roles: dispatcher, handler (one department), street_chief
(one street), admin (users, audit trail). Sign in with `POST /api/auth/login`; send the token as
`Authorization: Bearer <token>`, or rely on the session cookie, in which case a change must carry
this site's own `Origin` (a browser sends it) or it is refused with 403.
"""


class Ticker:
    """Runs ``workflow.tick`` every ``every_s`` on its own thread until stopped."""

    def __init__(self, ctx: CentreContext, every_s: float) -> None:
        self.ctx, self.every_s = ctx, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> workflow.TickReport:
        with self.ctx.store.write() as s:
            report = workflow.tick(s, self.ctx.workflow, self.ctx.clock())
        if report:
            log.info("centre tick: %s", report)
        return report

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except Exception:  # a bad tick must not end the ticking; the next one tries again
                log.exception("centre tick failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="centre-tick", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def create_centre_app(cfg: CentreConfig, store: CentreStore | None = None, *,
                      clock: Callable[[], datetime] = utcnow, session_ttl_s: float = 8 * 3600) -> FastAPI:
    """``store``: an open CentreStore (default: one on ``cfg.database_url``); ``clock``: aware UTC now."""
    store = store or CentreStore(cfg.database_url)
    wf = cfg.workflow
    ctx = CentreContext(store, wf, local_zone(wf.timezone), clock, session_ttl_s)
    ticker = Ticker(ctx, wf.tick_every_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ticker.start()
        try:
            yield
        finally:
            ticker.stop()

    app = FastAPI(title="epatrol centre", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  **docs_urls(cfg.web))
    app.state.centre = ctx
    app.state.ticker = ticker
    app.state.evidence_dir = cfg.evidence_dir  # the ingest's copy of verified files, served to the page
    app.state.login_throttle = routes_auth.new_throttle(cfg.auth, clock)  # sign-in lockout (centre.yaml auth:)
    for module in (routes_auth, routes_cases, routes_stats, routes_admin):
        app.include_router(module.router)

    install_problem_handlers(app)
    install_web_guard(app, cfg.web, session_cookie=SESSION_COOKIE)  # security headers, cross-site check, proxies

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    if STATIC.is_dir():  # the centre's page; mounted last so the API routes win
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="page")
    return app
