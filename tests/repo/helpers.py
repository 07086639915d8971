"""Helpers shared by the repository-model tests."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
}


@dataclass
class GitRepo:
    """A throwaway git repository with helpers to write files and run git."""

    path: Path

    def write(self, rel: str, text: str = "x: 1\n") -> Path:
        """Write ``text`` to ``rel`` (parents created) and return the absolute path."""
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def git(self, *args: str) -> str:
        """Run git in the repository and return its stdout."""
        done = subprocess.run(
            ["git", *args], cwd=self.path, check=True, capture_output=True, text=True
        )
        return done.stdout

    def commit_all(self, message: str = "test commit") -> str:
        """Stage everything and commit it; return the new HEAD sha."""
        self.git("add", "-A")
        self.git("commit", "--no-gpg-sign", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


# Real age public keys (pyrage-generated; nobody holds the private halves).
KEY_A = "age1492g9cxvtnnsar2pv8vr65yewuhmqxsy0emkyj2f7rlt84z7nfzqvnucg0"
KEY_B = "age1gpmkm52cactvwsvntfs93ges8a38tz44he9rsg3p7l78dukx8a0q90d2uv"
KEY_C = "age1rkqpu5pucv0254er8z0m6cpah9w4wqtkcttchltc2ckdv5pu0y0s57lavz"
