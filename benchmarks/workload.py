"""What each benchmarked violation costs a camera: the models its judge runs and how often.

Both trials say what they ran in these terms (bench.json "models"), so the pipeline and the
baseline can be compared model by model."""

from __future__ import annotations

BIN_EMBEDDING = "bin_embedding"  # yolov8n's backbone on each bin zone's crop (detectors/bins/bin_classifier.py)
FIRE_MODEL = "fire_smoke"  # the open-burning judge's detector (detectors/fire/open_burning.py)


def models_needed(violation: str, detector: str) -> list[str]:
    """The models a violation's judge needs; `detector` is the COCO model (models.detector)."""
    needs = {
        "parked_bikes": [detector],
        "street_vending": [detector],
        "open_burning": [FIRE_MODEL],
        # The COCO boxes tell when a person or vehicle hides the bin; the embedding scores the crop.
        "overflowing_bins": [detector, BIN_EMBEDDING],
    }
    if violation not in needs:
        raise ValueError(f"the bench does not know which models violation {violation!r} needs (benchmarks/workload.py)")
    return needs[violation]


def default_intervals(violations: list[str]) -> dict[str, float]:
    """Each violation's sample_every_s as the configuration defaults it (epatrol/config/violations.py)."""
    from epatrol.config import Violations

    defaults = Violations()
    return {v: float(getattr(defaults, v).sample_every_s) for v in violations}


def model_intervals(intervals: dict[str, float], detector: str) -> dict[str, float]:
    """Seconds between runs of each model: a model two violations share runs once per sample, at
    the faster of their rates."""
    every: dict[str, float] = {}
    for violation, interval in intervals.items():
        for model in models_needed(violation, detector):
            every[model] = min(every.get(model, interval), interval)
    return every


def default_confidences(violations: list[str], detector: str) -> dict[str, float]:
    """The detection score each detector model is run with: the lowest its violations' defaults ask."""
    from epatrol.config import Violations

    defaults = Violations()
    conf: dict[str, float] = {}
    for v in violations:
        c = float(getattr(getattr(defaults, v), "confidence", 0.25))
        for model in models_needed(v, detector):
            if model != BIN_EMBEDDING:  # an embedding has no detection score
                conf[model] = min(conf.get(model, c), c)
    return conf


def violation_intervals(violations: list[str], rate: float | None) -> dict[str, float]:
    """Seconds between samples of each violation in a trial: its configuration default (what a
    district deploys), or 1 / rate for every violation when a patrol rate is forced (--rate)."""
    if rate is None:
        return default_intervals(violations)
    return {v: 1.0 / rate for v in violations}


def paced(intervals: dict[str, float]) -> dict[str, float]:
    """The intervals the pipeline samples at while nothing burns: open burning with its fire gate on
    (the default) at gate_every_s, densely only for a while after a cue (epatrol/pacing.py)."""
    from epatrol.config import OpenBurning

    fire = OpenBurning()
    if "open_burning" not in intervals or not fire.gate:
        return dict(intervals)
    return {**intervals, "open_burning": max(intervals["open_burning"], fire.gate_every_s)}


def camera_every_s(intervals: dict[str, float]) -> float:
    """Seconds between a camera's samples: the stream is sampled at its fastest judge's rate
    (CameraWorker samples at min(sample_every_s)), and every sample is judged."""
    return min(intervals.values(), default=1.0)


def inference_cost_ms(per_model: dict[str, dict], pass_share: dict[str, float] | None = None, key: str = "cpu_ms_per_run") -> float | None:
    """Inference one camera costs per second: each model's ms per run (per_model[m][key]) x its
    runs per camera-second (per_model[m]["runs_per_camera_s"]) x the share of those runs its gates
    let through (pass_share, default 1). None when a model was not measured."""
    total = 0.0
    for name, m in per_model.items():
        ms, runs = m.get(key), m.get("runs_per_camera_s")
        if ms is None or runs is None:
            return None
        total += ms * runs * (pass_share or {}).get(name, 1.0)
    return total


def inference_bound(per_model: dict[str, dict], cores: int, on_cpu: bool, pass_share: dict[str, float] | None = None) -> float | None:
    """Cameras inference alone allows. On CPU: the cores over the CPU a camera-second of inference
    costs (unmoved by other load on the box). On a GPU: the camera-seconds per second the models'
    measured throughputs reach when they take turns (1 / sum of runs per camera-second over runs
    per second at once)."""
    if on_cpu:
        cost = inference_cost_ms(per_model, pass_share)
        return 1000.0 * cores / cost if cost else None
    # ms of the device per run at full throughput: 1000 / (runs per second at once).
    turns = {n: {**m, "device_ms_per_run": 1000.0 / m["runs_per_s_at_once"] if m.get("runs_per_s_at_once") else None} for n, m in per_model.items()}
    cost = inference_cost_ms(turns, pass_share, key="device_ms_per_run")
    return 1000.0 / cost if cost else None
