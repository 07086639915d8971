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

from collections.abc import Sequence

from secretsmgr.changelog.chain import Entry, append, find_break, next_entry, parse_entries
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
        follow = next_entry(
            merged,
            time=entry.time,
            actor=entry.actor,
            action=entry.action,
            reason=entry.reason,
            layers=entry.layers,
            files=entry.files,
            verified=True,
        )
        merged = append(merged, follow)
        have.add(_content(entry))
        count += 1
    return merged, count


def keeps(merged: bytes, parents: Sequence[bytes]) -> bool:
    """Whether ``merged`` (a merge commit's changelog) begins with one parent's changelog and
    holds every entry of every other parent's, re-chained or not: a merge that dropped or
    changed a parent's entry does not."""
    if not any(merged.startswith(version) for version in parents):
        return False
    try:
        contents = {_content(e) for e in parse_entries(merged)}
        return all(_content(e) in contents for v in parents for e in parse_entries(v))
    except ChainError:
        return False
