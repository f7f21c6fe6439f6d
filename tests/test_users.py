"""Users, passwords (scrypt), tokens and roles on a real SQLite file, and `epatrol user add`."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from epatrol.common.errors import Conflict, Invalid, NotFound
from epatrol.common.passwords import check_password, hash_password
from epatrol.common.times import utcnow
from epatrol.evidence.review import users
from epatrol.evidence.store.db import Database
from epatrol.migrations import open_database


@pytest.fixture
def db(tmp_path: Path):
    d = open_database(f"sqlite:///{tmp_path / 'epatrol.db'}")
    yield d
    d.close()


def test_password_hashes_are_salted_scrypt() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$32768$8$1$")
    assert check_password("correct horse", a) and check_password("correct horse", b)
    assert not check_password("correct hors", a)
    assert not check_password("correct horse", "scrypt$garbage")
    assert not check_password("correct horse", "bcrypt$1$2$3$4$5")


def test_roles_are_ranked() -> None:
    assert users.has_role("admin", "officer") and users.has_role("officer", "viewer")
    assert not users.has_role("viewer", "officer") and not users.has_role("officer", "admin")
    assert not users.has_role("intruder", "viewer")


def test_users_and_tokens(db: Database) -> None:
    u = users.create_user(db, "li.wei", "s3cret-pass", "officer")
    assert (u.username, u.role, u.disabled) == ("li.wei", "officer", False)
    with db.engine.connect() as c:
        stored = c.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert "s3cret-pass" not in stored
    with pytest.raises(Conflict):
        users.create_user(db, "li.wei", "another-pass", "viewer")
    for name, pw, role in (("Li Wei", "s3cret-pass", "officer"), ("ok", "short", "officer"), ("ok", "s3cret-pass", "root"), ("samename", "SameName", "viewer")):
        with pytest.raises(Invalid):
            users.create_user(db, name, pw, role)

    assert users.authenticate(db, "li.wei", "s3cret-pass") == u
    assert users.authenticate(db, "li.wei", "wrong-pass") is None
    assert users.authenticate(db, "nobody", "s3cret-pass") is None

    token, expires = users.issue_token(db, "li.wei", 3600)
    assert len(token) >= 40 and expires > utcnow()
    assert users.user_for_token(db, token) == u
    with db.engine.connect() as c:
        hashes = c.execute(text("SELECT token_sha256 FROM auth_tokens")).scalars().all()
    assert token not in hashes and len(hashes) == 1
    assert users.user_for_token(db, token + "x") is None
    assert users.user_for_token(db, "x" * 10_000) is None
    users.revoke_token(db, token)
    assert users.user_for_token(db, token) is None

    # Expired tokens stop working.
    token, _ = users.issue_token(db, "li.wei", 3600)
    with db.engine.begin() as c:
        c.execute(text("UPDATE auth_tokens SET expires_at = :t"), {"t": (utcnow() - timedelta(seconds=1)).replace(tzinfo=None)})
    assert users.user_for_token(db, token) is None


def test_password_change_and_disabling_sign_out(db: Database) -> None:
    users.create_user(db, "boss", "admin-pass-1", "admin")
    users.create_user(db, "li", "officer-pass", "officer")
    token, _ = users.issue_token(db, "li", 3600)
    users.update_user(db, "li", role="viewer")
    assert users.user_for_token(db, token).role == "viewer"  # roles apply at once, sign-in kept
    users.update_user(db, "li", password="new-officer-pass")
    assert users.user_for_token(db, token) is None
    assert users.authenticate(db, "li", "new-officer-pass") is not None
    token, _ = users.issue_token(db, "li", 3600)
    users.update_user(db, "li", disabled=True)
    assert users.user_for_token(db, token) is None
    assert users.authenticate(db, "li", "new-officer-pass") is None
    with pytest.raises(NotFound):
        users.update_user(db, "ghost", role="viewer")


def test_the_last_admin_stays(db: Database) -> None:
    users.create_user(db, "boss", "admin-pass-1", "admin")
    with pytest.raises(Conflict, match="last active admin"):
        users.update_user(db, "boss", role="officer")
    with pytest.raises(Conflict, match="last active admin"):
        users.update_user(db, "boss", disabled=True)
    users.create_user(db, "deputy", "admin-pass-2", "admin")
    assert users.update_user(db, "boss", role="officer").role == "officer"


def test_cli_user_add(tmp_path: Path) -> None:
    config = tmp_path / "epatrol.yaml"
    config.write_text(yaml.safe_dump({"storage": {"root": str(tmp_path / "data")}, "cameras": [{"id": "c", "name": "c", "url": "x.mp4"}]}))

    def add(*args: str, password: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "epatrol", "user", "add", "-c", str(config), *args],
            input=password, capture_output=True, text=True, timeout=120,
        )

    ok = add("zhang", "--role", "officer", "--password-stdin", password="patrol-2024\n")
    assert ok.returncode == 0, ok.stderr
    assert "zhang (officer) created" in ok.stdout
    again = add("zhang", "--role", "viewer", "--password-stdin", password="patrol-2024\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    weak = add("wang", "--role", "viewer", "--password-stdin", password="short\n")
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    no_tty = add("wang", "--role", "viewer")
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr
    with open_database(f"sqlite:///{tmp_path / 'data' / 'epatrol.db'}") as db:
        assert users.authenticate(db, "zhang", "patrol-2024").role == "officer"
