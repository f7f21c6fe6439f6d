"""The bench report as markdown tables and a PNG plot (cameras vs sample lag and CPU)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.machine import CPU_FLAGS


def _f(x, nd: int = 1, none: str = "–") -> str:
    if x is None:
        return none
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def _worst_lag(trial: dict) -> float | None:
    lags = [c["lag_p95_s"] for c in trial["per_camera"] if c["lag_p95_s"] is not None]
    return max(lags) if lags else None


def _runs_on(model: dict | None) -> str:
    if not model:
        return "–"
    return f"{model.get('runtime', model.get('provider', '?'))} / {model.get('precision', '?')} / {model.get('graph', '?')}"


def models_table(models: dict) -> list[str]:
    """Each model the pipeline and the baseline ran: on what, and how often (at the trial shown)."""
    pipe, base = models.get("pipeline", {}), models.get("baseline", {})
    if not pipe and not base:
        return []
    out = ["", "Models:", "", "| model | pipeline: runtime / precision / graph | chosen by | pipeline: every s | baseline: runtime / precision / graph | baseline: every s | baseline runs (window, all cameras) |", "|---|---|---|---:|---|---:|---:|"]
    for name in list(dict.fromkeys([*pipe, *base])):
        p, b = pipe.get(name), base.get(name)
        out.append(f"| {name} | {_runs_on(p)} | {(p or {}).get('chosen_by', '–')} | {_f((p or {}).get('every_s'))} | {_runs_on(b)} | {_f((b or {}).get('every_s'))} | {_f((b or {}).get('runs'))} |")
    return out


def selection_table(report: dict) -> list[str]:
    """How each model's runtime was chosen: every candidate measured on real frames (selection.py),
    from the inference-alone trial, else from the pipeline's models."""
    per_model = report.get("bounds", {}).get("inference", {}).get("per_model") or report.get("models", {}).get("pipeline", {})
    measured = {k: v for k, v in per_model.items() if v.get("selection")}
    if not measured:
        return []
    out = ["", "Runtime chosen by measurement (each candidate on the reference frames, one thread; the fastest that agrees with the shipped graph runs):", "",
           "| model | candidate | ms per run | agrees | chosen | why |", "|---|---|---:|---|---|---|"]  # fmt: skip
    for name, m in measured.items():
        for r in m["selection"]:
            out.append(f"| {name} | {r['candidate']} | {_f(r['ms'])} | {'yes' if r['accepted'] else 'no'} | {'**chosen**' if r.get('chosen') else ''} | {r['reason']} |")
    return out


def rates(st: dict) -> str:
    """How often the trials sampled: one forced rate, or each violation at its default."""
    if st.get("rate_forced"):
        return f"{st['rate_forced']:g} sample/s per camera for every violation (--rate, both trials)"
    every = st.get("sample_every_s") or {}
    each = ", ".join(f"{v} every {s:g} s" for v, s in every.items())
    return f"each violation at its default rate ({each}; a camera is sampled at {st['samples_per_s_per_camera']:g}/s, its fastest)"


def write_markdown(report: dict, path: Path) -> None:
    m, st, s = report["machine"], report["settings"], report.get("summary", {})
    out = [
        f"### epatrol bench: {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('memory_gb', '?')} GB" + (f", GPU {m['gpu']}" if m.get("gpu") else ""),
        "",
        "; ".join(
            [f"CPU flags: {', '.join(m.get('cpu_flags') or []) or 'none of ' + ', '.join(CPU_FLAGS)}"]
            + [f"{k} {m[k]}" for k in ("onnxruntime", "openvino") if m.get(k)]
        ) + ".",
        "",
        f"`{report['command']}` ({report['started_utc']}, {report.get('elapsed_s', '?')} s). "
        f"{rates(st)}; violations {', '.join(st['violations'])}; detector {st['detector']}; "
        f"fast path {'on' if st['fast_path'] else 'off'}; cameras take turns over {', '.join(f'{k} ({v})' for k, v in st['footage_detail'].items())}; "
        f"measured window {st['window_s']:g} s per trial; sustained = every camera judged >= 90% of its expected sample rate (less one sample), stream not behind, no drop, lag p95 <= {st['lag_bound_s']:g} s, no evidence lost.",
        "",
        "| | cameras sustained | |",
        "|---|---:|---|",
    ]
    bounds = report.get("bounds")
    if "pipeline" in report:
        frac = s.get("fraction_of_bound")
        out.append(f"| **epatrol pipeline** | **{report['pipeline']['sustained_cameras']}** | {'%.2f of the bound' % frac if frac is not None else ''} |")
    if "baseline" in report:
        runs = ", ".join(f"{k} every {v['every_s']:g} s" for k, v in report.get("models", {}).get("baseline", {}).items())
        out.append(f"| baseline (same run): OpenCV VideoCapture every frame + {runs or 'the models'}, shipped graphs on plain onnxruntime | {report['baseline']['sustained_cameras']} | |")
    if s.get("memory_mb_per_added_camera") is not None:
        out.append(f"| memory per added camera (pipeline, slope over the trials) | {s['memory_mb_per_added_camera']:.1f} MB | |")
    if s.get("speedup_vs_baseline") is not None:
        out.append(f"| speed-up over the baseline | {s['speedup_vs_baseline']:.2f}x | |")
    if bounds:
        modes = bounds["decode"]["modes"]
        out.append(f"| bound: decoding alone (as the pipeline decodes) | {_f(bounds['decode_bound_cameras'])} | {_f(modes['pipeline_sampler']['cpu_percent_per_camera'])}% of a core per camera |")
        inf = bounds["inference"]
        out.append(f"| bound: inference alone | {_f(bounds['inference_bound_cameras'])} | {_f(inf['cpu_ms_per_camera_s'])} ms CPU per camera-second (each model's ms per run x its runs per camera-second) |")
        out.append(f"| bound: both ({bounds['combined_as']}), every due run inferred | {_f(bounds['combined_bound_cameras'])} | |")
        if s.get("bound_at_measured_skip_cameras") is not None:
            gates = [f"motion gate {100 * s['gate_skip_fraction']:.0f}% of runs" if s.get("gate_skip_fraction") is not None else None,
                     f"fire gate {100 * s['fire_gate_skip_fraction']:.0f}% of fire_smoke runs" if s.get("fire_gate_skip_fraction") is not None else None]
            frac = s.get("fraction_of_bound_at_measured_skip")
            out.append(
                f"| bound: both, at the gates' measured skip rates ({', '.join(g for g in gates if g)} skipped) | "
                f"{_f(s['bound_at_measured_skip_cameras'])} | {'pipeline at %.2f of it' % frac if frac is not None else ''} |"
            )
    out += models_table(report.get("models", {}))
    rows = s.get("per_camera_at_sustained") or []
    title = f"Per camera, pipeline at N = {report['pipeline']['sustained_cameras']}:" if rows else ""
    if not rows and s.get("per_camera_not_sustained"):
        rows = s["per_camera_not_sustained"]["per_camera"]
        title = f"Per camera, pipeline at N = {s['per_camera_not_sustained']['cameras']} (NOT sustained):"
    if rows:
        out += [
            "",
            title,
            "",
            "| camera | footage | samples/s (expected) | CPU % | memory MB | decode ms/sample | inference ms/run | skipped: motion gate | skipped: fire gate | lag p50 s | lag p95 s | event-to-clip s | events |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in rows:
            out.append(
                f"| {c['id']} | {c['footage']} | {_f(c['samples_per_s'], 2)} ({_f(c.get('expected_samples_per_s'), 2)}) | {_f(c['cpu_percent'])} | {_f(c['memory_mb'])} | {_f(c['decode_ms'])} | {_f(c['inference_ms'])} | "
                f"{_f(c.get('motion_gated_fraction', c['gated_fraction']), 2)} | {_f(c.get('fire_gated_fraction'), 2)} | {_f(c['lag_p50_s'], 2)} | {_f(c['lag_p95_s'], 2)} | {_f(c['event_to_clip_s'])} | {c['events']} |"
            )
        out.append("")
        out.append("(event-to-clip: from the sample that raised the event to its clip registered; includes the 2 s post-roll.)")
    if bounds:
        out += ["", "Decoding alone, per camera:", "", "| how | CPU % per camera | frames/s received | cameras it allows |", "|---|---:|---:|---:|"]
        names = {"pipeline_sampler": f"the pipeline's sampler, a sample every {1 / st['samples_per_s_per_camera']:g} s", "keyframes_only": "keyframes only (one sample per 2 s GOP)", "every_frame": "every frame (PyAV, BGR)"}
        for k, v in bounds["decode"]["modes"].items():
            out.append(f"| {names.get(k, k)} | {_f(v['cpu_percent_per_camera'])} | {_f(v['packets_per_s_per_camera'])} | {_f(v['bound_cameras'])} |")
        inf = bounds["inference"]
        out += ["", f"Inference alone (each model with {inf['workers']} runs at once, 1 thread each; the bin embedding one at a time, on a zone's crop):", "",
                "| model | every s | runs per camera-s | ms per run, full frame | ms per run, quarter-frame crop | CPU ms per run, all runs at once | runs/s at once | graph batch size | runtime / precision / graph |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for k, v in inf["per_model"].items():
            out.append(
                f"| {k} | {_f(v.get('every_s'))} | {_f(v.get('runs_per_camera_s'), 2)} | {_f(v['ms_full_frame'])} | {_f(v['ms_quarter_crop'])} | {_f(v.get('cpu_ms_per_run'))} | "
                f"{_f(v.get('runs_per_s_at_once'), 2)} | {v['batch_size'] if v['batch_size'] is not None else 'dynamic'} | {_runs_on(v)} |"
            )
        out.append(f"\nMotion gate check: {_f(inf['motion_gate_ms_1080p'], 2)} ms per 1080p sample.")
    out += selection_table(report)
    out += ["", "Trials:", "", "| run | N | sustained | process CPU % | RSS MB | worst lag p95 s | RTSP server CPU % | not sustained because |", "|---|---:|---|---:|---:|---:|---:|---|"]
    for mode in ("pipeline", "baseline"):
        for t in report.get(mode, {}).get("trials", []):
            why = "; ".join(t["not_sustained_because"][:3])
            out.append(f"| {mode} | {t['cameras']} | {'yes' if t['sustained'] else 'no'} | {_f(t['process_cpu_percent'])} | {_f(t['rss_mb'], 0)} | {_f(_worst_lag(t), 2)} | {_f(t['rtsp_server_cpu_percent'])} | {why} |")
    path.write_text("\n".join(out) + "\n")


def write_plot(report: dict, path: Path) -> Path | None:
    """Cameras vs worst lag p95 and vs process CPU, pipeline and baseline. None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax_lag, ax_cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, colour in (("pipeline", "tab:blue"), ("baseline", "tab:orange")):
        trials = sorted(report.get(mode, {}).get("trials", []), key=lambda t: t["cameras"])
        if not trials:
            continue
        xs = [t["cameras"] for t in trials]
        ax_lag.plot(xs, [_worst_lag(t) or float("nan") for t in trials], "o-", color=colour, label=mode)
        ax_cpu.plot(xs, [t["process_cpu_percent"] for t in trials], "o-", color=colour, label=mode)
        for t in trials:
            if not t["sustained"]:
                ax_lag.plot(t["cameras"], _worst_lag(t) or float("nan"), "x", color="red", markersize=10)
    ax_lag.axhline(report["settings"]["lag_bound_s"], color="grey", linestyle="--", label="lag bound")
    ax_lag.set(xlabel="cameras", ylabel="worst camera's sample lag p95 (s)", title="sample lag (x: not sustained)")
    ax_cpu.set(xlabel="cameras", ylabel="process CPU (% of one core)", title="CPU")
    cores = report["machine"].get("cores")
    if cores:
        ax_cpu.axhline(100 * cores, color="grey", linestyle="--", label=f"{cores} cores")
    for ax in (ax_lag, ax_cpu):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"epatrol bench: {report['machine'].get('cpu', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
