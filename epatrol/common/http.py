"""HTTP pieces the box's API and the centre's API share: problem responses, query helpers, and
the web guard (security headers, the cross-site check, forwarded addresses).

Refusals map to statuses here: NotFound 404, Conflict 409, Invalid 422, anything else an
EvidenceError 400, each with a ``detail`` message; request validation errors also carry a
one-line ``detail`` and the list of ``errors``.

``install_web_guard`` (both apps) adds to every response a Content-Security-Policy allowing only
the site's own scripts, styles and media (plus data:/blob: images and blob: media),
X-Frame-Options DENY, X-Content-Type-Options nosniff and Referrer-Policy no-referrer, and
``Cache-Control: no-store`` to every /api/ response (clips, snapshots, evidence, exports). It
refuses (403 "cross-site request refused") a change (any method but GET, HEAD, OPTIONS) not
made with an ``Authorization: Bearer`` header whose Origin (or, without one, Referer) is not
this site's own scheme://host:port, and one carrying the session cookie with neither header:
the cookie is SameSite=Strict, but another port of the same host is the same site. A request
from a peer in ``trusted_proxies`` has its X-Forwarded-Proto believed (the scheme, so cookies
are Secure behind a TLS proxy) and ``client_of`` its X-Forwarded-For.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from epatrol.common.errors import Conflict, EvidenceError, Invalid, NotFound
from epatrol.common.web import Network, WebSettings, origin_of

STATUS = {NotFound: 404, Conflict: 409, Invalid: 422}
MAX_ID = 2**31 - 1  # ids beyond this cannot exist; bounding them keeps SQLite from overflowing


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def validation_detail(errors: list[dict[str, Any]]) -> str:
    """The first five validation errors in one line, e.g. ``body.reason: Field required``."""
    parts = []
    for e in errors[:5]:
        if e.get("type") == "json_invalid":
            parts.append(f"the body is not valid JSON ({e.get('ctx', {}).get('error', 'decode error')})")
            continue
        where = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_problem_handlers(app: FastAPI) -> None:
    """Refusals and request validation errors answer as problems (see the module's docstring)."""

    @app.exception_handler(EvidenceError)
    async def _refused(_request: Request, exc: EvidenceError) -> JSONResponse:
        return problem(next((s for t, s in STATUS.items() if isinstance(exc, t)), 400), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: e[k] for k in ("type", "loc", "msg") if k in e} for e in exc.errors()]
        return problem(422, validation_detail(list(exc.errors())), errors=jsonable_encoder(errors))

    _document_validation_problems(app)


# What a 422 body is here (install_problem_handlers), in place of FastAPI's default schema, whose
# `detail` is the error list: clients and schema checks read the published schema.
VALIDATION_PROBLEM = {
    "title": "ValidationProblem",
    "type": "object",
    "required": ["detail"],  # `errors` only for request validation; an Invalid refusal is a detail alone
    "properties": {
        "detail": {"type": "string", "description": "The first errors in one line, e.g. `body.reason: Field required`."},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "type": {"type": "string"}, "loc": {"type": "array", "items": {}}, "msg": {"type": "string"}}}},
    },
}


def _document_validation_problems(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            if "HTTPValidationError" in schema.get("components", {}).get("schemas", {}):
                schema["components"]["schemas"]["HTTPValidationError"] = VALIDATION_PROBLEM
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _trusted(address: str | None, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def forwarded_client(peer: str | None, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str | None:
    """The client behind trusted proxies: walking X-Forwarded-For from the right, the first
    address not itself a trusted proxy; the peer when the peer is not trusted (a forged header
    from anyone else says nothing)."""
    client = peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(client, proxies):
            break
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:  # garbage from beyond the trusted proxies: stop at the last sure address
            break
    return client


def client_of(request: Request) -> str | None:
    """The address to log for a request: the socket's peer, or what a trusted proxy forwarded."""
    peer = request.client.host if request.client else None
    proxies = getattr(request.app.state, "trusted_proxies", ())
    return forwarded_client(peer, request.headers.getlist("x-forwarded-for"), proxies) if proxies else peer


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED = "cross-site request refused"
_POLICY = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
PAGE_CSP = f"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; {_POLICY}"
# Only with api_docs: FastAPI's /docs and /redoc load Swagger UI / ReDoc (scripts, styles, fonts) from CDNs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    f"worker-src 'self' blob:; {_POLICY}"
)
DOCS_PATHS = ("/docs", "/redoc")


def _bearer(authorization: str | None) -> bool:
    """The request is signed in by an Authorization header (as FastAPI's HTTPBearer reads it), not the cookie."""
    scheme, _, credentials = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


class WebGuard:
    """ASGI middleware: the security headers and the cross-site check (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, session_cookie: str, proxies: tuple[Network, ...] = (),
                 public_origin: str | None = None, api_docs: bool = False) -> None:
        self.app, self.session_cookie, self.proxies, self.api_docs = app, session_cookie, proxies, api_docs
        self.public_origin = origin_of(public_origin) if public_origin else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else None
        if self.proxies and _trusted(peer, self.proxies):
            proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                scope = {**scope, "scheme": proto}
        send = self._with_headers(send, scope["path"])
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            await JSONResponse({"detail": refusal}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope, headers: Headers) -> str | None:
        """Why this request is refused as cross-site, or None."""
        if scope["method"] in SAFE_METHODS or _bearer(headers.get("authorization")):
            return None
        source = headers.get("origin") or headers.get("referer")
        if source is None:
            if cookie_parser(headers.get("cookie", "")).get(self.session_cookie):
                return f"{REFUSED}: a change signed in by the session cookie must come with an Origin or Referer header"
            return None  # not signed in by the cookie: the route's own sign-in check answers
        own = {self.public_origin}
        host = headers.get("host")
        if host:
            own.add(origin_of(f"{scope['scheme']}://{host}"))
        if origin_of(source) in own - {None}:
            return None
        return f"{REFUSED}: {source[:200]} is not this site"

    def _with_headers(self, send: Send, path: str) -> Send:
        docs = self.api_docs and path.startswith(DOCS_PATHS)
        ours = [
            (b"content-security-policy", (DOCS_CSP if docs else PAGE_CSP).encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if path.startswith("/api/"):
            ours += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
        names = {name for name, _ in ours}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + ours}
            await send(message)

        return send_with_headers


def install_web_guard(app: FastAPI, web: WebSettings, *, session_cookie: str) -> None:
    """The security headers, the cross-site check and trusted proxies (module docstring) on ``app``."""
    app.state.trusted_proxies = web.proxy_networks()
    app.add_middleware(WebGuard, session_cookie=session_cookie, proxies=app.state.trusted_proxies,
                       public_origin=web.public_origin, api_docs=web.api_docs)


def utc(value: datetime | None, what: str) -> datetime | None:
    """An aware query time in UTC, or 422 for one that cannot be (year 1 minus an offset)."""
    if value is None:
        return None
    try:
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise HTTPException(422, f"{what} is out of range") from None
