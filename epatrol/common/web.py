"""The web servers' settings, shared by the box (`web:` in config.yaml, epatrol/config/web.py) and
the centre (`web:` in centre.yaml): HTTPS certificate and key, the reverse proxies whose
X-Forwarded-* headers are believed, the page's public origin and the interactive API docs; and
the uvicorn options they make (``server_options``), checked before a server starts.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from epatrol.common.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebSettings(BaseModel):
    """How the API and page are served (`epatrol serve`, `epatrol run --serve`, `epatrol centre`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tls_cert: Path | None = Field(None, description="Certificate chain (PEM) to serve HTTPS with; relative to the config file. Needs tls_key.")
    tls_key: Path | None = Field(None, description="Private key (PEM) of tls_cert, unencrypted; relative to the config file.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are "
                    "believed. Empty (the default): the socket's peer is the client and those headers are ignored.",
    )
    public_origin: str | None = Field(
        None, description="scheme://host[:port] people open the page at (e.g. https://epatrol.example), also accepted "
                          "as the Origin of a signed-in change besides the request's own Host.",
    )
    api_docs: bool = Field(False, description="Serve the interactive API docs at /docs and /redoc; they load scripts from a "
                                              "public CDN, so they are off by default. /openapi.json is always served.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for v in values:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise ValueError(f"{v!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return values

    @field_validator("public_origin")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None and origin_of(value) is None:
            raise ValueError(f"{value!r} is not an origin such as https://epatrol.example or http://10.0.0.5:8000")
        return value

    @model_validator(mode="after")
    def _pair(self) -> WebSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    def proxy_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(v, strict=False) for v in self.trusted_proxies)

    def relative_to(self, rel: Callable[[Path | None], Path | None]) -> WebSettings:
        """The same settings with the certificate and key resolved by ``rel`` (yaml_file.relative_to)."""
        return self.model_copy(update={"tls_cert": rel(self.tls_cert), "tls_key": rel(self.tls_key)})


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL or origin, default ports filled in; None if it is not one."""
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host.lower(), port or DEFAULT_PORTS[scheme]


def docs_urls(web: WebSettings) -> dict[str, Any]:
    """FastAPI's keyword arguments for the interactive docs: off unless ``api_docs``."""
    return {} if web.api_docs else {"docs_url": None, "redoc_url": None}


def server_options(web: WebSettings, section: str = "web") -> dict[str, Any]:
    """uvicorn.Config keyword arguments: HTTPS with the configured certificate and key (checked
    here; a ConfigError names the field), and uvicorn's own X-Forwarded-* handling off (it
    trusts 127.0.0.1 by default): epatrol.common.http believes them from ``trusted_proxies`` only."""
    options: dict[str, Any] = {"proxy_headers": False}
    if web.tls_cert is None or web.tls_key is None:
        return options
    for field, path in (("tls_cert", web.tls_cert), ("tls_key", web.tls_key)):
        try:
            path.read_bytes()
        except OSError as e:
            raise ConfigError(f"{section}.{field}: cannot read {path}: {e.strerror or e}") from None
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(web.tls_cert.read_bytes())
    except ValueError as e:
        raise ConfigError(f"{section}.tls_cert: {web.tls_cert} is not a PEM certificate ({e})") from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(web.tls_cert, web.tls_key, password=lambda: b"")
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(f"{section}.tls_key: {web.tls_key} is not the unencrypted PEM key of {web.tls_cert} ({e})") from None
    return {**options, "ssl_certfile": str(web.tls_cert), "ssl_keyfile": str(web.tls_key)}
