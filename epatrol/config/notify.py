"""The `notify:` configuration section: where event notifications go, and how hard to try.

Mounted by the box's Config (config/box.py) as an optional section and run by epatrol/notify;
like every section, unknown keys are rejected and every duration is in seconds (*_s)::

    notify:
      mqtt: {host: 10.0.0.5, port: 1883, topic_prefix: epatrol, username: patrol, password: ...}
      webhooks:
        - {url: "https://ops.example/hooks/epatrol", headers: {Authorization: "Bearer ..."}, timeout_s: 5}
      queue_size: 1000          # per target; when full the OLDEST message is dropped (counted)
      max_retries: 5            # webhooks: attempts after the first, on connection errors / 5xx / 408 / 429
      retry_backoff_s: 1.0      # first retry delay; doubles per attempt (webhooks add jitter) ...
      retry_backoff_max_s: 60   # ... up to this; MQTT reconnects use the same pair
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from epatrol.config.base import Section


class MqttTarget(Section):
    host: str = Field(min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field(
        "epatrol", min_length=1, description="Messages go to <topic_prefix>/<camera id>/<kind>."
    )
    username: str | None = None
    password: SecretStr | None = Field(None, description="Never logged or shown.")
    qos: Literal[0, 1, 2] = Field(1, description="1 (default): at least once, counted sent on PUBACK.")
    client_id: str | None = Field(None, description="Default: epatrol-<host name>-<random>.")
    tls: bool = Field(False, description="TLS with the system CA certificates (brokers usually listen on 8883).")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive; a silent dead link is noticed after 1.5x this.")
    max_inflight: int = Field(10, ge=1, le=1000, description="Messages handed to the client awaiting PUBACK at once.")

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, v: str) -> str:
        v = v.strip("/")
        if not v or any(c in v for c in "+#\x00"):
            raise ValueError("must be a non-empty topic without the wildcards + and #")
        return v


class WebhookTarget(Section):
    url: str = Field(description="http:// or https:// URL the JSON message is POSTed to.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers (e.g. Authorization).")
    timeout_s: float = Field(5.0, gt=0, le=300, description="Connect and read timeout of one attempt.")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not name or any(c in name for c in " \t\r\n:") or not name.isascii():
                raise ValueError(f"bad header name {name!r}")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r}: the value must be one line")
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError(f"header {name!r}: HTTP header values must be Latin-1") from None
        return v


class NotifyConfig(Section):
    mqtt: MqttTarget | None = None
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    queue_size: int = Field(
        1000, ge=1, le=1_000_000,
        description="Messages waiting per target; when full the oldest is dropped and counted.",
    )
    max_retries: int = Field(
        5, ge=0, le=100,
        description="Webhooks: attempts after the first before a message is given up (counted failed). "
        "MQTT keeps a message until the broker acknowledges it or the queue drops it.",
    )
    retry_backoff_s: float = Field(1.0, gt=0, le=600, description="First retry / reconnect delay.")
    retry_backoff_max_s: float = Field(60.0, gt=0, le=3600, description="Cap of the doubling delay.")

    @model_validator(mode="after")
    def _backoff_order(self) -> NotifyConfig:
        if self.retry_backoff_max_s < self.retry_backoff_s:
            raise ValueError("retry_backoff_max_s must be at least retry_backoff_s")
        return self

    @property
    def targets(self) -> int:
        return (self.mqtt is not None) + len(self.webhooks)
