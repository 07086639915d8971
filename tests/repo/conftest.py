"""Fixtures for the repository-model tests: real git repositories in tmp_path, never chdir."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .helpers import GIT_ENV, GitRepo


@pytest.fixture(autouse=True)
def hermetic_git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Isolate git from the user's config and from a hook's GIT_DIR/GIT_INDEX_FILE."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "SECRETSMGR_CLUSTER_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git_checkout(tmp_path: Path) -> GitRepo:
    """An empty repository on branch main."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, check=True)
    return GitRepo(path)
