"""Reading and appending the changelog file."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.changelog.chain import next_entry, serialize, verify
from secretsmgr.changelog.store import append_entry, load_changelog
from secretsmgr.errors import ChainError, ConfigError
from tests.changelog.helpers import chain, record


def test_load_changelog_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_changelog(tmp_path / "secrets-changelog.jsonl") == b""


def test_load_changelog_of_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_changelog(tmp_path)


def test_append_entry_creates_then_extends_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets-changelog.jsonl"
    for i in (1, 2):
        entry = next_entry(
            load_changelog(path),
            time="2026-11-26T10:03:10Z",
            actor="bob@example.org",
            action="rotate",
            reason="drill",
            layers=["databases"],
            files=[record("gitops/db.enc.yaml", n=i)],
        )
        append_entry(path, entry)
        assert path.read_bytes().endswith(serialize(entry) + b"\n")
    assert verify(path.read_bytes()) is None
    assert path.read_bytes().count(b"\n") == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_append_entry_refuses_a_stale_entry_and_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets-changelog.jsonl"
    path.write_bytes(chain(2))
    stale = next_entry(
        chain(1), time="t", actor="a", action="rotate", reason="r", layers=[], files=[]
    )
    with pytest.raises(ChainError):
        append_entry(path, stale)
    assert path.read_bytes() == chain(2)
