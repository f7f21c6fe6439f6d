"""`epatrol centre-user add|list -c centre.yaml`: the centre's accounts (the first admin, and
dispatchers, handlers bound to a department, street chiefs bound to a street)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from epatrol.centre import accounts
from epatrol.centre.accounts import CENTRE_ROLES
from epatrol.cli_centre import centre_config_or_none
from epatrol.common.errors import EvidenceError
from epatrol.common.prompts import read_password
from epatrol.common.times import utcnow


def add_parsers(sub) -> None:
    users = sub.add_parser("centre-user", help="manage the command centre's users")
    users_sub = users.add_subparsers(dest="centre_user_command", required=True)
    add = users_sub.add_parser("add", help="create a centre user (password from a prompt or stdin)")
    add.add_argument("-c", "--config", required=True, type=Path, help="centre YAML configuration file")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=CENTRE_ROLES)
    add.add_argument("--department", help="a handler's department code (see workflow.departments)")
    add.add_argument("--street", help="a street chief's street, as the boxes name it (uplink locations)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    listing = users_sub.add_parser("list", help="list the centre's users")
    listing.add_argument("-c", "--config", required=True, type=Path, help="centre YAML configuration file")
    users.set_defaults(standalone=cmd_centre_user)


def cmd_centre_user(args: argparse.Namespace) -> int:
    from epatrol.migrations import open_centre_store

    cfg = centre_config_or_none(args.config)
    if cfg is None:
        return 2
    store = open_centre_store(cfg.database_url)
    try:
        if args.centre_user_command == "list":
            for p in accounts.list_users(store):
                print("\t".join([p.username, p.role, p.department or "", p.street or ""]))
            return 0
        password = read_password(args)
        if password is None:
            return 1
        try:
            p = accounts.create_user(store, args.username, password, args.role, departments=cfg.workflow.departments,
                                     department=args.department, street=args.street, now=utcnow())
        except EvidenceError as e:
            print(f"epatrol: {e}", file=sys.stderr)
            return 1
        print(f"created {p.username} ({p.role}{', ' + p.department if p.department else ''}{', ' + p.street if p.street else ''})")
        return 0
    finally:
        store.close()
