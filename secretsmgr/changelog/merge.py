"""Two branches that both appended to the changelog, joined without losing a line.

Pure: bytes in, bytes out. ``merge_chains`` keeps one side's changelog as it is and adds the
entries the other side appended since the two parted, in their order, each re-chained (a new
``seq`` and ``prev``, the same time, actor, action, reason, layers and file records). Nothing
committed on either side is changed or dropped, so each side's history stays a prefix of the
first side's, and ``replays`` lets the anchoring check tell such a merge from one that dropped
the other side's lines.
"""

from __future__ import annotations

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
    """``ours`` followed by the entries ``theirs`` added after ``base``, re-chained; and how
    many were added. Entries ``ours`` holds already (the same content) are not added twice.

    ``ChainError`` when either side's chain is broken, or does not begin with ``base`` (a
    side rewrote what both held: no merge keeps that).
    """
    for side, data in (("this branch's", ours), ("the other branch's", theirs)):
        if not data.startswith(base):
            raise ChainError(
                f"{side} changelog changes lines both branches held (it is append-only)"
            )
    kept = _entries(ours, "this branch's")
    held = len(_entries(base, "the common"))
    added = _entries(theirs, "the other branch's")[held:]
    have = {_content(e) for e in kept[held:]}
    merged, count = ours, 0
    for entry in added:
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
        count += 1
    return merged, count


def replays(merged: bytes, first: bytes, base: bytes, other: bytes) -> bool:
    """Whether ``merged`` (a merge commit's changelog) keeps every entry of ``other`` (another
    parent's) that it added after ``base`` (where the parents parted): ``merged`` begins with
    ``first`` (the first parent's), ``other`` with ``base``, and each such entry's content is
    among those ``merged`` added after ``first``."""
    if not merged.startswith(first) or not other.startswith(base):
        return False
    try:
        held, shared = len(parse_entries(first)), len(parse_entries(base))
        kept = {_content(e) for e in parse_entries(merged)[held:]}
        kept |= {_content(e) for e in parse_entries(first)[shared:]}  # both sides made it
        theirs = parse_entries(other)[shared:]
    except ChainError:
        return False
    return all(_content(e) in kept for e in theirs)
