"""A journal left on disk is trusted only as far as it names this repository's own files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.errors import RefusedError
from secretsmgr.rotate.transaction import JOURNAL, recover

SHA = "0" * 64


def _journal(root: Path, **changes: object) -> None:
    state: dict[str, object] = {
        "phase": "replacing",
        "seq": None,
        "changelog": "secrets-changelog.jsonl",
        "changelog_old": "",
        "files": [
            {"path": "a.enc.yaml", "sha_old": SHA, "sha_new": SHA, "temp": None, "old": "planted\n"}
        ],
    }
    state.update(changes)
    (root / JOURNAL).write_text(json.dumps(state))


@pytest.mark.parametrize(
    "path", ["/tmp/victim", "../victim", "a/../../victim", "", "a//b"], ids=repr
)
def test_a_journal_naming_a_path_outside_the_repo_is_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    _journal(
        root, files=[{"path": path, "sha_old": SHA, "sha_new": SHA, "temp": None, "old": "pwned\n"}]
    )
    with pytest.raises(RefusedError, match="malformed"):
        recover(root)
    assert victim.read_text() == "keep me\n"
    assert (root / JOURNAL).exists()  # left for a human to look at


def test_a_journal_for_another_changelog_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "other.jsonl").write_text("precious\n")
    _journal(root, changelog="other.jsonl")
    with pytest.raises(RefusedError, match="malformed"):
        recover(root)
    assert (root / "other.jsonl").read_text() == "precious\n"


def test_a_file_changed_since_the_run_is_not_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.enc.yaml").write_text("someone else's edit\n")
    _journal(
        root,
        files=[
            {
                "path": "a.enc.yaml",
                "sha_old": SHA,
                "sha_new": "1" * 64,
                "temp": None,
                "old": "planted\n",
            }
        ],
    )
    with pytest.raises(RefusedError, match="changed since"):
        recover(root)
    assert (root / "a.enc.yaml").read_text() == "someone else's edit\n"


def test_garbage_journal_is_a_clear_refusal(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / JOURNAL).write_text("[]")
    with pytest.raises(RefusedError, match="malformed"):
        recover(root)
