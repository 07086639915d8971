"""Joining the changelogs of two branches that both appended: nothing committed on either
side is changed or dropped, and the anchoring check tells such a merge from a lossy one."""

from __future__ import annotations

import pytest

from secretsmgr.changelog.chain import append, find_break, next_entry, parse_entries
from secretsmgr.changelog.merge import merge_chains, replays
from secretsmgr.errors import ChainError
from tests.changelog.helpers import chain, record


def extend(data: bytes, reason: str, n: int) -> bytes:
    entry = next_entry(
        data,
        time="2026-12-01T10:00:00Z",
        actor="alice@example.org",
        action="set",
        reason=reason,
        layers=("apps",),
        files=[record(f"gitops/{reason}.enc.yaml", n=n)],
    )
    return append(data, entry)


BASE = chain(2)
OURS = extend(extend(BASE, "ours-1", 11), "ours-2", 12)
THEIRS = extend(BASE, "theirs-1", 21)


def test_this_branchs_entries_stay_and_the_others_follow_re_chained() -> None:
    merged, added = merge_chains(BASE, OURS, THEIRS)
    assert added == 1 and merged.startswith(OURS) and find_break(merged) is None
    last = parse_entries(merged)[-1]
    theirs = parse_entries(THEIRS)[-1]
    assert (last.seq, last.reason, last.files) == (5, "theirs-1", theirs.files)
    assert replays(merged, OURS, BASE, THEIRS)


def test_an_entry_both_sides_hold_is_not_added_twice() -> None:
    both = extend(BASE, "ours-1", 11)
    merged, added = merge_chains(BASE, OURS, both)
    assert (merged, added) == (OURS, 0)


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_side_that_rewrote_what_both_held_is_refused(side: str) -> None:
    rewritten = chain(2, layers=("apps",))
    ours, theirs = (rewritten, THEIRS) if side == "ours" else (OURS, rewritten)
    with pytest.raises(ChainError, match="changes lines both branches held"):
        merge_chains(BASE, ours, theirs)


def test_a_merge_that_left_out_the_others_entries_does_not_replay_them() -> None:
    assert not replays(OURS, OURS, BASE, THEIRS)
    # a first parent whose changelog began anew, where the other's base held none: every one
    # of the other's entries must be kept
    fresh = extend(b"", "forged", 99)
    assert not replays(fresh, fresh, b"", OURS)
    assert replays(merge_chains(b"", fresh, OURS)[0], fresh, b"", OURS)
