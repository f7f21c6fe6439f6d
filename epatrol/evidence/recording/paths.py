"""Where evidence lives under the storage root, and how a finished file is put there.

The database stores paths relative to the storage root (POSIX style), so the root can move
(another disk, a backup restored elsewhere) without rewriting rows.

    clips/<camera_id>/<YYYY-MM-DD>/<event_id>-<violation>.mp4
    snapshots/<camera_id>/<YYYY-MM-DD>/<event_id>-<violation>.jpg

The date is the UTC day of the time given (the event's start or alert: callers pick one
and stick to it); it only spreads files over folders, the database holds the exact times.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

# Camera ids are validated upstream to [a-z0-9][a-z0-9_-]*; this is looser (upper case for
# violation names) but still can never form "..", a separator or a hidden file.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"unsafe {what} for a storage path: {value!r}")
    return value


def _rel(top: str, camera_id: str, event_id: int, violation: str, when: datetime, ext: str) -> str:
    if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id < 1:
        raise ValueError(f"event id must be a positive int, got {event_id!r}")
    if when.tzinfo is None:
        raise ValueError("the event time must be timezone-aware (UTC)")
    day = when.astimezone(timezone.utc).strftime("%Y-%m-%d")
    name = f"{event_id}-{_name(violation, 'violation')}.{ext}"
    return f"{top}/{_name(camera_id, 'camera id')}/{day}/{name}"


def clip_rel_path(camera_id: str, event_id: int, violation: str, when: datetime) -> str:
    return _rel("clips", camera_id, event_id, violation, when, "mp4")


def snapshot_rel_path(camera_id: str, event_id: int, violation: str, when: datetime) -> str:
    return _rel("snapshots", camera_id, event_id, violation, when, "jpg")


def check_rel_path(rel_path: str) -> str:
    """Return ``rel_path`` if it is a plain relative POSIX path that stays under the root.

    Refuses absolute paths, ``..`` anywhere, backslashes (a Windows-style escape) and NULs,
    so a row in the database can never point outside the storage root."""
    if not isinstance(rel_path, str) or not rel_path:
        raise ValueError(f"empty or non-string storage path: {rel_path!r}")
    if "\\" in rel_path or "\x00" in rel_path:
        raise ValueError(f"storage path has a backslash or NUL: {rel_path!r}")
    p = PurePosixPath(rel_path)
    if p.is_absolute() or ".." in p.parts:
        raise ValueError(f"storage path escapes the storage root: {rel_path!r}")
    if p.parts in ((), (".",)):
        raise ValueError(f"storage path names the root itself: {rel_path!r}")
    return rel_path


def resolve(storage_root: str | os.PathLike[str], rel_path: str) -> Path:
    """Absolute path of a stored relative path; ValueError if it would leave the root.

    Besides the lexical check, the resolved result must stay inside the resolved root, so
    a symlink planted under the root cannot point evidence reads elsewhere."""
    check_rel_path(rel_path)
    root = Path(storage_root).resolve()
    target = (root / rel_path).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"storage path resolves outside the storage root: {rel_path!r}")
    return target


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename inside ``directory`` durable (POSIX; a no-op where dirs cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename itself still happened
    finally:
        os.close(fd)


def publish(tmp_path: str | os.PathLike[str], final_path: str | os.PathLike[str]) -> None:
    """Atomically move a fully written temp file to its final name in the same folder.

    Readers see either nothing or the complete file, never a half-written one, and the
    data is on disk before the name appears."""
    with open(tmp_path, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, final_path)
    fsync_dir(Path(final_path).parent)
