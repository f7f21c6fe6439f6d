"""Checking a case export (``epatrol verify-export``): is every file there, unchanged, nothing
added, and, given the exporter's public key, is the manifest signed by it?

The hashes only show the files agree with the manifest: whoever alters a clip can re-hash the
event record and the manifest to match. Only the signature, checked with a public key obtained
apart from the zip, proves where the package came from (``ExportReport.origin_proven``).

An archive with a dangerous entry name (absolute, ``..``, a backslash or drive letter, a
symlink, a duplicate) is refused before anything in it is read.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from epatrol.evidence.export import signing
from epatrol.evidence.export.case_export import FORMAT, MANIFEST, SIGNATURE

MAX_MANIFEST_BYTES = 64 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ExportProblem:
    path: str  # the file in the package concerned ("" for the package itself)
    reason: str  # unsafe | unreadable | missing | extra | altered | inconsistent | unsigned | bad-signature
    detail: str

    def __str__(self) -> str:
        return f"{self.reason.upper()}: {self.path or '(package)'}: {self.detail}"


@dataclass
class ExportReport:
    problems: list[ExportProblem] = field(default_factory=list)
    files_checked: int = 0
    signed: bool = False
    signature_ok: bool | None = None  # None: no key given, or nothing to check

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def origin_proven(self) -> bool:
        """Intact and signed by the key it was checked with; without a key, never."""
        return self.ok and self.signature_ok is True


def unsafe_name(name: str) -> str | None:
    """Why ``name`` must not be extracted anywhere, or None if it is a plain relative path."""
    if not name or name.endswith("/"):
        return "empty name or a directory entry"
    if "\\" in name or "\x00" in name:
        return "backslash or NUL in the name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in parts) or "" in name.split("/"):
        return "'..', '.' or an empty component in the path"
    return None


def _digest(zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with zf.open(name) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _manifest_files(manifest: Any) -> list[dict[str, Any]] | str:
    """The manifest's file list, or why it is unusable."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"not an {FORMAT} manifest"
    files = manifest.get("files")
    if not isinstance(files, list):
        return "the manifest has no file list"
    for f in files:
        if not (
            isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str)
            and _SHA256.fullmatch(f["sha256"]) and isinstance(f.get("size"), int)
        ):
            return f"malformed manifest entry: {f!r:.200}"
    return files


def verify_export(path: Path, public_key: Ed25519PublicKey | None = None) -> ExportReport:
    report = ExportReport()
    bad = report.problems.append
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        bad(ExportProblem("", "unreadable", f"not a readable zip file: {e}"))
        return report
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        for info in infos:
            why = unsafe_name(info.filename)
            if why is None and stat.S_ISLNK(info.external_attr >> 16):
                why = "a symbolic link"
            if why is None and names.count(info.filename) > 1:
                why = "the name appears more than once"
            if why:
                bad(ExportProblem(info.filename, "unsafe", f"{why}; the archive is refused"))
        if report.problems:
            return report

        if MANIFEST not in names:
            bad(ExportProblem(MANIFEST, "missing", "the package has no manifest"))
            return report
        if zf.getinfo(MANIFEST).file_size > MAX_MANIFEST_BYTES:
            bad(ExportProblem(MANIFEST, "unreadable", "the manifest is implausibly large"))
            return report
        try:
            manifest_bytes = zf.read(MANIFEST)
            files = _manifest_files(json.loads(manifest_bytes))
        except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as e:
            files = f"the manifest cannot be read: {e}"
        if isinstance(files, str):
            bad(ExportProblem(MANIFEST, "unreadable", files))
            return report

        report.signed = SIGNATURE in names
        if public_key is not None:
            if not report.signed:
                bad(ExportProblem(SIGNATURE, "unsigned", "a public key was given but the manifest is not signed"))
            else:
                report.signature_ok = signing.check(public_key, manifest_bytes, zf.read(SIGNATURE))
                if not report.signature_ok:
                    bad(ExportProblem(SIGNATURE, "bad-signature", "the manifest's signature does not verify with this key"))

        listed: dict[str, dict[str, Any]] = {}
        for f in files:
            why = unsafe_name(f["path"])
            if why or f["path"] in (MANIFEST, SIGNATURE) or f["path"] in listed:
                bad(ExportProblem(f["path"], "unsafe", f"listed in the manifest: {why or 'reserved or repeated name'}"))
                continue
            listed[f["path"]] = f
        actual: dict[str, str] = {}
        for name, f in listed.items():
            if name not in names:
                bad(ExportProblem(name, "missing", "listed in the manifest but not in the package"))
                continue
            try:
                digest, size = _digest(zf, name)
            except (zipfile.BadZipFile, OSError) as e:  # a damaged entry (its CRC fails)
                bad(ExportProblem(name, "altered", f"cannot be read back: {e}"))
                continue
            report.files_checked += 1
            actual[name] = digest
            if digest != f["sha256"] or size != f["size"]:
                bad(ExportProblem(name, "altered", f"SHA-256 {digest} and {size} bytes; the manifest says {f['sha256']} and {f['size']}"))
        for name in names:
            if name not in listed and name not in (MANIFEST, SIGNATURE):
                bad(ExportProblem(name, "extra", "in the package but not in the manifest"))
        _check_records(zf, listed, actual, bad)
    return report


def _check_records(zf: zipfile.ZipFile, listed: dict, actual: dict[str, str], bad) -> None:
    """Each event record's clip and snapshot hashes (recorded at capture) must be the files'."""
    for name in listed:
        if not re.fullmatch(r"events/\d+\.json", name) or name not in actual:
            continue
        try:
            record = json.loads(zf.read(name))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile):
            bad(ExportProblem(name, "inconsistent", "the event record is not valid JSON"))
            continue
        for kind in ("clip", "snapshot"):
            ref = record.get(kind) if isinstance(record, dict) else None
            if not isinstance(ref, dict):
                continue
            target = ref.get("path")
            if target not in actual:
                bad(ExportProblem(name, "inconsistent", f"its {kind} {target!r} is not in the package"))
            elif actual[target] != ref.get("sha256"):
                bad(ExportProblem(target, "inconsistent", f"does not match the SHA-256 recorded at capture in {name}"))
