"""A verified changelog prefix (``Checkpoint``): writers check only what follows it, and never
trust it for bytes other than those it was made from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import checkpoint_of, find_break, read_chain
from secretsmgr.changelog.verified import chain_break, load_checkpoint, remember
from tests.conftest import git

from .helpers import chain


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def test_a_covering_checkpoint_leaves_only_the_new_lines_to_check() -> None:
    data = chain(5)
    point = checkpoint_of(b"".join(_lines(data)[:3]))
    assert (point.seq, point.covers(data)) == (3, True)
    entries, found = read_chain(data, point)
    assert found is None
    assert [e.seq for e in entries] == [4, 5]


def test_a_break_after_the_checkpoint_is_found_at_its_own_seq() -> None:
    lines = _lines(chain(5))
    point = checkpoint_of(b"".join(lines[:3]))
    lines[3] = lines[3].replace(b"rotation 4", b"rotation 9")
    found = find_break(b"".join(lines), point)
    assert found is not None and found.seq == 4


def test_an_edited_history_is_not_covered_and_is_checked_whole() -> None:
    data = chain(5)
    point = checkpoint_of(b"".join(_lines(data)[:3]))
    forged = data.replace(b"rotation 2", b"rotation 7")
    assert len(forged) == len(data) and not point.covers(forged)
    found = find_break(forged, point)
    assert found is not None and found.seq == 2


def test_a_truncated_changelog_is_not_covered() -> None:
    data = chain(4)
    point = checkpoint_of(data)
    shorter = b"".join(_lines(data)[:2])
    assert not point.covers(shorter)
    assert find_break(shorter, point) is None  # checked whole: two intact lines


def test_a_missing_final_newline_is_left_out_of_the_checkpoint() -> None:
    data = chain(3)
    point = checkpoint_of(data.rstrip(b"\n"))
    assert point.seq == 2 and data[: point.size].count(b"\n") == 2
    assert point.covers(data)


@pytest.fixture
def repo(git_repo: Path) -> tuple[Path, Path]:
    log = git_repo / "secrets-changelog.jsonl"
    log.write_bytes(chain(3))
    return git_repo, log


def _stored(root: Path) -> list[Path]:
    return sorted((Path(git(root, "rev-parse", "--absolute-git-dir").strip())).rglob("chains/*"))


def test_an_intact_chain_leaves_a_checkpoint_in_the_git_directory(
    repo: tuple[Path, Path],
) -> None:
    root, log = repo
    data = log.read_bytes()
    assert chain_break(root, log, data) is None
    (stored,) = _stored(root)
    assert stored.stat().st_mode & 0o777 == 0o600
    assert stored.parent.stat().st_mode & 0o777 == 0o700
    point = json.loads(stored.read_text())
    assert (point["seq"], point["size"]) == (3, len(data))
    assert git(root, "status", "--porcelain") == "?? secrets-changelog.jsonl\n"


def test_a_rewritten_history_is_found_although_a_checkpoint_was_kept(
    repo: tuple[Path, Path],
) -> None:
    root, log = repo
    assert chain_break(root, log, log.read_bytes()) is None
    forged = log.read_bytes().replace(b"rotation 1", b"rotation 8")
    found = chain_break(root, log, forged)
    assert found is not None and found.seq == 1
    # the checkpoint still names the intact bytes, not the forged ones
    point = load_checkpoint(_stored(root)[0], log)
    assert point is not None and not point.covers(forged)


@pytest.mark.parametrize(
    "junk",
    [
        b"not json",
        b"[]",
        json.dumps({"version": 1, "changelog": "/elsewhere.jsonl"}).encode(),
        json.dumps({"version": 2, "size": 0}).encode(),
        b"[" * 100_000,
    ],
)
def test_a_malformed_checkpoint_is_ignored(repo: tuple[Path, Path], junk: bytes) -> None:
    root, log = repo
    assert chain_break(root, log, log.read_bytes()) is None
    (stored,) = _stored(root)
    stored.write_bytes(junk)
    assert load_checkpoint(stored, log) is None
    broken = log.read_bytes().replace(b"rotation 3", b"rotation 5")
    found = chain_break(root, log, broken)
    assert found is not None and found.seq == 3


def test_a_checkpoint_of_another_changelog_path_is_not_used(repo: tuple[Path, Path]) -> None:
    root, log = repo
    remember(root, log, log.read_bytes())
    other = root / "other.jsonl"
    other.write_bytes(log.read_bytes())
    assert load_checkpoint(_stored(root)[0], other) is None


def test_outside_git_nothing_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "secrets-changelog.jsonl"
    log.write_bytes(chain(2))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert chain_break(tmp_path, log, log.read_bytes()) is None
    remember(tmp_path, log, log.read_bytes())
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
