"""One `epatrol run` per storage root: start-up recovery deletes unfinished files, which would
destroy another live process's clips in progress."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class StorageBusy(Exception):
    pass


def lock_storage(root: Path) -> IO[str]:
    """Hold an exclusive lock on <root>/.epatrol.lock for the life of the process (keep the handle)."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / ".epatrol.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StorageBusy(f"another epatrol process is using the storage at {root}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
