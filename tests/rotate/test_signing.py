"""``--commit`` honours the user's git signing configuration (``commit.gpgsign``, ssh format).

A real SSH signing key from ``ssh-keygen`` signs the rotation commit, and ``git verify-commit``
checks it against an allowed-signers file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.runner import run
from tests.conftest import GIT_ENV, git

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def sign_with_ssh(repo: Path, tmp_path: Path) -> None:
    key = tmp_path / "signing-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tests", "-f", str(key)], check=True
    )
    public = key.with_suffix(".pub").read_text().strip()
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"{GIT_ENV['GIT_COMMITTER_EMAIL']} {public}\n")
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key.with_suffix(".pub")))
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(signers))
    git(repo, "config", "commit.gpgsign", "true")


def rotate_and_commit(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["--repo", str(repo), "rotate", "--layer", "databases", "--commit"], capsys, expect=0)


def test_a_rotation_commit_is_signed_when_git_is_configured_to_sign(
    demo_repo: Path, demo_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_with_ssh(demo_repo, tmp_path)
    rotate_and_commit(demo_repo, capsys)
    verified = subprocess.run(
        ["git", "verify-commit", "HEAD"], cwd=demo_repo, capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for' in verified.stderr
    assert git(demo_repo, "log", "-1", "--format=%G?").strip() == "G"


def test_without_signing_configuration_the_commit_is_unsigned(
    demo_repo: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotate_and_commit(demo_repo, capsys)
    assert git(demo_repo, "log", "-1", "--format=%G?").strip() == "N"
