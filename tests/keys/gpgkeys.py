"""Real GnuPG keys for tests, made by ``gpg`` (gnupg is in the image)."""

from __future__ import annotations

import subprocess


def gpg_key(env: dict[str, str]) -> str:
    """A new GnuPG key (ed25519 to sign, cv25519 to encrypt) in ``env``'s GNUPGHOME: its
    fingerprint."""
    gpg = ["gpg", "--batch", "--passphrase", "", "--quiet"]
    subprocess.run(
        [*gpg, "--quick-gen-key", "t <t@example.invalid>", "ed25519", "sign", "0"],
        env=env,
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fpr = next(line.split(":")[9] for line in listed.splitlines() if line.startswith("fpr"))
    subprocess.run(
        [*gpg, "--quick-add-key", fpr, "cv25519", "encr", "0"],
        env=env,
        check=True,
        capture_output=True,
    )
    return fpr
