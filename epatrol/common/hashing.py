"""SHA-256 of evidence files: the digest stored in the database and re-checked by verify."""

from __future__ import annotations

import hashlib
from os import PathLike


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | PathLike[str]) -> str:
    """Hex digest of a file, read in fixed-size chunks so clips never sit whole in memory."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
