"""Real GnuPG keys for tests, made by ``gpg`` (gnupg is in the image)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


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


@contextlib.contextmanager
def gnupg_home() -> Iterator[dict[str, str]]:
    """A process environment with a GnuPG home of its own (short: gpg-agent's socket path must
    fit), no SOPS_ or SECRETSMGR_ variable; its agent stopped and the home removed after."""
    home = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "SECRETSMGR_"))}
    env["GNUPGHOME"] = str(home)
    try:
        yield env
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False)
        shutil.rmtree(home, ignore_errors=True)
