"""The review side of the `epatrol` command: `user add`, `verify-export`, `export-key`, and the
ledger half of `verify`. cli.py wires them in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from epatrol.common.prompts import read_password
from epatrol.config import Config
from epatrol.evidence.store.schema import ROLES


def add_parsers(sub, with_config) -> None:
    user = sub.add_parser("user", help="manage the users of the review API")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = with_config(user_sub.add_parser("add", help="create a user (the password is read from a prompt or stdin)"))
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES, help="viewer: read only; officer: review, cases, export; admin: users, audit log, and all an officer may do")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    check = sub.add_parser("verify-export", help="check a case export zip; exit 1 naming each missing, extra or altered file or a bad signature; "
                           "exit 3 if intact but its origin is unproven (no --public-key)")
    check.add_argument("file", type=Path)
    check.add_argument("--public-key", type=Path, help="the exporter's Ed25519 public key (PEM, from `epatrol export-key`): check the manifest's signature")
    check.add_argument("--unsigned-ok", action="store_true", help="without --public-key: exit 0 when the files match the manifest, "
                       "accepting that a forger could have re-hashed them")
    check.add_argument("--box-config", type=Path, metavar="CONFIG", help="the exporting box's config.yaml: also check that the "
                       "export's ledger entries are entries of that box's hash chain (run on the box)")
    with_config(sub.add_parser("export-key", help="print the public key (PEM) and SHA-256 fingerprint that check this box's case exports"))


def cmd_user(cfg: Config, args: argparse.Namespace) -> int:
    from epatrol.common.errors import EvidenceError
    from epatrol.evidence.review.users import create_user
    from epatrol.migrations import open_database

    password = read_password(args)
    if password is None:
        return 1
    with open_database(cfg.database_url) as db:
        try:
            user = create_user(db, args.username, password, args.role)
        except EvidenceError as e:
            print(f"epatrol: {e}", file=sys.stderr)
            return 1
    print(f"user {user.username} ({user.role}) created")
    return 0


def _matches_box_chain(path: Path, box_config: Path) -> bool:
    from epatrol.config import load_config
    from epatrol.evidence.export.chain_check import check_against_chain
    from epatrol.evidence.store.db import Database

    with Database(load_config(box_config).database_url) as db:
        problems, checked = check_against_chain(path, db)
    for p in problems:
        print(p)
    if problems:
        print(f"{path}: NOT this box's history ({len(problems)} of {checked} ledger entries differ from its chain)")
        return False
    print(f"{path}: its {checked} ledger entries are entries of this box's hash chain")
    return True


def cmd_verify_export(args: argparse.Namespace) -> int:
    from epatrol.evidence.export.export_check import verify_export
    from epatrol.evidence.export.signing import (
        SigningKeyError,
        fingerprint,
        load_public_key,
    )

    try:
        key = load_public_key(args.public_key) if args.public_key else None
    except SigningKeyError as e:
        print(f"epatrol: {e}", file=sys.stderr)
        return 2
    report = verify_export(args.file, key)
    for p in report.problems:
        print(p)
    if report.problems:
        print(f"{args.file}: NOT intact ({len(report.problems)} problem(s))")
        return 1
    if args.box_config is not None and not _matches_box_chain(args.file, args.box_config):
        return 1
    if report.origin_proven:
        print(f"{args.file}: intact, {report.files_checked} files match the manifest; signature valid (key sha256 {fingerprint(key)})")
        return 0
    signed = "signed, signature not checked" if report.signed else "not signed"
    print(f"{args.file}: {report.files_checked} files match the manifest ({signed}); ORIGIN UNPROVEN: without the exporter's "
          "public key, a package altered and re-hashed by anyone would pass these checks too")
    if args.unsigned_ok:
        print("accepted without proof of origin (--unsigned-ok)")
        return 0
    print("pass --public-key (`epatrol export-key` on the box prints it), or --unsigned-ok to accept an unproven origin", file=sys.stderr)
    return UNPROVEN


UNPROVEN = 3  # verify-export: the files match the manifest, but nothing proves who made it


def cmd_export_key(cfg: Config, args: argparse.Namespace) -> int:
    from epatrol.evidence.export.signing import (
        SigningKeyError,
        export_key_path,
        fingerprint,
        load_private_key,
        public_pem,
    )

    try:
        path = export_key_path(cfg.review.signing_key, cfg.storage.root)  # made here if nothing made it yet
        public = load_private_key(path).public_key()
    except (SigningKeyError, OSError) as e:
        print(f"epatrol: review.signing_key: {e}", file=sys.stderr)
        return 2
    print(public_pem(public), end="")
    print(f"sha256 {fingerprint(public)}  (Ed25519; the private key is {path})")
    return 0


def report_ledger(db) -> int:
    """Print the hash chain's problems and head; returns the number of problems."""
    from epatrol.evidence.export.verify import verify_ledger

    report = verify_ledger(db)
    for p in report.problems:
        print(f"LEDGER: {p}")
    state = "intact" if not report.problems else f"{len(report.problems)} problem(s)"
    print(f"ledger {state}: {report.entries} entries, head seq {report.head_seq} sha256 {report.head_hash}")
    return len(report.problems)
