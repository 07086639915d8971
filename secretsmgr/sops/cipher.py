"""AES-256-GCM over single values, with sops's 32-byte IVs and path AAD."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from secretsmgr.errors import IntegrityError
from secretsmgr.sops.encvalue import format_enc
from secretsmgr.sops.model import EncValue
from secretsmgr.sops.values import Comment, Scalar, serialize

IV_SIZE = 32


if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@lru_cache(maxsize=64)
def _aead(key: bytes) -> AESGCM:
    # Imported here so key-less commands (check, audit) never load cryptography.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def encrypt_bytes(
    plain: bytes, type_name: str, key: bytes, aad: bytes, iv: bytes | None = None
) -> str:
    """Encrypt raw plaintext bytes of a given sops type; a fresh 32-byte IV unless given."""
    nonce = iv if iv is not None else os.urandom(IV_SIZE)
    sealed = _aead(key).encrypt(nonce, plain, aad)
    return format_enc(EncValue(data=sealed[:-16], iv=nonce, tag=sealed[-16:], type=type_name))


def encrypt_value(value: Scalar | Comment, key: bytes, aad: bytes, iv: bytes | None = None) -> str:
    """Encrypt one value to its ENC string."""
    plain, type_name = serialize(value)
    return encrypt_bytes(plain, type_name, key, aad, iv)


def open_enc(enc: EncValue, key: bytes, aad: bytes) -> bytes:
    """Decrypt a parsed value to its plaintext bytes; ``IntegrityError`` when it fails."""
    from cryptography.exceptions import InvalidTag

    try:
        return _aead(key).decrypt(enc.iv, enc.data + enc.tag, aad)
    except InvalidTag as exc:
        raise IntegrityError("value fails to authenticate") from exc
