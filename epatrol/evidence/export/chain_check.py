"""Checking a case export against the box that made it (``epatrol verify-export --box-config``).

A signature proves who signed the package; this proves the package's history is the box's own:
the export's ledger head and every event's ledger entries must be entries of this box's hash
chain, with the same hashes. Run on the box (or with a copy of its database); the chain itself is
checked by ``epatrol verify``.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from sqlalchemy import select

from epatrol.evidence.export.export_check import ExportProblem
from epatrol.evidence.store.db import Database
from epatrol.evidence.store.schema import LedgerEntry


def check_against_chain(path: Path, db: Database) -> tuple[list[ExportProblem], int]:
    """(problems, entries checked). Call after ``verify_export`` found the package intact."""
    claims: list[tuple[str, int, str]] = []  # (where in the package, seq, hash)
    with zipfile.ZipFile(path) as zf:
        head = json.loads(zf.read("case.json")).get("ledger_head") or {}
        if head.get("hash"):
            claims.append(("case.json", int(head["seq"]), head["hash"]))
        for name in zf.namelist():
            if re.fullmatch(r"events/\d+\.json", name):
                claims += [(name, int(e["seq"]), e["hash"]) for e in json.loads(zf.read(name)).get("ledger", [])]
    with db.read_session() as s:
        known = dict(s.execute(select(LedgerEntry.seq, LedgerEntry.hash).where(LedgerEntry.seq.in_({c[1] for c in claims}))).all())
    problems = [
        ExportProblem(where, "not-this-box", f"ledger entry {seq} is {digest[:16]}... here, "
                      + (f"{known[seq][:16]}... in this box's chain" if seq in known else "absent from this box's chain"))
        for where, seq, digest in claims if known.get(seq) != digest
    ]
    return problems, len(claims)
