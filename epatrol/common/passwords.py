"""Password hashing with scrypt (stdlib ``hashlib.scrypt``, a memory-hard standard KDF).

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``. The cost is kept with each hash,
so raising it later leaves existing users able to sign in."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# 2**15 x 8 x 128 bytes = 32 MiB and about 0.1 s a hash: costly to guess at, cheap for a login.
N, R, P = 2**15, 8, 1
KEY_BYTES = 32
MAX_PASSWORD_CHARS = 1024  # a bound on the work a login request can ask for
# Account rules the box and the centre share.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
MIN_PASSWORD_CHARS = 8
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
