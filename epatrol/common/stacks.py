"""Every thread's stack, written to the process's own stderr (the journal under systemd): where a
stuck process is stuck. sys.__stderr__, not sys.stderr: the latter may be replaced by something
with no file descriptor (a test's capture), which faulthandler cannot write to."""

from __future__ import annotations

import faulthandler
import signal
import sys


def dump_stacks() -> None:
    """Write every thread's stack now; nothing when the process has no real stderr."""
    if sys.__stderr__ is not None:
        try:
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
        except (ValueError, OSError):  # closed, or not a file
            pass


def dump_stacks_on(sig: signal.Signals = signal.SIGUSR1) -> bool:
    """`kill -USR1 <pid>` then writes every thread's stack and changes nothing else. False when the
    process has no real stderr to write to."""
    if sys.__stderr__ is None:
        return False
    try:
        faulthandler.register(sig, file=sys.__stderr__, all_threads=True)
    except (ValueError, OSError):
        return False
    return True
