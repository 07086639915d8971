"""Joining the changelogs of two branches that both appended: nothing either side holds is
changed or dropped, entries are told apart by what they say (a rebase re-chains them), and
the anchoring check tells such a merge from a lossy one."""

from __future__ import annotations

import pytest

from secretsmgr.changelog.chain import append, find_break, next_entry, parse_entries
from secretsmgr.changelog.merge import keeps, merge_chains
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
    assert keeps(merged, [OURS, THEIRS])


def test_an_entry_both_sides_hold_is_not_added_twice() -> None:
    both = extend(BASE, "ours-1", 11)
    merged, added = merge_chains(BASE, OURS, both)
    assert (merged, added) == (OURS, 0)


def test_a_rebase_whose_side_holds_the_common_entries_re_chained_is_joined() -> None:
    # the review of stop 53: the second step of a rebase replaying two changelog commits; git's
    # common version is the first replayed commit, which this side holds re-chained
    feat1 = extend(BASE, "feat-1", 31)
    feat2 = extend(feat1, "feat-2", 32)
    ours, added = merge_chains(BASE, OURS, feat1)  # step 1
    assert added == 1
    merged, added = merge_chains(feat1, ours, feat2)  # step 2: ours holds feat-1 re-chained
    assert added == 1
    assert [e.reason for e in parse_entries(merged)][-2:] == ["feat-1", "feat-2"]


@pytest.mark.parametrize("side", ["ours", "theirs"])
def test_a_side_that_dropped_or_changed_what_both_held_is_refused(side: str) -> None:
    rewritten = chain(2, layers=("apps",))
    ours, theirs = (rewritten, THEIRS) if side == "ours" else (OURS, rewritten)
    with pytest.raises(ChainError, match="changed or dropped an entry both branches held"):
        merge_chains(BASE, ours, theirs)


def test_a_merge_that_left_out_a_parents_entries_does_not_keep_them() -> None:
    assert not keeps(OURS, [OURS, THEIRS])
    # a parent whose changelog began anew (a forged branch from an old commit): the merge
    # keeps it whole, and the other's entries are gone
    fresh = extend(b"", "forged", 99)
    assert not keeps(fresh, [OURS, fresh])
    assert keeps(merge_chains(b"", fresh, OURS)[0], [fresh, OURS])
    # the first parent's changelog re-chained in the second's (main merged into a feature,
    # then the feature back into main): kept
    feature = merge_chains(BASE, THEIRS, OURS)[0]
    assert keeps(feature, [OURS, feature])


def test_a_criss_cross_merges_common_version_with_its_own_conflict_is_read_as_shared() -> None:
    # the last review of stop 53: git's virtual common version of a criss-cross merge holds
    # nested conflict markers (nine marks), and log --merge refused it as broken
    from secretsmgr.changelog.chain import has_conflict

    virtual = BASE + b"<<<<<<<<< Temporary merge branch 1\nx\n=========\ny\n>>>>>>>>> T 2\n"
    assert has_conflict(virtual)
    merged, added = merge_chains(virtual, OURS, THEIRS)
    assert added == 1 and merged.startswith(OURS)
