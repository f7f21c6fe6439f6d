"""Ed25519 signatures over case-export manifests (``cryptography``).

Keys are PEM files as OpenSSL writes them::

    openssl genpkey -algorithm ed25519 -out export-key.pem          # private, stays on the box
    openssl pkey -in export-key.pem -pubout -out export-key.pub.pem  # public, for whoever checks
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM = "Ed25519"


class SigningKeyError(Exception):
    """A key file that cannot be used; the message names the file."""


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise SigningKeyError(f"{path}: cannot read the key file: {e.strerror or e}") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as e:
        raise SigningKeyError(f"{path}: not an unencrypted PEM private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: the key is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(_read(path))
    except (ValueError, TypeError) as e:
        raise SigningKeyError(f"{path}: not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: the key is not an Ed25519 key")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key: names the key in a manifest."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The signature file's contents: base64 of the 64-byte signature and a newline."""
    return base64.b64encode(key.sign(data)) + b"\n"


def check(key: Ed25519PublicKey, data: bytes, signature_file: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_file.strip(), validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
