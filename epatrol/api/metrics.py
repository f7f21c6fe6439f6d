"""Prometheus exposition of the HealthBoard, collected at scrape time (nothing on the hot path)."""

from __future__ import annotations

import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from epatrol.health import HealthBoard


class _BoardCollector:
    def __init__(self, health: HealthBoard, storage_root: Path) -> None:
        self.health = health
        self.storage_root = storage_root

    def collect(self):
        cams = self.health.snapshot()
        label = ["camera"]

        def gauge(name: str, doc: str, value) -> GaugeMetricFamily:
            g = GaugeMetricFamily(name, doc, labels=label)
            for c in cams:
                g.add_metric([c.camera_id], float(value(c)))
            return g

        def counter(name: str, doc: str, value) -> CounterMetricFamily:
            m = CounterMetricFamily(name, doc, labels=label)
            for c in cams:
                m.add_metric([c.camera_id], float(value(c)))
            return m

        yield gauge("epatrol_camera_online", "1 when the camera is streaming", lambda c: c.online)
        yield gauge("epatrol_camera_sample_rate_hz", "Samples analysed per second (recent)", lambda c: c.sample_rate_hz)
        yield gauge("epatrol_camera_decode_ms", "Decode time per sample (moving average)", lambda c: c.decode_ms)
        yield gauge("epatrol_camera_inference_ms", "Inference time per sample (moving average)", lambda c: c.inference_ms)
        yield gauge("epatrol_camera_queue_depth", "Samples waiting for analysis", lambda c: c.queue_depth)
        yield counter("epatrol_camera_samples", "Samples analysed", lambda c: c.samples)
        yield counter("epatrol_camera_dropped_samples", "Samples dropped because analysis fell behind", lambda c: c.dropped_samples)
        yield counter("epatrol_camera_reconnects", "Reconnections after a drop", lambda c: c.reconnects)
        yield counter("epatrol_camera_clips_failed", "Evidence clips that could not be written", lambda c: c.clips_failed)
        events = CounterMetricFamily("epatrol_events", "Violation events started", labels=["camera", "violation"])
        for c in cams:
            for violation, n in sorted(c.events.items()):
                events.add_metric([c.camera_id, violation], float(n))
        yield events
        models = GaugeMetricFamily("epatrol_model_info", "1 per model: the runtime, precision and graph that run it", labels=["model", "runtime", "precision", "graph"])
        for name, (runtime, precision, graph) in sorted(self.health.models().items()):
            models.add_metric([name, runtime, precision, graph], 1.0)
        yield models
        disk = GaugeMetricFamily("epatrol_storage_free_bytes", "Free bytes on the evidence storage")
        try:
            disk.add_metric([], float(shutil.disk_usage(self.storage_root).free))
        except OSError:
            pass
        yield disk


def render_metrics(health: HealthBoard, storage_root: Path) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_BoardCollector(health, storage_root))
    return generate_latest(registry)
