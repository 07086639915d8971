"""Real ssh key pairs for tests, made by ``ssh-keygen`` (openssh-client is in the image)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def keygen(path: Path, kind: str, passphrase: str = "") -> str:
    """A real ssh key pair at ``path``; its public line (with the comment)."""
    if shutil.which("ssh-keygen") is None:  # openssh-client is part of the image
        pytest.skip("ssh-keygen missing: apt-get install openssh-client")
    bits = ["-b", "2048"] if kind == "rsa" else []
    comment = f"{kind}@test"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *bits, "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text(encoding="utf-8").strip()
