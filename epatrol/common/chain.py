"""The hash chain's hashing rule, shared by the box's evidence ledger and the centre's audit trail.

Entry ``n`` is hashed as::

    sha256( prev_hash + "\\n" + header + "\\n" + payload )

where ``prev_hash`` is entry ``n-1``'s hash (64 zeros for the first), ``header`` is the
canonical JSON of ``{"seq", "at", "kind", "subject", "event_id"}``. Canonical JSON: keys
sorted, no spaces, ASCII only. That is all an auditor needs to recompute a chain with any
SHA-256 tool.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical(obj: Any) -> str:
    # The JSON round trip first turns tuples into lists and non-string keys into strings,
    # exactly as the JSON columns will when the row is read back for verification.
    plain = json.loads(json.dumps(obj))
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(
    prev_hash: str, seq: int, at: datetime, kind: str, subject: str, event_id: int | None, payload: str
) -> str:
    header = canonical({"seq": seq, "at": at.isoformat(), "kind": kind, "subject": subject, "event_id": event_id})
    return hashlib.sha256(f"{prev_hash}\n{header}\n{payload}".encode("ascii")).hexdigest()
