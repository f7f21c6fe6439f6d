"""The `web:` section: how `epatrol serve` and `epatrol run --serve` serve the API and review page
(HTTPS certificate and key, trusted reverse proxies, public origin, interactive API docs). The
fields are the centre's too (epatrol/common/web.py); see docs/operations.md, "Reverse proxy and TLS"."""

from __future__ import annotations

from epatrol.common.web import WebSettings
from epatrol.config.base import Section


class Web(WebSettings, Section):
    """The API's web server: TLS, trusted proxies, public origin, /docs."""
