"""``log --verify``: the hash chain holds, git's history of the changelog anchors it, and every
SOPS file's current state has an entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.changelog.anchor import Anchoring, anchor_changelog
from secretsmgr.changelog.chain import (
    Coverage,
    Entry,
    RecordedStates,
    State,
    conflict_error,
    has_conflict,
    parse_entries,
    read_chain,
)
from secretsmgr.errors import ChainError
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.sopsconfig import sops_rotate_hint
from secretsmgr.shellword import sh_path, sh_word


@dataclass(frozen=True, slots=True)
class Verified:
    """What ``log --verify`` established: the (intact) entries and their anchoring."""

    entries: tuple[Entry, ...]
    anchoring: Anchoring


def sops_states(root: Path, skip: str) -> tuple[list[State], dict[str, str]]:
    """(path, lastmodified, sha256) of every SOPS file in the repo, in path order, and how sops
    gives a new data key to each file ``secretsmgr rotate`` refuses (PGP, KMS or Vault keys,
    several key groups).

    The same discovery as the audit (and its SM013), so `log --verify` and `audit` agree;
    files with malformed metadata are audit's SM006, not a changelog question.
    """
    from secretsmgr.repo.inventory import load_inventory

    states: list[State] = []
    foreign: dict[str, str] = {}
    for entry in load_inventory(root).sops_files:
        if entry.sops_file is not None and entry.path != skip:
            metadata = entry.sops_file.metadata
            states.append((entry.path, metadata.lastmodified, entry.sha256))
            by_sops = sops_rotate_hint(entry.path, metadata)
            if by_sops is not None:  # PGP/KMS/Vault keys, or several key groups
                foreign[entry.path] = by_sops
    return states, foreign


def _fresh_key_hint(path: str, foreign: dict[str, str]) -> str:
    """How to give ``path`` a new data key: rotate wraps one for age keys in one key group
    only (a file on PGP keys too is refused by it; sweep 28: the printed rotate command
    failed); ``foreign`` maps such files to how sops does it."""
    if path in foreign:
        return f"or {foreign[path]}, then secretsmgr log --adopt --reason '…'"
    return f"or give it a fresh data key: secretsmgr rotate {sh_path(path)} --reason '…'"


# the actions that write every file of theirs under a new data key
_NEW_DATA_KEY = frozenset(("rotate", "key-rotate-begin", "key-rotate-finish"))


def _idle_rotation(entries: Sequence[Entry]) -> str | None:
    """``SEQ: PATH: …`` of the first rotation line that contradicts itself: the same bytes
    before and after, or the data key the file's previous line recorded (the attack review of
    stop 50: a made-up rotation, its hashes recomputed, passed log --verify)."""
    last_key: dict[str, str] = {}
    for entry in entries:
        for record in entry.files:
            rotated = entry.action in _NEW_DATA_KEY
            if rotated and record.sha256_before == record.sha256_after:
                return (
                    f"{entry.seq}: {record.path}: a {entry.action} entry records the same bytes "
                    "before and after"
                )
            previous = last_key.get(record.path)
            if rotated and record.datakey_id is not None and record.datakey_id == previous:
                return (
                    f"{entry.seq}: {record.path}: a {entry.action} entry records the data key "
                    "the file had before"
                )
            if record.datakey_id is not None:
                last_key[record.path] = record.datakey_id
    return None


def read_entries(data: bytes, name: str) -> list[Entry]:
    """The entries of the changelog ``name`` (``data``), for ``log``: a broken one is an error
    saying how to mend it (restore it from git, or join a merge conflict with --merge)."""
    try:
        return parse_entries(data)
    except ChainError as exc:
        if has_conflict(data):
            raise conflict_error(name) from exc
        raise ChainError(exc.message, hints=(f"restore {name} from git",)) from exc


def verify_repo(root: Path, name: str, data: bytes) -> Verified:
    """Check the chain, its anchoring in git, then that every SOPS file's state has an entry."""
    entries, found = read_chain(data)
    if found is not None and has_conflict(data):
        raise conflict_error(name)
    if found is not None:
        raise ChainError(
            f"changelog broken at seq {found.seq}: {found.reason}",
            hints=(f"restore {name} from git",),
        )
    conflicted = git.unmerged_paths(root) if is_git_work_tree(root) else []
    if conflicted:
        # a last sweep of stop 53: "chain ok" while a SOPS file still held conflict markers
        raise ChainError(
            f"a merge or rebase is under way: {conflicted[0]} is in conflict "
            f"({plural(len(conflicted), 'path')} in all); the changelog cannot be judged yet",
            hints=(
                "resolve each one and git add it (a SOPS file: git checkout --ours or --theirs "
                "-- FILE, then secretsmgr set the values it needs; the changelog: secretsmgr "
                "log --merge), then verify again",
            ),
        )
    anchoring = anchor_changelog(root, name, data, entries)
    if anchoring.problems:
        more = len(anchoring.problems) - 1
        hints = [f"and {plural(more, 'more problem')}"] if more else []
        if anchoring.problems[0] in anchoring.unseen:
            hints += [
                "no commit holds that state: the file was changed again or removed before the "
                "state was committed, or the line describes a state that never existed",
                "for a file changed by other tools or deleted since, record it as it is now (or "
                "as removed), then commit: secretsmgr log --adopt --reason TEXT",
            ]
        elif "(a merge)" in anchoring.problems[0]:
            commit = anchoring.problems[0].split()[1]
            hints += [
                f"compare the merge with each parent: git show --cc {commit} -- {sh_path(name)}",
                "a merge keeps every entry of each parent: git joins it with secretsmgr log "
                "--merge while it stops on the changelog; a merge already pushed cannot be "
                "mended without rewriting history",
            ]
        else:
            hints += [
                f"compare {sh_path(name)} with its git history: git log -p -- {sh_path(name)}",
                "a committed changelog only grows: restore the lines that were changed or dropped",
            ]
        raise ChainError(f"changelog not anchored in git: {anchoring.problems[0]}", hints=hints)
    idle = _idle_rotation(entries)
    if idle is not None:
        raise ChainError(
            f"changelog line seq {idle}",
            hints=(
                "no rotation writes such a line (every one makes a new data key, so new bytes)",
                f"find who wrote it: git log -p -- {sh_path(name)}",
            ),
        )
    recorded = RecordedStates(entries)
    states, foreign = sops_states(root, name)
    judged = [(s, recorded.coverage(s)) for s in states]
    missing = [(s, c) for s, c in judged if c is not Coverage.CURRENT]
    if missing and not entries:
        raise ChainError(
            f"no changelog yet ({name}): {plural(len(missing), 'SOPS file')} not recorded "
            f"(the first: {missing[0][0][0]})",
            hints=(
                "start it with the current state of every SOPS file (nothing is re-encrypted): "
                "secretsmgr log --adopt --reason '…'",
            ),
        )
    if missing:
        (path, lastmodified, _), how = missing[0]
        more = len(missing) - 1
        hints = []
        if more:
            hints.append(f"{more} more SOPS {'file has' if more == 1 else 'files have'} no entry")
        moved = recorded.moved_from(missing[0][0], {s[0] for s in states})
        if moved is not None:
            hints += [
                f"the same bytes are recorded for {moved}, which is gone: moved or renamed",
                "record it under its new path (and the old one as removed): secretsmgr log "
                f"--adopt --reason {sh_word('moved from ' + moved)}",
            ]
            raise ChainError(
                f"{path}: lastmodified {lastmodified} has no changelog entry", hints=hints
            )
        hints += [
            "it was changed outside secretsmgr, or its changelog entry was removed",
            "record the current state of every such file: secretsmgr log --adopt --reason '…'",
            _fresh_key_hint(path, foreign),
        ]
        if how is Coverage.ROLLED_BACK:
            what = "is an earlier recorded state: a later entry recorded other bytes (rolled back)"
        elif how is Coverage.OTHER_BYTES:
            what = "is recorded, but the file's bytes differ from the recorded state (sha256_after)"
        else:
            what = "has no changelog entry"
        raise ChainError(f"{path}: lastmodified {lastmodified} {what}", hints=hints)
    for state in states:  # as SM013: one state, one data key
        ids = recorded.key_ids(state)
        if len(ids) > 1:
            raise ChainError(
                f"{state[0]}: lastmodified {state[1]} is recorded with {len(ids)} different "
                "data keys (at most one of those entries describes the file)",
                hints=(
                    f"find who wrote each: git log -p -- {sh_path(name)}",
                    _fresh_key_hint(state[0], foreign).removeprefix("or "),
                ),
            )
    return Verified(tuple(entries), anchoring)


def anchoring_line(anchoring: Anchoring, name: str, entries: int) -> str | None:
    """How much of the changelog git anchors, for ``log --verify`` (None: nothing to say)."""
    if not entries:
        return None
    todo = f"commit {name} to anchor them"
    if not anchoring.commits:
        return f"not anchored in git yet: {plural(entries, 'entry', 'entries')} ({todo})"
    anchored = plural(len(anchoring.anchored), "entry", "entries")
    line = f"anchored in git: {anchored} ({plural(anchoring.commits, 'commit')})"
    if anchoring.unanchored:
        line += f"; {anchoring.unanchored} not yet anchored ({todo})"
    if anchoring.shallow:
        # the write-side review of stop 53: at depth 1 the only commit had no parent to compare
        # with, so a rewrite it made passed, and the note spoke of file states alone
        line += (
            "; a shallow clone: whether its first commit changed earlier lines, and the file "
            "states of lines from before it, are not checked (git fetch --unshallow; in "
            "GitHub Actions, actions/checkout with fetch-depth: 0)"
        )
    return line
