"""Transport, cross-site requests and headers (issue 15) on both apps (epatrol.common.http,
epatrol.common.web): the security headers on every response and no-store on /api/; /docs off
by default; a change signed in by the session cookie refused (403) unless it comes from the
site's own Origin, shown in a real browser where a page on another 127.0.0.1 port (the same
site, so the SameSite=Strict cookie goes along) tries to close a case while the review page
itself can; bearer-token clients unaffected; X-Forwarded-For believed from trusted proxies
only; and HTTPS end to end: `epatrol serve` with a self-signed certificate answers /healthz and
sets a Secure cookie, and the centre does the same.
"""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import yaml
from browser import CHROMIUM, TIMEOUT_MS
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient
from servers import free_port, serve_app, wait_listening
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from epatrol.api.app import create_app
from epatrol.api.auth import SESSION_COOKIE as BOX_COOKIE
from epatrol.centre import accounts
from epatrol.centre.app import create_centre_app
from epatrol.centre.auth import SESSION_COOKIE as CENTRE_COOKIE
from epatrol.centre.config import CentreConfig, load_centre_config
from epatrol.common.errors import ConfigError
from epatrol.common.http import PAGE_CSP, forwarded_client
from epatrol.common.times import utcnow
from epatrol.common.web import WebSettings, server_options
from epatrol.config import parse_config
from epatrol.evidence.review import users
from epatrol.migrations import open_centre_store, open_database

PASSWORD = "amber-kite-7 river"  # every user's: long, not a run, not common
BOX_USERS = {"sec-officer": "officer", "sec-admin": "admin"}
CAMERAS = [{"id": "cam-1", "name": "东门", "url": "cam-1.mp4"}]


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A box's configuration and an evidence database with an officer and an admin (no events needed)."""
    root = tmp_path_factory.mktemp("box")
    cfg = parse_config({"storage": {"root": str(root)}, "cameras": CAMERAS})
    db = open_database(cfg.database_url)
    for name, role in BOX_USERS.items():
        users.create_user(db, name, PASSWORD, role)
    yield cfg, db
    db.close()


def box_app(box, **web):
    cfg, db = box
    return create_app(cfg.model_copy(update={"web": cfg.web.model_validate(web)}), db)


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    cfg = CentreConfig(database_url=f"sqlite:///{tmp_path_factory.mktemp('centre') / 'centre.db'}")
    store = open_centre_store(cfg.database_url)
    accounts.create_user(store, "sec-disp", PASSWORD, "dispatcher", departments=cfg.workflow.departments, now=utcnow())
    yield cfg, store
    store.close()


def centre_app(centre, **web):
    cfg, store = centre
    return create_centre_app(cfg.model_copy(update={"web": WebSettings(**web)}), store)


APPS = {"box": (box_app, "sec-officer", BOX_COOKIE), "centre": (centre_app, "sec-disp", CENTRE_COOKIE)}


@pytest.fixture(params=sorted(APPS))
def each_app(request):
    make, username, cookie = APPS[request.param]
    return (lambda **web: make(request.getfixturevalue(request.param), **web)), username, cookie


def _login(client, username: str, **headers) -> httpx.Response:
    return client.post("/api/auth/login", json={"username": username, "password": PASSWORD}, headers=headers)


# -- headers and /docs ---------------------------------------------------------------------


def test_every_response_carries_the_security_headers(each_app) -> None:
    make, username, _ = each_app
    c = TestClient(make())
    directives = {d.strip() for d in PAGE_CSP.split(";")}
    assert {"default-src 'self'", "img-src 'self' data: blob:", "media-src 'self' blob:", "style-src 'self'",
            "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} <= directives
    assert "unsafe-inline" not in PAGE_CSP and "unsafe-eval" not in PAGE_CSP  # the pages need neither
    responses = {
        path: c.get(path) for path in ("/", "/index.html", "/healthz", "/openapi.json", "/api/auth/me", "/no-such-page")
    }
    responses["login"] = _login(c, username)
    responses["refused"] = c.post("/api/auth/logout")  # the cookie without an Origin: the guard's own 403
    assert responses["/"].status_code == 200 and responses["login"].status_code == 200
    assert responses["/api/auth/me"].status_code == 401 and responses["refused"].status_code == 403
    for what, r in responses.items():
        assert r.headers["content-security-policy"] == PAGE_CSP, what
        assert r.headers["x-frame-options"] == "DENY", what
        assert r.headers["x-content-type-options"] == "nosniff", what
        assert r.headers["referrer-policy"] == "no-referrer", what
        is_api = what in ("login", "refused") or what.startswith("/api/")
        assert (r.headers.get("cache-control") == "no-store") == is_api, what


def test_interactive_docs_are_off_unless_asked_for(each_app) -> None:
    make, _, _ = each_app
    plain = TestClient(make())
    assert plain.get("/docs").status_code == 404 and plain.get("/redoc").status_code == 404
    assert plain.get("/openapi.json").json()["paths"]  # the schema stays
    docs = TestClient(make(api_docs=True))
    page = docs.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "https://cdn.jsdelivr.net" in page.headers["content-security-policy"]  # only /docs may load the CDN
    assert docs.get("/redoc").status_code == 200
    assert docs.get("/").headers["content-security-policy"] == PAGE_CSP


# -- the cross-site check ------------------------------------------------------------------


def test_a_cookie_signed_change_needs_the_sites_own_origin(each_app) -> None:
    make, username, cookie = each_app
    app = make()
    c = TestClient(app)
    token = _login(c, username).json()["token"]
    assert c.cookies.get(cookie) == token
    for headers in ({}, {"Origin": "http://127.0.0.1:9"}, {"Origin": "null"}, {"Origin": "https://testserver"},
                    {"Referer": "http://evil.example/page"}):
        r = c.post("/api/auth/logout", headers=headers)
        assert r.status_code == 403 and r.json()["detail"].startswith("cross-site request refused"), (headers, r.text)
    assert c.get("/api/auth/me").status_code == 200  # still signed in: the logout was refused
    # The login itself: refused from another origin, fine without one (API clients, curl).
    assert _login(TestClient(app), username, Origin="http://evil.example").status_code == 403
    # A bearer token is no cookie a browser adds by itself: API clients send no Origin.
    bearer = TestClient(app, headers={"Authorization": f"Bearer {_login(TestClient(app), username).json()['token']}"})
    assert bearer.post("/api/auth/logout").status_code == 204
    # The site's own Origin, or its Referer when there is no Origin, is let through.
    assert c.post("/api/auth/logout", headers={"Referer": "http://testserver/index.html"}).status_code == 204
    again = TestClient(app)
    _login(again, username)
    assert again.post("/api/auth/logout", headers={"Origin": "http://testserver"}).status_code == 204
    # A configured public origin (the name a reverse proxy serves) counts as the site's own.
    behind = TestClient(make(public_origin="https://patrol.example"))
    _login(behind, username)
    assert behind.post("/api/auth/logout", headers={"Origin": "https://patrol.example"}).status_code == 204


def test_box_bearer_change_without_origin_works(box) -> None:
    c = TestClient(box_app(box))
    token = _login(c, "sec-officer").json()["token"]
    c.cookies.clear()
    made = c.post("/api/cases", json={"title": "bearer client"}, headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    closed = c.post(f"/api/cases/{made.json()['id']}/close", headers={"Authorization": f"Bearer {token}"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


HOSTILE = """<!doctype html><title>free bikes</title>
<form id="attack" method="post" action="{target}"><button id="go" type="submit">win a bike</button></form>
<script>
window.attack = () => fetch("{target}", {{method: "POST", credentials: "include", mode: "no-cors"}})
  .then(() => "sent", (e) => String(e));
</script>"""


@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing")
def test_another_origin_cannot_close_a_case_in_a_real_browser(box, browser) -> None:
    from playwright.sync_api import expect

    admin = httpx.Client(timeout=30)
    with serve_app(box_app(box)) as site:
        token = admin.post(f"{site}/api/auth/login", json={"username": "sec-admin", "password": PASSWORD}).json()["token"]
        admin.headers["Authorization"] = f"Bearer {token}"
        ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
        ctx.set_default_timeout(TIMEOUT_MS)
        page = ctx.new_page()
        js_errors: list[str] = []
        csp: list[str] = []
        page.on("pageerror", lambda e: js_errors.append(str(e)))
        page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
        try:
            page.goto(site)
            page.fill("#login-username", "sec-officer")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            expect(page.locator("#who")).to_contain_text("sec-officer")
            title = f"cross-site test {time.time_ns()}"
            page.fill("#case-title", title)
            page.click("#case-create-button")
            expect(page.locator("#case-heading")).to_contain_text(title)
            case = next(c for c in admin.get(f"{site}/api/cases").json()["items"] if c["title"] == title)
            target = f"{site}/api/cases/{case['id']}/close"

            hostile_app = Starlette(routes=[Route("/", lambda _r: HTMLResponse(HOSTILE.format(target=target)))])
            with serve_app(hostile_app) as evil:
                assert evil != site and evil.rsplit(":", 1)[0] == site.rsplit(":", 1)[0]  # same host, another port
                other = ctx.new_page()  # the same browser profile: the officer's cookie is there
                other.goto(evil)
                with other.expect_response(lambda r: r.url == target) as form_post:
                    other.click("#go")  # a plain form POST, no body: the navigation lands on the refusal
                refused = form_post.value
                assert refused.status == 403
                assert "cross-site request refused" in refused.text()
                # The cookie did go along (same site): it is the Origin check that refused it.
                assert f"{BOX_COOKIE}=" in (refused.request.header_value("cookie") or "")
                assert refused.request.header_value("origin") == evil
                other.goto(evil)
                with other.expect_response(lambda r: r.url == target) as fetched:
                    assert other.evaluate("attack()") == "sent"
                assert fetched.value.status == 403
            assert admin.get(f"{site}/api/cases/{case['id']}").json()["status"] == "open"

            # The review page itself closes it (its fetch carries its own Origin).
            page.click("#close-case-button")
            page.fill("#close-note", "closed by the page")
            page.click('#close-form button[type="submit"]')
            expect(page.locator("#case-status")).to_have_text("已结案 closed")
            stored = admin.get(f"{site}/api/cases/{case['id']}").json()
            assert stored["status"] == "closed" and stored["closed_by"] == "sec-officer"
            assert js_errors == [] and csp == []  # the page works under its Content-Security-Policy
        finally:
            ctx.close()
            admin.close()


# -- forwarded addresses -------------------------------------------------------------------


def test_forwarded_for_is_believed_from_trusted_proxies_only() -> None:
    nets = WebSettings(trusted_proxies=["10.0.0.0/8", "192.0.2.1"]).proxy_networks()
    assert forwarded_client("198.51.100.7", ["203.0.113.9"], ()) == "198.51.100.7"
    assert forwarded_client("198.51.100.7", ["203.0.113.9"], nets) == "198.51.100.7"  # the peer is no proxy of ours
    assert forwarded_client("192.0.2.1", ["203.0.113.9"], nets) == "203.0.113.9"
    # The client may send its own header; each trusted proxy appends who it saw: the rightmost untrusted wins.
    assert forwarded_client("192.0.2.1", ["6.6.6.6, 203.0.113.9, 10.1.2.3"], nets) == "203.0.113.9"
    assert forwarded_client("192.0.2.1", ["6.6.6.6", "203.0.113.9"], nets) == "203.0.113.9"
    assert forwarded_client("192.0.2.1", ["not-an-address"], nets) == "192.0.2.1"
    with pytest.raises(ValueError, match="not an IP address or network"):
        WebSettings(trusted_proxies=["proxy.example"])


def _last_login_client(admin: TestClient) -> str:
    return admin.get("/api/audit", params={"action": "login", "username": "sec-officer", "limit": 1}).json()["items"][0]["client"]


def test_box_logs_the_forwarded_client_only_behind_a_trusted_proxy(box) -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    for trusted, logged, secure in (([], "198.51.100.7", False), (["198.51.100.0/24"], "203.0.113.9", True)):
        app = box_app(box, trusted_proxies=trusted)
        admin = TestClient(app)
        admin.headers["Authorization"] = f"Bearer {_login(admin, 'sec-admin').json()['token']}"
        r = _login(TestClient(app, client=("198.51.100.7", 40000)), "sec-officer", **forged)
        assert r.status_code == 200
        assert _last_login_client(admin) == logged, trusted
        assert ("Secure" in r.headers["set-cookie"]) is secure, trusted  # X-Forwarded-Proto likewise


def test_centre_cookie_is_secure_behind_a_trusted_tls_proxy(centre) -> None:
    forged = {"X-Forwarded-Proto": "https"}
    plain = _login(TestClient(centre_app(centre), client=("10.0.0.2", 40000)), "sec-disp", **forged)
    assert "Secure" not in plain.headers["set-cookie"]
    proxied = TestClient(centre_app(centre, trusted_proxies=["10.0.0.2"]), client=("10.0.0.2", 40000))
    r = _login(proxied, "sec-disp", Origin="https://testserver", **forged)  # the browser saw https
    assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]


# -- TLS -----------------------------------------------------------------------------------


def self_signed(folder: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _epatrol(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "epatrol", *args], check=False, input=stdin, capture_output=True, text=True, timeout=120)


def test_serve_over_https_end_to_end(tmp_path: Path) -> None:
    self_signed(tmp_path)
    config = tmp_path / "epatrol.yaml"  # the certificate's paths are relative to the file
    config.write_text(yaml.safe_dump({"storage": {"root": str(tmp_path / "data")}, "cameras": CAMERAS,
                                      "web": {"tls_cert": "server.crt", "tls_key": "server.key"}}))
    for name, role in BOX_USERS.items():
        add = _epatrol("user", "add", "-c", str(config), name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        assert add.returncode == 0, add.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "epatrol", "serve", "-c", str(config), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(tmp_path / "server.crt"))
    try:
        wait_listening(proc, port, 60, "epatrol serve", lambda: proc.stdout.read() if proc.poll() is not None else "", every_s=0.2)
        with httpx.Client(base_url=base, verify=trust, timeout=30) as c:
            health = c.get("/healthz")
            assert health.status_code == 200 and health.json()["cameras"] == ["cam-1"]
            assert health.headers["x-frame-options"] == "DENY"
            # A forged X-Forwarded-For from this (untrusted) peer is not what gets logged: uvicorn's own
            # proxy-header handling, which trusts 127.0.0.1, is off.
            login = c.post("/api/auth/login", json={"username": "sec-officer", "password": PASSWORD},
                           headers={"X-Forwarded-For": "203.0.113.9", "Origin": base})
            assert login.status_code == 200
            cookie = login.headers["set-cookie"]
            assert cookie.startswith(f"{BOX_COOKIE}=") and "Secure" in cookie and "HttpOnly" in cookie
            assert c.get("/api/auth/me").json()["username"] == "sec-officer"  # the cookie goes back over HTTPS
            assert c.post("/api/auth/logout", headers={"Origin": base}).status_code == 204
            token = c.post("/api/auth/login", json={"username": "sec-admin", "password": PASSWORD}).json()["token"]
            c.cookies.clear()
            entries = c.get("/api/audit", params={"action": "login", "username": "sec-officer"},
                            headers={"Authorization": f"Bearer {token}"}).json()["items"]
            assert [e["client"] for e in entries] == ["127.0.0.1"]
        with pytest.raises(httpx.HTTPError):  # plain HTTP on the HTTPS port gets no answer
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_centre_over_https_sets_a_secure_cookie(centre, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    cfg_file = tmp_path / "centre.yaml"
    cfg_file.write_text(yaml.safe_dump({"database_url": centre[0].database_url,
                                        "web": {"tls_cert": cert.name, "tls_key": key.name}}))
    cfg = load_centre_config(cfg_file)
    assert cfg.web.tls_cert == cert and cfg.web.tls_key == key  # relative to the file
    options = server_options(cfg.web)
    assert options == {"proxy_headers": False, "ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    with serve_app(create_centre_app(cfg, centre[1]), **options) as site:
        assert site.startswith("https://")
        with httpx.Client(base_url=site, verify=ssl.create_default_context(cafile=str(cert)), timeout=30) as c:
            assert c.get("/healthz").json() == {"status": "ok"}
            login = c.post("/api/auth/login", json={"username": "sec-disp", "password": PASSWORD}, headers={"Origin": site})
            assert login.status_code == 200
            assert login.headers["set-cookie"].startswith(f"{CENTRE_COOKIE}=") and "Secure" in login.headers["set-cookie"]
            assert c.post("/api/auth/logout").status_code == 403  # the cookie alone, no Origin
            assert c.post("/api/auth/logout", headers={"Origin": site}).status_code == 204


def test_bad_tls_settings_name_the_field(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    other_cert, other_key = self_signed(tmp_path, "other")
    assert server_options(WebSettings()) == {"proxy_headers": False}
    cases = {
        "web.tls_cert": WebSettings(tls_cert=tmp_path / "missing.crt", tls_key=key),
        "web.tls_key": WebSettings(tls_cert=cert, tls_key=tmp_path / "missing.key"),
    }
    (tmp_path / "junk.crt").write_text("not a certificate")
    cases["web.tls_cert: "] = WebSettings(tls_cert=tmp_path / "junk.crt", tls_key=key)
    cases["web.tls_key: "] = WebSettings(tls_cert=cert, tls_key=other_key)  # another certificate's key
    for field, web in cases.items():
        with pytest.raises(ConfigError, match=field):
            server_options(web)
    with pytest.raises(ConfigError, match="tls_cert and tls_key go together"):
        parse_config({"cameras": CAMERAS, "web": {"tls_cert": "server.crt"}})
    assert other_cert.is_file()


def test_serve_run_and_centre_refuse_a_missing_certificate(tmp_path: Path) -> None:
    config = tmp_path / "epatrol.yaml"
    config.write_text(yaml.safe_dump({"storage": {"root": str(tmp_path / "data")}, "cameras": CAMERAS,
                                      "web": {"tls_cert": "nope.crt", "tls_key": "nope.key"}}))
    served = _epatrol("serve", "-c", str(config), "--port", str(free_port()))
    assert served.returncode == 2 and "web.tls_cert" in served.stderr and "nope.crt" in served.stderr, served.stderr
    patrol = _epatrol("run", "-c", str(config), "--serve", f"127.0.0.1:{free_port()}")  # before any camera or model
    assert patrol.returncode == 2 and "web.tls_cert" in patrol.stderr, patrol.stderr
    centre_yaml = tmp_path / "centre.yaml"
    centre_yaml.write_text(yaml.safe_dump({"database_url": f"sqlite:///{tmp_path / 'centre.db'}",
                                           "web": {"tls_cert": "nope.crt", "tls_key": "nope.key"}}))
    centre = _epatrol("centre", "-c", str(centre_yaml), "--listen", f"127.0.0.1:{free_port()}")
    assert centre.returncode == 2 and "web.tls_cert" in centre.stderr, centre.stderr
