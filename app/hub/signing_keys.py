"""MAVLink 2 signing keys: one per drone link, derived from the hub's own signing secret.

MAVLink signing is symmetric (a truncated SHA-256 over the key and the frame), so the hub must hold every
drone's key to check it. It holds exactly one secret instead: a file of 32 random bytes (hex, mode 0600,
`watchfloor hub --mavlink-secret FILE`, made by the hub when missing, never overwritten), and derives each
device's key as HMAC-SHA256(secret, device id). Device ids are never reused, so neither are keys. No key is in
the event log, the consoles' picture or a command: the registry says only that the device signs.
`watchfloor device add --credential mavlink_signing --mavlink-secret FILE` (run where the hub is) prints a new
device's key once, for its ground link.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from app.hub.certificates import CertificateError, write_once

SECRET_BYTES = 32
#: Separates these keys from anything else ever derived from the same secret.
_LABEL = b"watchfloor mavlink2 signing key\x00"


class SigningSecretError(Exception):
    """The signing secret cannot be read or made; the message says what to do."""


def create_signing_secret(path: Path) -> bytes:
    """A new secret in `path` (mode 0600); refuses to overwrite one."""
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        write_once(path, secret.hex().encode() + b"\n")
    except CertificateError as exc:
        raise SigningSecretError(str(exc)) from None
    return secret


def load_signing_secret(path: Path) -> bytes:
    """The secret in `path`, as `create_signing_secret` wrote it."""
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as exc:
        raise SigningSecretError(f"cannot read the MAVLink signing secret {path}: {exc}") from None
    if len(secret) != SECRET_BYTES:
        raise SigningSecretError(f"{path} is not a MAVLink signing secret ({SECRET_BYTES} bytes in hex)")
    return secret


def drone_key(secret: bytes, device_id: str) -> bytes:
    """The 32-byte MAVLink 2 signing key of device `device_id`."""
    return hmac.new(secret, _LABEL + device_id.encode(), hashlib.sha256).digest()
