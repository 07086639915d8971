"""Passphrase-protected age identity files (``age-keygen | age -p > key.age``).

Such a file is an age file encrypted with a passphrase (one scrypt stanza), binary or armored;
inside is an ordinary identity file. sops reads them from ``SOPS_AGE_KEY``,
``SOPS_AGE_KEY_FILE`` and ``keys.txt`` alike (``age/encrypted_keys.go``), asking for the
passphrase only when an identity is needed; secretsmgr does the same. The decrypted text
lives in memory only.
"""

from __future__ import annotations

import pyrage

from secretsmgr.errors import ConfigError, KeyNotFoundError
from secretsmgr.keys.terminal import PassphrasePrompt

_BINARY = b"age-encryption.org/"
_ARMORED = b"-----BEGIN AGE ENCRYPTED FILE-----"


def is_protected(data: bytes) -> bool:
    """Whether ``data`` is an age-encrypted file (what a protected identity file is)."""
    return data.startswith(_BINARY) or data.lstrip().startswith(_ARMORED)


def open_protected(data: bytes, what: str, prompt: PassphrasePrompt) -> str:
    """The identity text inside ``data``; the passphrase comes from ``prompt``."""
    passphrase = prompt(what)
    try:
        plain = bytes(pyrage.passphrase.decrypt(data, passphrase))
    except (pyrage.DecryptError, ValueError) as exc:
        raise KeyNotFoundError(
            f"cannot open {what}: wrong passphrase, or not encrypted with a passphrase"
        ) from exc
    finally:
        del passphrase
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} does not hold an identity file") from exc
