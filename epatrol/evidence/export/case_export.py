"""Case export: one zip an officer hands over with a penalty case, checkable without epatrol.

    case.json           the case, its notes, who exported it and when, the ledger head
    events/<id>.json    one record per event: camera id and name, site, zone, violation and
                        its label, the unit answering for the spot (门前三包), times in UTC
                        and local time, model name and SHA-256, detections, the review
                        history, the clip and snapshot, the event's ledger entries
    summary.txt         the same in plain words for a reader without tools (summary.py)
    clips/<id>.mp4      the evidence clip, byte for byte as recorded
    snapshots/<id>.jpg  the snapshot
    manifest.json       SHA-256 and size of every file above
    manifest.sig        optional: Ed25519 signature of manifest.json (base64)

Every clip and snapshot is re-hashed while it is copied in; one that no longer matches its
recorded SHA-256 stops the export (tampered evidence is never packaged as good). Names in
the zip are built from ids only, never from stored paths. export_check.py checks a package.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from epatrol import __version__
from epatrol.common.errors import Conflict
from epatrol.common.times import to_local, zone_name
from epatrol.evidence.export import signing
from epatrol.evidence.export.summary import summary_text
from epatrol.evidence.recording.paths import resolve
from epatrol.evidence.review import cases, decisions
from epatrol.evidence.store import ledger
from epatrol.evidence.store.db import Database, EventView
from epatrol.evidence.store.ledger import HEAD_ID
from epatrol.evidence.store.records import review_json
from epatrol.evidence.store.schema import EvidenceFile, LedgerHead, utcnow

FORMAT, VERSION = "epatrol-case-export", 1
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
_EXT = {"clip": ("clips", "mp4"), "snapshot": ("snapshots", "jpg")}
_CHUNK = 1 << 20


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


class _Package:
    """A zip being written, remembering the SHA-256 and size of everything put in it."""

    def __init__(self, path: Path, when: datetime) -> None:
        self.zip = zipfile.ZipFile(path, "w", allowZip64=True)
        self.date_time = when.timetuple()[:6]  # zip times are naive: these are UTC
        self.files: list[dict[str, Any]] = []

    def _info(self, name: str, compress: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.date_time)
        info.compress_type = compress
        info.external_attr = 0o644 << 16  # a plain file, readable
        return info

    def add_bytes(self, name: str, data: bytes) -> None:
        self.zip.writestr(self._info(name, zipfile.ZIP_DEFLATED), data)
        self.files.append({"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})

    def add_file(self, name: str, source: Path, expected_sha256: str, what: str) -> None:
        """Copy ``source`` in (stored: video and JPEG do not compress), hashing as it goes."""
        digest, size = hashlib.sha256(), 0
        try:
            with open(source, "rb") as src, self.zip.open(self._info(name, zipfile.ZIP_STORED), "w", force_zip64=True) as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            raise Conflict(f"the {what} is missing from storage ({source}); run `epatrol verify`") from None
        if digest.hexdigest() != expected_sha256:
            raise Conflict(
                f"the {what} no longer matches its recorded SHA-256 ({source}); it was not exported. "
                "Run `epatrol verify`"
            )
        self.files.append({"path": name, "sha256": expected_sha256, "size": size})


def _times(t: datetime | None, zone: tzinfo | None) -> dict[str, str | None] | None:
    return None if t is None else {"utc": t.isoformat(), "local": to_local(t, zone)}


def _evidence_rows(db: Database, event_ids: list[int]) -> tuple[dict[tuple[int, str], EvidenceFile], dict[int, list]]:
    """Newest file of each kind per event, and each event's ledger entries."""
    files: dict[tuple[int, str], EvidenceFile] = {}
    with db.read_session() as s:
        for f in s.scalars(select(EvidenceFile).where(EvidenceFile.event_id.in_(event_ids)).order_by(EvidenceFile.id)):
            files[(f.event_id, f.kind)] = f
        return files, ledger.event_history(s, event_ids)


def _ledger_head(db: Database) -> dict[str, Any]:
    with db.read_session() as s:
        head = s.get(LedgerHead, HEAD_ID)
        return {"seq": head.seq, "hash": head.hash} if head else {"seq": 0, "hash": None}


def _event_json(ev: EventView, files: dict, entries: list, reviews: list, zone: tzinfo | None) -> dict[str, Any]:
    def file_json(kind: str) -> dict[str, Any] | None:
        f = files.get((ev.id, kind))
        if f is None:
            return None
        folder, ext = _EXT[kind]
        return {
            "path": f"{folder}/{ev.id}.{ext}",
            "sha256": f.sha256,
            "size_bytes": f.size_bytes,
            "media_start": _times(f.media_start_utc, zone),
            "media_end": _times(f.media_end_utc, zone),
            "registered": _times(f.created_at, zone),
        }

    return {
        "event_id": ev.id,
        "camera": {"id": ev.camera_id, "name": ev.camera_name, "site": ev.site},
        "zone": ev.zone,
        "violation": ev.violation,
        # From the configuration when it was recorded (recording/context.py); None before that.
        "violation_label": (ev.details or {}).get("violation_label"),
        "responsible": (ev.details or {}).get("responsible"),
        "timezone": zone_name(zone),
        "started": _times(ev.started_at, zone),
        "alerted": _times(ev.alerted_at, zone),
        "ended": _times(ev.ended_at, zone),
        "end_reason": ev.end_reason,
        "model": {"name": ev.model_name, "sha256": ev.model_sha256},
        "detections": ev.detections,
        "details": ev.details,
        "clip": file_json("clip"),
        "clip_state": ev.clip_state,  # partial: cut off by a crash or power cut, plays up to the cut
        "snapshot": file_json("snapshot"),
        "reviews": [review_json(r, zone) for r in reviews],
        "ledger": entries,
    }


def build_case_export(
    db: Database,
    case_id: int,
    storage_root: Path,
    out: Path,
    *,
    exported_by: str,
    zone: tzinfo | None = None,
    signing_key: Ed25519PrivateKey | None = None,
) -> dict[str, Any]:
    """Write case ``case_id``'s package to ``out`` and return its manifest.

    Raises NotFound for an unknown case, Conflict for a case with no events (nothing to hand
    over) and Conflict when evidence fails its checksum or is missing; ``out`` is removed then,
    so no partial package is left behind."""
    case = cases.get_case(db, case_id)
    now = utcnow()
    views = [db.get_event(eid) for eid in case.event_ids]
    events = [ev for ev in views if ev is not None]
    if not events:
        raise Conflict(f"case {case_id} has no events to export")
    files, history = _evidence_rows(db, [ev.id for ev in events])
    pkg = _Package(out, now)
    records = []
    try:
        for ev in events:
            record = _event_json(ev, files, history.get(ev.id, []), decisions.history(db, ev.id), zone)
            records.append(record)
            for kind in ("clip", "snapshot"):
                f = files.get((ev.id, kind))
                if f is not None:
                    pkg.add_file(record[kind]["path"], resolve(storage_root, f.path), f.sha256, f"{kind} of event {ev.id}")
            pkg.add_bytes(f"events/{ev.id}.json", _json_bytes(record))
        case_json = {
            "case": {
                "id": case.id, "title": case.title, "status": case.status,
                "created_by": case.created_by, "created": _times(case.created_at, zone),
                "closed_by": case.closed_by, "closed": _times(case.closed_at, zone),
            },
            "notes": [{"id": n.id, "text": n.text, "by": n.by, "at": _times(n.at, zone)} for n in case.notes],
            "events": [ev.id for ev in events],
            "exported": {"by": exported_by, "at": _times(now, zone)},
            "timezone": zone_name(zone),
            "ledger_head": _ledger_head(db),
        }
        pkg.add_bytes("case.json", _json_bytes(case_json))
        pkg.add_bytes("summary.txt", summary_text(case_json, records).encode("utf-8"))
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "generator": f"epatrol {__version__}",
            "case_id": case.id,
            "created_at": now.isoformat(),
            "signature": None if signing_key is None else {
                "algorithm": signing.ALGORITHM, "public_key_sha256": signing.fingerprint(signing_key.public_key()),
            },
            "files": sorted(pkg.files, key=lambda f: f["path"]),
        }
        manifest_bytes = _json_bytes(manifest)
        pkg.zip.writestr(pkg._info(MANIFEST, zipfile.ZIP_DEFLATED), manifest_bytes)
        if signing_key is not None:
            pkg.zip.writestr(pkg._info(SIGNATURE, zipfile.ZIP_STORED), signing.sign(signing_key, manifest_bytes))
        pkg.zip.close()
    except BaseException:
        pkg.zip.close()
        out.unlink(missing_ok=True)
        raise
    return manifest
