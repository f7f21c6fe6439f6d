"""The box's figures from a bench run's trials: cameras sustained, the baseline of the same run,
the ratio, the bound and the fraction of it, and the bound at the gates' measured skip rates."""

from __future__ import annotations

from benchmarks.workload import BIN_EMBEDDING, FIRE_MODEL, inference_bound

MAX_SKIP = 0.95  # a gate's measured skip rate is capped here for the bound (a short window can see 100%)


def mean_of(cameras: list[dict], key: str) -> float | None:
    values = [c[key] for c in cameras if c.get(key) is not None]
    return sum(values) / len(values) if values else None


def combine(decode: float, inference: float, combined_as: str) -> float:
    """Decoding and inference together: on CPU they share the cores (their costs add up); on a GPU
    they overlap (the smaller wins)."""
    return min(decode, inference) if combined_as == "min" else 1.0 / (1.0 / decode + 1.0 / inference)


def gated_bound(bounds: dict, cameras: list[dict]) -> dict:
    """The pipeline's own limit: the bound at the inference the gates let through, at their skip
    rates measured on the cameras (the motion gate on every detector's runs, the fire gate on the
    fire model's). Empty when no gate was measured."""
    motion = mean_of(cameras, "motion_gated_fraction")
    if motion is None:
        motion = mean_of(cameras, "gated_fraction")  # a pipeline with the motion gate only
    fire = mean_of(cameras, "fire_gated_fraction")
    inf = bounds["inference"]
    per_model = inf["per_model"]
    if (motion is None and fire is None) or not bounds["decode_bound_cameras"]:
        return {}
    motion_pass = 1.0 - min(MAX_SKIP, motion or 0.0)
    fire_pass = 1.0 - min(MAX_SKIP, fire or 0.0)
    # The bin embedding runs on every bin-judge sample: no gate before it.
    share = {name: motion_pass * (fire_pass if name == FIRE_MODEL else 1.0) for name in per_model if name != BIN_EMBEDDING}
    inference = inference_bound(per_model, inf["cores"], inf["on_cpu"], share)
    if not inference:
        return {}
    out = {"bound_at_measured_skip_cameras": round(combine(bounds["decode_bound_cameras"], inference, bounds["combined_as"]), 1),
           "inference_bound_at_measured_skip_cameras": round(inference, 1)}
    if motion is not None:
        out["gate_skip_fraction"] = round(min(MAX_SKIP, motion), 3)  # the motion gate's
    if fire is not None and FIRE_MODEL in per_model:
        out["fire_gate_skip_fraction"] = round(min(MAX_SKIP, fire), 3)
    return out


def summarise(report: dict) -> None:
    """The box's figures into report["summary"], and the headline at the report's top level."""
    s: dict = {}
    pipe, base, bounds = report.get("pipeline"), report.get("baseline"), report.get("bounds")
    if pipe:
        s["pipeline_cameras"] = pipe["sustained_cameras"]
        best = next((t for t in pipe["trials"] if t["cameras"] == pipe["sustained_cameras"]), None)
        s["per_camera_at_sustained"] = best["per_camera"] if best else []
        if best is None and pipe["trials"]:  # nothing sustained: show the smallest trial, flagged as such
            smallest = min(pipe["trials"], key=lambda t: t["cameras"])
            s["per_camera_not_sustained"] = {"cameras": smallest["cameras"], "per_camera": smallest["per_camera"]}
        # Memory a camera adds: the slope of resident memory over the trials' camera counts.
        pts = sorted((t["cameras"], t["rss_mb"]) for t in pipe["trials"])
        if len(pts) >= 2 and pts[-1][0] > pts[0][0]:
            s["memory_mb_per_added_camera"] = round((pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]), 1)
    if base:
        s["baseline_cameras"] = base["sustained_cameras"]
    if pipe and base and base["sustained_cameras"]:
        s["speedup_vs_baseline"] = round(pipe["sustained_cameras"] / base["sustained_cameras"], 2)
    if pipe and bounds and bounds["combined_bound_cameras"]:
        s["fraction_of_bound"] = round(pipe["sustained_cameras"] / bounds["combined_bound_cameras"], 2)
        # The gates skip inferences, so the pipeline's own limit is the bound at the inference it
        # actually needed (the gates' measured skip rates at the sustained N, else the smallest trial).
        cameras = s["per_camera_at_sustained"] or s.get("per_camera_not_sustained", {}).get("per_camera", [])
        s.update(gated_bound(bounds, cameras))
        if s.get("bound_at_measured_skip_cameras"):
            s["fraction_of_bound_at_measured_skip"] = round(pipe["sustained_cameras"] / s["bound_at_measured_skip_cameras"], 2)
    report["summary"] = s
    # The headline, at the top level for a reader or a test (None: not measured in this run).
    report["pipeline_cameras"] = s.get("pipeline_cameras")
    report["baseline_cameras"] = s.get("baseline_cameras")
    report["speedup"] = s.get("speedup_vs_baseline")
    report["bound_cameras"] = bounds["combined_bound_cameras"] if bounds else None
    report["fraction_of_bound"] = s.get("fraction_of_bound")
    report["models"] = {mode: trial_models(report[mode]) for mode in ("pipeline", "baseline") if report.get(mode)}


def trial_models(search: dict) -> dict:
    """The models a run used (runtime, precision, graph, sampled every): those of its sustained
    trial, else of its smallest."""
    trials = search["trials"]
    best = next((t for t in trials if t["cameras"] == search["sustained_cameras"]), None) or min(trials, key=lambda t: t["cameras"], default={})
    return best.get("models", {})
