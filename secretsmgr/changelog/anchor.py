"""The changelog anchored in git: what its own history proves about each line.

The hash chain alone proves only that the file is internally consistent: anyone can recompute
every hash after rewriting a time or a line. Git adds what a rewrite cannot fake without
rewriting published history (a force-push, which branch protection refuses):

* **append-only**: every committed version of the changelog is a prefix of the next one (a
  commit that changes or drops an earlier line is named);
* **time**: each line's ``time`` is not later than the committer time of the commit that
  added it, give or take ``SKEW`` (a line cannot claim a rotation after it was committed);
* **state**: each file record's ``sha256_after`` is the content that commit, or a later one,
  holds at that path, or the state a later entry starts from (``sha256_before``); an ``adopt``
  record may also be the content of the commit before (it records the files as they were
  when it was written): a record cannot describe a file state git never saw.

Lines not committed yet are counted as *not yet anchored*: they are as trustworthy as the
working tree they sit in.

What anchoring does not prove: that a committed line is true. Whoever may push to the branch
can commit a line that claims anything consistent with the files (the chain records who
pushed in git, not in the line). The committer time comes from the committer's clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from secretsmgr.changelog.chain import Entry
from secretsmgr.changelog.merge import keeps
from secretsmgr.errors import SecretsmgrError
from secretsmgr.repo.gitlog import (
    Commit,
    blobs_at,
    commit_order,
    later_blobs,
    merge_parents,
    path_commits,
    read_blobs,
    shallow_boundary,
)
from secretsmgr.repo.settings import SETTINGS_NAME, Settings, parse_settings

SKEW = timedelta(minutes=5)
# seq -> (commit id, committer time) of the commit that added that line
Anchors = Mapping[int, tuple[str, datetime]]


@dataclass(frozen=True, slots=True)
class Anchoring:
    """What the changelog's git history says about its lines."""

    anchored: Anchors = field(default_factory=dict)
    unanchored: int = 0  # lines past the committed version (HEAD)
    commits: int = 0  # commits that changed the changelog
    problems: tuple[str, ...] = ()
    unseen: tuple[str, ...] = ()  # the problems that are recorded states git never held
    # datakey_id -> the earliest committer time of a committed version of the changelog that
    # names it: evidence of the key's age that rewriting the working-tree lines cannot remove
    key_commits: Mapping[str, datetime] = field(default_factory=dict)
    # a shallow clone: lines its boundary commit holds are not checked against file states
    # (what came before the boundary is not there to look at)
    shallow: bool = False


def _lines_end(data: bytes) -> list[int]:
    """The offset where each line's content ends (its newline not included)."""
    ends: list[int] = []
    at = 0
    while at < len(data):
        nl = data.find(b"\n", at)
        end = len(data) if nl < 0 else nl
        ends.append(end)
        at = end + 1
    return ends


def _short(commit: str) -> str:
    return commit[:12]


def _when(commit_time: int) -> datetime:
    return datetime.fromtimestamp(commit_time, UTC)


def _stamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def anchor_changelog(
    root: Path, name: str, data: bytes, entries: Sequence[Entry], *, check_states: bool = True
) -> Anchoring:
    """Check the changelog ``name`` (whose working-tree bytes are ``data``, parsed into
    ``entries``) against its history in the git repository at ``root``.

    ``check_states=False`` skips the file-state check (the part that reads the SOPS files'
    history), for callers that only need the commit time of each line.
    """
    commits = path_commits(root, name, merges=True)
    if not commits:
        return Anchoring(unanchored=len(entries))
    blobs = blobs_at(root, [(c.id, name) for c in commits])
    contents = read_blobs(root, [b for b in blobs if b is not None])
    version = {
        c.id: contents.get(b, b"") if b else b"" for c, b in zip(commits, blobs, strict=True)
    }
    problems: list[str] = []
    key_commits: dict[str, datetime] = {}
    merges = merge_parents(root, [c.id for c in commits])
    joined = _merge_parents(root, merges, version)
    for c in commits:
        added = version[c.id]
        befores = [v for p in c.parents if (v := version.get(p)) is not None]
        if c.id in joined:
            befores = joined[c.id]
        if len(befores) > 1:
            # a merge: one parent's changelog, then every entry of the others, re-chained
            # (log --merge; the review of stop 53: git's default history simplification hid
            # a merge that kept a forged side's changelog and dropped the other's entries)
            if not keeps(version[c.id], befores):
                problems.append(
                    f"commit {_short(c.id)} (a merge) dropped or changed entries a parent's "
                    "changelog held (it is append-only; secretsmgr log --merge joins both)"
                )
            continue
        for before in befores:
            if version[c.id].startswith(before):
                added = added[len(before) :]
                continue
            what = "removed" if not version[c.id] else "rewrote earlier lines of"
            problems.append(f"commit {_short(c.id)} {what} the changelog (it is append-only)")
        when = _when(c.committed)
        for key_id in _key_ids(added):
            key_commits[key_id] = min(key_commits.get(key_id, when), when)
    problems += _moved_and_rewritten(root, name, commits, version)
    ends = _lines_end(data)
    anchored: dict[int, tuple[str, datetime]] = {}
    for c in commits:
        held = version[c.id]
        if not held or not data.startswith(held):
            continue
        for number, end in enumerate(ends, start=1):
            if end > len(held):
                break
            anchored.setdefault(number, (c.id, _when(c.committed)))
    head = blobs_at(root, [("HEAD", name)])[0]
    committed = read_blobs(root, [head]).get(head, b"") if head else b""
    if committed and not data.startswith(committed):
        problems.append(
            "the working-tree changelog changes or drops lines of the committed one (HEAD)"
        )
    problems += _late_times(entries, anchored)
    boundary = shallow_boundary(root)
    unseen: list[str] = []
    if check_states:
        deep = {seq: at for seq, at in anchored.items() if at[0] not in boundary}
        unseen = _unseen_states(root, entries, deep, merges)
    unanchored = sum(1 for e in entries if e.seq not in anchored)
    return Anchoring(
        anchored,
        unanchored,
        len(commits),
        tuple(problems + unseen),
        tuple(unseen),
        key_commits,
        bool(boundary),
    )


def _merge_parents(
    root: Path, real: Mapping[str, tuple[str, ...]], version: Mapping[str, bytes]
) -> dict[str, list[bytes]]:
    """For each merge in git (``real``: its parents, whatever the path's history shows of
    it): each parent's changelog, under the name that parent's own settings give it (the
    last review of stop 53: a side branch moved the changelog, and the merge that rewrote
    the main branch's entries under the new name was checked against the side alone)."""
    wanted = sorted({p for parents in real.values() for p in parents if p not in version})
    settings = blobs_at(root, [(p, SETTINGS_NAME) for p in wanted])
    texts = read_blobs(root, [b for b in settings if b is not None])
    names = {
        p: _changelog_setting(texts.get(b) if b else None)
        for p, b in zip(wanted, settings, strict=True)
    }
    logs = blobs_at(root, [(p, names[p]) for p in wanted])
    held = read_blobs(root, [b for b in logs if b is not None])
    at = {p: held.get(b, b"") if b else b"" for p, b in zip(wanted, logs, strict=True)}
    return {
        commit: [version[p] if p in version else at[p] for p in parents]
        for commit, parents in real.items()
    }


def _changelog_setting(text: bytes | None) -> str:
    """The changelog path a version of the settings file names (the default without one, or
    where that version does not read: its own verify said so then)."""
    default = Settings().changelog
    if text is None:
        return default
    try:
        return parse_settings(text.decode("utf-8")).changelog
    except (SecretsmgrError, UnicodeDecodeError):
        return default


def _moved_and_rewritten(
    root: Path, name: str, commits: Sequence[Commit], version: Mapping[str, bytes]
) -> list[str]:
    """Where the ``changelog:`` setting moved the changelog to ``name``, the entries it last
    held under its former name must begin what ``name`` holds at the move: a move is no fresh
    start (the write-side review of stop 53: a commit that renamed the changelog, pointed the
    setting at it and rewrote old lines passed, as its history began there; its review: so did
    a forged copy committed before the setting changed, or after the old file was deleted).
    A former name that never held anything is looked past, to the name before it."""
    settings = path_commits(root, SETTINGS_NAME)
    if not settings:
        return []
    blobs = blobs_at(root, [(c.id, SETTINGS_NAME) for c in settings])
    texts = read_blobs(root, [b for b in blobs if b is not None])
    moves: list[tuple[Commit, str, str]] = []  # (commit, from, to), oldest first
    before = Settings().changelog  # no settings file before its first commit: the default
    for commit, blob in zip(settings, blobs, strict=True):
        path = _changelog_setting(texts.get(blob) if blob else None)
        if path != before:
            moves.append((commit, before, path))
        before = path
    if not any(new == name for _commit, _old, new in moves):
        return []  # never moved here: nothing to compare (and no history walk)
    order = commit_order(root)
    target = name
    for commit, old, new in reversed(moves):
        if new != target or old == target:
            continue
        at = order.get(commit.id, -1)
        content = _last_held(root, old, at, order)
        if not content:
            target = old  # the former name never held anything: look before it
            continue
        # what ``name`` holds at the move, or first holds after it
        later = [c for c in commits if order.get(c.id, -1) >= at and version.get(c.id)]
        current = blobs_at(root, [(commit.id, name)])[0]
        held = read_blobs(root, [current]).get(current, b"") if current else b""
        held = held or (version[later[0].id] if later else b"")
        if not held or held.startswith(content):
            return []
        return [
            f"commit {_short(commit.id)} moved the changelog from {old} to {name}, and what "
            f"{name} holds there changed or dropped the entries {old} held (it is append-only)"
        ]
    return []


def _last_held(root: Path, path: str, before: int, order: Mapping[str, int]) -> bytes:
    """The last non-empty content ``path`` had in a commit before position ``before`` (in
    ``order``, the history's)."""
    found = [c for c in path_commits(root, path) if order.get(c.id, before) < before]
    blobs = blobs_at(root, [(c.id, path) for c in found])
    for blob in reversed(blobs):
        if blob is not None:
            data = read_blobs(root, [blob]).get(blob, b"")
            if data:
                return data
    return b""


def _key_ids(data: bytes) -> set[str]:
    """Every datakey_id the changelog lines in ``data`` name (lines that do not parse are the
    chain's problem, not this one's)."""
    found: set[str] = set()
    for line in data.splitlines():
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            continue
        files = obj.get("files") if isinstance(obj, dict) else None
        for record in files if isinstance(files, list) else ():
            key_id = record.get("datakey_id") if isinstance(record, dict) else None
            if isinstance(key_id, str):
                found.add(key_id)
    return found


def _late_times(
    entries: Sequence[Entry], anchored: Mapping[int, tuple[str, datetime]]
) -> list[str]:
    problems: list[str] = []
    for entry in entries:
        where = anchored.get(entry.seq)
        when = _stamp(entry.time)
        if where is None or when is None:
            continue
        commit, committed = where
        if when > committed + SKEW:
            problems.append(
                f"seq {entry.seq}: time {entry.time} is later than commit {_short(commit)} that "
                f"added it ({committed.strftime('%Y-%m-%dT%H:%M:%SZ')})"
            )
    return problems


def _unseen_states(
    root: Path,
    entries: Sequence[Entry],
    anchored: Anchors,
    merges: Mapping[str, tuple[str, ...]] = MappingProxyType({}),
) -> list[str]:
    """Records of committed lines whose ``sha256_after`` git never held at that path (at or
    after the line's commit, or, for a line a merge brought in, in one of its parents) and
    no later entry starts from."""
    starts: dict[tuple[str, str], int] = {}  # (path, sha256_before) -> the last seq from it
    for entry in entries:
        for record in entry.files:
            starts[(record.path, record.sha256_before)] = entry.seq
    todo = [
        (e, r)
        for e in entries
        if e.seq in anchored
        for r in e.files
        # an empty sha256_after records a removal (adopt): no state to find in git
        if r.sha256_after and starts.get((r.path, r.sha256_after), 0) <= e.seq
    ]
    if not todo:
        return []
    order = commit_order(root)
    changes = later_blobs(root, {r.path for _, r in todo})
    at_commit = blobs_at(root, [(anchored[e.seq][0], r.path) for e, r in todo])
    # an adopt line records the files as they were when it was written, which may be the state
    # the commit before its own held: that commit may change them too (sweep 72, a secret
    # replaced in the commit that added the changelog: log --verify failed for good, and the
    # adopt its hint named had nothing to record)
    before = blobs_at(
        root, [(f"{anchored[e.seq][0]}^", r.path) for e, r in todo if e.action == "adopt"]
    )
    parents = iter(before)
    # a line ``log --merge`` re-chained into a merge: the state it records is the other
    # branch's, held by that parent (a last sweep of stop 53: both branches set one file, and
    # log --verify failed for good, its hint to adopt recording nothing)
    joined = [(i, p) for i, (e, _r) in enumerate(todo) for p in merges.get(anchored[e.seq][0], ())]
    sides = blobs_at(root, [(p, todo[i][1].path) for i, p in joined])
    wanted: dict[int, set[str]] = {}
    for i, ((entry, record), blob) in enumerate(zip(todo, at_commit, strict=True)):
        position = order.get(anchored[entry.seq][0], -1)
        held = {b for c, b in changes.get(record.path, []) if order.get(c, -1) > position}
        if blob is not None:
            held.add(blob)
        if entry.action == "adopt" and (parent := next(parents)) is not None:
            held.add(parent)
        wanted[i] = held
    for (i, _parent), side in zip(joined, sides, strict=True):
        if side is not None:
            wanted[i].add(side)
    contents = read_blobs(root, {b for held in wanted.values() for b in held})
    digests = {b: hashlib.sha256(data).hexdigest() for b, data in contents.items()}
    problems: list[str] = []
    for i, (entry, record) in enumerate(todo):
        if record.sha256_after not in {digests.get(b) for b in wanted[i]}:
            problems.append(
                f"seq {entry.seq}: {record.path}: the recorded state (sha256_after) is in no "
                f"commit from {_short(anchored[entry.seq][0])} on"
            )
    return problems
