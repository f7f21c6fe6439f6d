"""The machine a bench ran on: CPU model and the instruction sets inference cares about, cores,
memory, GPU, and the runtimes installed."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

# What int8 / bf16 inference can use (onnxruntime's and OpenVINO's kernels pick them by these).
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags(cpuinfo: str) -> list[str]:
    """The flags of CPU_FLAGS that /proc/cpuinfo's first `flags` line lists, in that order."""
    line = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    have = set(line.split(":", 1)[1].split()) if ":" in line else set()
    return [f for f in CPU_FLAGS if f in have]


def machine() -> dict:
    info: dict = {"cores": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), platform.processor())
        info["cpu_flags"] = cpu_flags(cpuinfo)
        mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
        info["memory_gb"] = round(int(mem.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["providers"] = ort.get_available_providers()
    except ImportError:
        pass
    try:
        import openvino

        info["openvino"] = openvino.__version__
    except (ImportError, AttributeError):
        pass
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
        if gpu.returncode == 0 and gpu.stdout.strip():
            info["gpu"] = gpu.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info
