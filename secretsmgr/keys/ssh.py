"""SSH keys as age identities and recipients, as sops 3.11 reads them.

sops takes ``ssh-ed25519``/``ssh-rsa`` public keys as age recipients, and opens files with the
private key named by ``SOPS_AGE_SSH_PRIVATE_KEY_FILE``, else ``~/.ssh/id_ed25519``, else
``~/.ssh/id_rsa`` (``age/keysource.go`` ``loadAgeSSHIdentities``: every one that exists is
loaded). pyrage does the age side (``pyrage.ssh``); the public key of a private key comes from
``cryptography``, so ``key show`` can name it without a ``.pub`` file.

pyrage cannot open a passphrase-protected ssh key ("ssh key must be decrypted first"), so such
a key is reported as not supported: an error where it was asked for by name, a note in
``key show`` where it merely sits in ``~/.ssh``.
"""

from __future__ import annotations

import pyrage
from pyrage import ssh

from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import AgeIdentity

SSH_KEY_FILE_ENV = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"
DEFAULT_SSH_KEYS = ("id_ed25519", "id_rsa")


class SshKeyError(ConfigError):
    """An ssh private key secretsmgr cannot use; ``reason`` says why without naming the file."""

    def __init__(self, source: str, reason: str, hints: tuple[str, ...] = ()) -> None:
        super().__init__(f"{source} is {reason}", hints=hints)
        self.reason = reason


class UnsupportedSshKeyError(SshKeyError):
    """A valid ssh key of a kind secretsmgr cannot use (passphrase-protected, another type)."""


def ssh_public(private: bytes) -> str:
    """``ssh-ed25519 AAAA…`` of an unencrypted private key (no comment)."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    if b"OPENSSH PRIVATE KEY" in private:
        key: object = ser.load_ssh_private_key(private, password=None)
    else:
        key = ser.load_pem_private_key(private, password=None)
    if not isinstance(key, Ed25519PrivateKey | RSAPrivateKey):
        raise TypeError("not an ssh-ed25519 or ssh-rsa key")
    public = key.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH)
    return public.decode("ascii")


def parse_ssh_identity(private: bytes, source: str) -> AgeIdentity:
    """One ssh private key as an age identity; errors name the source, never the key."""
    try:
        ident = ssh.Identity.from_buffer(private)
    except (pyrage.IdentityError, ValueError) as exc:
        reason = str(exc)
        if "decrypted first" in reason:
            raise UnsupportedSshKeyError(
                source,
                "a passphrase-protected ssh key, which secretsmgr cannot use",
                hints=(
                    "give an age identity instead (SOPS_AGE_KEY_FILE), or an ssh key without "
                    "a passphrase",
                ),
            ) from exc
        if "unsupported" in reason:
            raise UnsupportedSshKeyError(
                source, "not an ssh-ed25519 or ssh-rsa key (the only kinds age can use)"
            ) from exc
        raise SshKeyError(source, "not a valid ssh private key") from exc
    try:
        public = ssh_public(private)
    except (ValueError, TypeError) as exc:
        raise SshKeyError(source, "not a valid ssh private key") from exc
    return AgeIdentity((public,), (ident,), source)
