"""Event notifications over MQTT and webhooks, with retries and bounded queues.

A dead broker or a hanging web server never blocks detection: `Notifier.publish` only appends
to per-target bounded queues (drop-oldest) that background workers drain."""

from epatrol.config.notify import MqttTarget, NotifyConfig, WebhookTarget
from epatrol.notify.message import KINDS
from epatrol.notify.notifier import Notifier
from epatrol.notify.payloads import camera_payload, event_payload

__all__ = ["KINDS", "MqttTarget", "Notifier", "NotifyConfig", "WebhookTarget", "camera_payload", "event_payload"]
