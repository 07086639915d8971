"""The SOPS files a change touches, as the last commit holds them, read key-less (SM023)."""

from __future__ import annotations

import subprocess
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from secretsmgr.repo import git
from secretsmgr.repo.scan import scan_file
from secretsmgr.repo.snapshot import BesideHead, Snapshot
from secretsmgr.sops.mac import MacState, mac_state


@dataclass(frozen=True, slots=True)
class EarlierStates:
    """What SM023 compares a changed SOPS file with: each path's ``MacState`` in HEAD (and in
    MERGE_HEAD during a merge: a conflict resolved with the other side's ``sops`` block), the
    paths the change adds, and the states of SOPS files it removes (a file moved by hand)."""

    # each path's states, labelled by the commit that holds them (HEAD, MERGE_HEAD)
    by_path: dict[str, tuple[tuple[str, MacState], ...]] = field(default_factory=dict)
    added: frozenset[str] = frozenset()
    removed: tuple[tuple[str, MacState], ...] = ()


def _state(path: str, data: bytes) -> MacState | None:
    entry = scan_file(path, data).sops
    sf = entry.sops_file if entry is not None else None
    if entry is None or sf is None or entry.plaintext_leaves or entry.malformed_leaves:
        return None
    return mac_state(sf.docs, sf.metadata)


def _merging(root: Path) -> bool:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "-q", "--verify", "MERGE_HEAD"],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


def head_mac_states(root: Path, snapshot: Snapshot | None, paths: Collection[str]) -> EarlierStates:
    """The ``EarlierStates`` of ``paths`` (the SOPS files of ``snapshot``: None for the working
    tree, or the index) that the state changes since HEAD; nothing outside git, before the
    first commit, or for a commit's own snapshot. One ``git cat-file`` for all reads."""
    wanted = set(paths)
    if not wanted:
        return EarlierStates()
    if snapshot is None:
        since: Iterable[tuple[str, str, str]] = git.worktree_changes(root)
    elif isinstance(snapshot, BesideHead):
        since = snapshot.changed_since_head()
    else:
        return EarlierStates()  # a commit's own state
    changes = list(since)
    added = frozenset(p for _mode, blob, p in changes if p in wanted and not blob.strip("0"))
    touched = [(blob, p) for _mode, blob, p in changes if p in wanted and blob.strip("0")]
    # files the change removes, when it adds a SOPS file (it may be one of them, moved)
    gone = [(blob, p) for _mode, blob, p in changes if p not in wanted and blob.strip("0")]
    if not touched and not added:
        return EarlierStates()
    merging = _merging(root)
    by_path: dict[str, tuple[tuple[str, MacState], ...]] = {}
    removed: list[tuple[str, MacState]] = []
    reader = git.BlobReader(root)
    try:
        for blob, path in touched:
            names = [("HEAD", blob), *([("MERGE_HEAD", f"MERGE_HEAD:{path}")] if merging else [])]
            states = []
            for label, name in names:
                try:
                    state = _state(path, reader.read(name))
                except OSError:
                    continue
                if state is not None:
                    states.append((label, state))
            if states:
                by_path[path] = tuple(states)
        for blob, path in gone if added else ():
            try:
                state = _state(path, reader.read(blob))
            except OSError:
                continue
            if state is not None:
                removed.append((path, state))
    finally:
        reader.close()
    return EarlierStates(by_path, added, tuple(removed))
