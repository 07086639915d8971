"""Fixtures of the rotation tests: a fixed git identity and git copies of fixtures/demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import GIT_ENV
from tests.rotate.helpers import CHANGELOG, DEMO, DEMO_KEY, git_copy


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process ``--commit`` runs git with this environment: give it a fixed identity."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    """A git copy of fixtures/demo with everything committed."""
    return git_copy(DEMO, tmp_path / "repo")


@pytest.fixture
def bare_demo_repo(tmp_path: Path) -> Path:
    """A git copy of fixtures/demo without its changelog (if it has one)."""
    return git_copy(DEMO, tmp_path / "repo", drop=[CHANGELOG])


@pytest.fixture
def demo_key(monkeypatch: pytest.MonkeyPatch) -> Path:
    """SOPS_AGE_KEY_FILE pointing at the demo cluster key, for in-process CLI runs."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    return DEMO_KEY
