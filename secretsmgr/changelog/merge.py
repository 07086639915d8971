"""Two branches that both appended to the changelog, joined without losing an entry.

Pure: bytes in, bytes out. ``merge_chains`` keeps one side's changelog as it is and adds the
entries the other side holds and it does not, in their order, each re-chained (a new ``seq``
and ``prev``, the same time, actor, action, reason, layers and file records). Entries are
told apart by what they say, not where they sit: after a rebase, or a merge of the main
branch into a feature branch, one side holds the other's entries re-chained. Nothing either
side holds is changed or dropped, and ``keeps`` lets the anchoring check tell such a merge
from one that dropped a parent's entries.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from secretsmgr.changelog.chain import (
    Entry,
    append_anew,
    find_break,
    has_conflict,
    parse_entries,
)
from secretsmgr.errors import ChainError


def _content(entry: Entry) -> tuple[object, ...]:
    """What an entry says, without where it sits in a chain (``seq``, ``prev``)."""
    return (entry.time, entry.actor, entry.action, entry.reason, entry.layers, entry.files)


def _entries(data: bytes, side: str) -> list[Entry]:
    found = find_break(data)
    if found is not None:
        raise ChainError(f"{side} changelog is broken at seq {found.seq}: {found.reason}")
    return parse_entries(data)


def merge_chains(base: bytes, ours: bytes, theirs: bytes) -> tuple[bytes, int]:
    """``ours`` followed by the entries ``theirs`` holds and ``ours`` does not, re-chained;
    and how many were added.

    ``ChainError`` when a side's chain is broken, or a side lacks an entry the common
    version (``base``) holds (it dropped or changed what both held: no merge keeps that).
    """
    kept = _entries(ours, "this branch's")
    other = _entries(theirs, "the other branch's")
    have = {_content(e) for e in kept}
    held = {_content(e) for e in other}
    if has_conflict(base):
        # a criss-cross merge: git's common version is itself a merge of the two with its
        # own conflict (the last review of stop 53): what both sides hold is what they share
        base = _shared_prefix(ours, theirs)
    for entry in _entries(base, "the common"):
        for side, contents in (("this branch's", have), ("the other branch's", held)):
            if _content(entry) not in contents:
                raise ChainError(
                    f"{side} changelog lacks seq {entry.seq} of the common version: it "
                    "changed or dropped an entry both branches held (it is append-only)"
                )
    merged, count = ours, 0
    for entry in other:
        if _content(entry) in have:
            continue
        merged = append_anew(merged, entry, verified=True)
        have.add(_content(entry))
        count += 1
    return merged, count


def _shared_prefix(first: bytes, second: bytes) -> bytes:
    """The whole lines ``first`` and ``second`` begin with alike."""
    shared = b""
    lines = zip(first.splitlines(keepends=True), second.splitlines(keepends=True), strict=False)
    for one, two in lines:
        if one != two or not one.endswith(b"\n"):
            break
        shared += one
    return shared


def keeps(merged: bytes, parents: Sequence[bytes]) -> bool:
    """Whether ``merged`` (a merge commit's changelog) begins with one parent's changelog and
    holds every entry of every other parent's, re-chained or not: a merge that dropped or
    changed a parent's entry does not."""
    if all(merged.startswith(version) for version in parents):
        return True  # it extends each one as it is (the common case, read without parsing)
    if not any(merged.startswith(version) for version in parents):
        return False
    try:
        held = _contents(merged)
        return all(_contents(version) <= held for version in parents)
    except ChainError:
        return False


@functools.lru_cache(maxsize=64)
def _contents(data: bytes) -> frozenset[tuple[object, ...]]:
    """What each entry of ``data`` says (a merge's parents are read again at the next merge:
    the last review of stop 53 timed 1,000 merges at 45 s, parsing them each time)."""
    return frozenset(_content(e) for e in parse_entries(data))
