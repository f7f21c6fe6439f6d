"""Password hashing with scrypt (stdlib ``hashlib.scrypt``, a memory-hard standard KDF).

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``. The cost is kept with each hash,
so raising it later leaves existing users able to sign in.

``check_password_policy`` is the one rule for new passwords on the box and the centre: at least
``MIN_PASSWORD_CHARS`` characters, not the username, not one character or a short piece
repeated, not a run (12345678..., abcdefgh..., qwertyuiop) and not a common password
(data/common_passwords.txt), nor one with only digits or symbols added around it."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import string
from pathlib import Path

from epatrol.common.errors import Invalid

# 2**15 x 8 x 128 bytes = 32 MiB and about 0.1 s a hash: costly to guess at, cheap for a login.
N, R, P = 2**15, 8, 1
KEY_BYTES = 32
MAX_PASSWORD_CHARS = 1024  # a bound on the work a login request can ask for
# Account rules the box and the centre share.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
MIN_PASSWORD_CHARS = 10
MAX_TOKEN_CHARS = 200  # ours are 43; anything longer is not worth hashing


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
        maxmem=2 * 128 * n * r * p + 2**20, dklen=KEY_BYTES,
    )


def hash_password(password: str) -> str:
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"passwords are limited to {MAX_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, N, R, P)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(key).decode()}"


def check_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for any malformed stored hash."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        algo, n, r, p, salt, key = stored.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked against when the username is unknown, so a login costs the same either way
    and response times do not reveal which usernames exist."""
    return hash_password(secrets.token_urlsafe(16))


COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common_passwords.txt"
# Runs a password must not be part of the whole of: the alphabet, the digits (wrapping, so
# 7890123456 counts), and the keyboard's rows; each also backwards.
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "01234567890123456789", "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn7ujm")
_PADDING = string.digits + string.punctuation + " "


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, username: str) -> str:
    """``password`` if it may be a new password for ``username``, else Invalid naming the rule.

    The username rule ignores case; it refuses a password containing the username when the
    username has 3 or more characters (a 2-letter name such as "li" occurs in many good ones)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(f"password: too short; a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise Invalid(f"password: too long; passwords are limited to {MAX_PASSWORD_CHARS} characters")
    low, name = password.lower(), username.lower()
    if low == name or (len(name) >= 3 and name in low):
        raise Invalid("password: must not be or contain the username")
    if len(set(password)) == 1:
        raise Invalid("password: must not be one character repeated (like 11111111 or aaaaaaaa)")
    if any(len(password) % n == 0 and low == low[:n] * (len(low) // n) for n in range(2, 5)):
        raise Invalid("password: must not be a short piece repeated (like 12121212 or abcabcabcabc)")
    if any(low in run or low in run[::-1] for run in _RUNS):
        raise Invalid("password: must not be a run of characters (like 1234567890, abcdefghij or qwertyuiop)")
    common = common_passwords()
    core = low.strip(_PADDING)
    if low in common:
        raise Invalid("password: too common (it is on the list of the most used passwords); choose another")
    if core and core in common:
        raise Invalid("password: a common password with digits or symbols added (like Password2024!); choose another")
    return password
