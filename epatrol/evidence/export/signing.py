"""Ed25519 signatures over case-export manifests (``cryptography``).

Every export is signed. Without ``review.signing_key`` the box makes its own key at first start,
``<storage>/keys/export-signing.pem`` (mode 0600) with ``export-signing.pub.pem`` beside it;
`epatrol export-key` prints the public key and its fingerprint for whoever checks exports.
A configured key is a PEM file as OpenSSL writes them::

    openssl genpkey -algorithm ed25519 -out export-key.pem          # private, stays on the box
    openssl pkey -in export-key.pem -pubout -out export-key.pub.pem  # public, for whoever checks
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM = "Ed25519"
DEFAULT_KEY = Path("keys") / "export-signing.pem"  # under the storage root
DEFAULT_PUBLIC_KEY = Path("keys") / "export-signing.pub.pem"


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


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _create_once(path: Path, data: bytes, mode: int) -> bool:
    """Write ``path`` whole, with ``mode``, unless it exists; False if another process was first."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, path)  # atomic, and never replaces a key that exists
        except FileExistsError:
            return False
        return True
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)


def export_key_path(configured: Path | None, storage_root: Path) -> Path:
    """The private key that signs exports: the configured one, else the box's own under the storage
    root, made (with its public key beside it) the first time it is needed."""
    if configured is not None:
        return Path(configured)
    path, public = Path(storage_root) / DEFAULT_KEY, Path(storage_root) / DEFAULT_PUBLIC_KEY
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        _create_once(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    if not public.exists():  # made with the key; remade from it if someone deleted it
        _create_once(public, public_pem(load_private_key(path).public_key()).encode("ascii"), 0o644)
    return path
