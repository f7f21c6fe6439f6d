"""The evaluation report: per violation metrics, per clip outcomes, and the cost of the run, as JSON
and as a markdown table for the README."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from epatrol.config import Violation
from epatrol.evaluation.ground_truth import GroundTruth
from epatrol.evaluation.matching import ClipOutcome, match_clip, summarise
from epatrol.evaluation.runner import ClipRun, EvalRun


def outcomes(gt: GroundTruth, run: EvalRun) -> list[tuple[ClipRun, ClipOutcome]]:
    return [(c, match_clip(c.clip.truth, c.alerts, c.duration_s, gt.tolerance_s)) for c in run.clips]


def build_report(gt: GroundTruth, run: EvalRun) -> dict[str, Any]:
    pairs = outcomes(gt, run)
    violations: dict[str, Any] = {}
    for v in Violation:
        mine = [(c, o) for c, o in pairs if c.clip.violation == v]
        if not mine:
            continue
        judged = [o for c, o in mine if c.judged]
        metrics = asdict(summarise(v.value, judged))
        metrics["judged"] = bool(judged)
        metrics["clips_not_run"] = len(mine) - len(judged)
        metrics["not_run"] = sorted({c.skipped for c, _ in mine if c.skipped})  # why clips were not run
        violations[v.value] = metrics
    return {
        "tolerance_s": gt.tolerance_s,
        "violations": violations,
        "clips": [_clip_json(c, o) for c, o in pairs],
        "run": {
            "wall_s": round(run.wall_s, 1),
            "cpu_s": round(run.cpu_s, 1),
            "samples": sum(c.samples for c in run.clips),
            "footage_hours": round(sum(c.duration_s for c in run.clips) / 3600, 3),
            "database": run.database,
            "models": run.models,
        },
    }


def _clip_json(c: ClipRun, o: ClipOutcome) -> dict[str, Any]:
    return {
        "path": c.clip.path,
        "camera": c.clip.camera,
        "ran_as": c.camera_id,
        "violation": c.clip.violation.value,
        "kind": c.clip.kind,
        "judged": c.judged,
        "skipped": c.skipped,
        "duration_s": round(c.duration_s, 2),
        "samples": c.samples,
        "truth": [list(iv) for iv in o.truth],
        "alerts_s": [round(a.media_s, 2) for a in c.alerts],
        "event_ids": [a.event_id for a in c.alerts],
        "matched": [{"interval": list(m.interval), "alert_s": round(m.alert.media_s, 2), "onset_to_alert_s": round(m.onset_to_alert_s, 2)} for m in o.matches],
        "missed": [list(iv) for iv in o.missed],
        "false_alerts_s": [round(a.media_s, 2) for a in o.outside],
        "duplicates_s": [round(a.media_s, 2) for a in o.duplicates],
    }


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _with_interval(x: float | None, ci: list[float] | tuple[float, float] | None) -> str:
    if x is None:
        return "–"
    return f"{x:.2f}" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")


def markdown_table(report: dict[str, Any]) -> str:
    lines = [
        "| violation | clips | true violations | alerts | precision (95% CI) | recall (95% CI) | onset→alert median / max "
        "| false alerts | per camera-hour (95% upper) | per camera-day (95% upper) | positive / negative camera-hours |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in report["violations"].items():
        if not m["judged"]:
            why = "; ".join(m["not_run"])
            lines.append(f"| {name} | {m['clips_not_run']} | – | not run: {why} | – | – | – | – | – | – | – |")
            continue
        clips = f"{m['clips']}" + (f" (+{m['clips_not_run']} not run)" if m["clips_not_run"] else "")
        delay = "–" if m["median_onset_to_alert_s"] is None else f"{m['median_onset_to_alert_s']:.1f} / {m['max_onset_to_alert_s']:.1f} s"
        lines.append(
            f"| {name} | {clips} | {m['truth_intervals']} | {m['alerts']} | {_with_interval(m['precision'], m['precision_95'])} "
            f"| {_with_interval(m['recall'], m['recall_95'])} "
            f"| {delay} | {m['false_alerts']} ({m['duplicates']} dup.) "
            f"| {_num(m['false_alerts_per_camera_hour'], '.2f')} ({_num(m['false_alerts_per_camera_hour_95'], '.2f')}) "
            f"| {_num(m['false_alerts_per_camera_day'], '.1f')} ({_num(m['false_alerts_per_camera_day_95'], '.1f')}) "
            f"| {m['positive_hours']:.2f} / {m['negative_hours']:.2f} |"
        )
    r = report["run"]
    lines.append("")
    lines.append(f"{r['footage_hours']:.2f} camera-hours of footage, {r['samples']} samples, {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU; tolerance {report['tolerance_s']:g} s.")
    return "\n".join(lines) + "\n"


def clip_table(report: dict[str, Any]) -> str:
    lines = ["| clip | violation | kind | length | truth | alerts (media s) | verdict |", "|---|---|---|---|---|---|---|"]
    for c in report["clips"]:
        verdict = "not judged" if not c["judged"] else ", ".join(
            x for x in (
                f"{len(c['matched'])} matched" if c["matched"] else "",
                f"{len(c['missed'])} missed" if c["missed"] else "",
                f"{len(c['false_alerts_s'])} false" if c["false_alerts_s"] else "",
                f"{len(c['duplicates_s'])} duplicate" if c["duplicates_s"] else "",
            ) if x
        ) or "quiet (correct)"
        truth = " ".join(f"[{s:g}, {e:g}]" for s, e in c["truth"]) or "none"
        alerts = " ".join(f"{a:g}" for a in c["alerts_s"]) or "–"
        lines.append(f"| {c['path']} | {c['violation']} | {c['kind'] or ''} | {c['duration_s']:.0f} s | {truth} | {alerts} | {verdict} |")
    return "\n".join(lines) + "\n"
