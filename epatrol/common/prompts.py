"""Reading a new password on the command line (the box's and the centre's user commands)."""

from __future__ import annotations

import argparse
import getpass
import sys


def read_password(args: argparse.Namespace) -> str | None:
    """From stdin with ``--password-stdin``, else typed twice at a terminal; None (with the
    reason printed) when neither is possible or the two differ."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("epatrol: no terminal to prompt on; pass --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        print("epatrol: the passwords differ", file=sys.stderr)
        return None
    return first
