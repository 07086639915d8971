"""Fixtures shared by the key tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.secret_service import SecretService


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SecretService]:
    """A fresh, unlocked login keyring in its own HOME and bus."""
    svc = SecretService(tmp_path / "home").start()
    yield svc
    svc.stop()
