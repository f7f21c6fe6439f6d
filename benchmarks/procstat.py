"""CPU time and resident memory from /proc (Linux): of a process, or of one of this process's threads."""

from __future__ import annotations

import os

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_from_stat(path: str) -> float:
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def process_cpu_s(pid: int | None = None) -> float:
    return _cpu_from_stat(f"/proc/{pid or os.getpid()}/stat")


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds of one thread of this process (threading.Thread.native_id)."""
    try:
        return _cpu_from_stat(f"/proc/self/task/{native_id}/stat")
    except OSError:  # the thread has ended
        return 0.0


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20
