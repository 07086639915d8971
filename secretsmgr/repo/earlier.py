"""The SOPS files a change touches, as the last commit holds them, read key-less (SM023)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from secretsmgr.repo import git, gitlog
from secretsmgr.repo.scan import scan_file
from secretsmgr.repo.snapshot import BesideHead, Snapshot
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.mac import MacState, edited_outside_sops, mac_state


@dataclass(frozen=True, slots=True)
class EarlierStates:
    """What SM023 compares a changed SOPS file with: each path's ``MacState`` in HEAD (and in
    MERGE_HEAD during a merge: a conflict resolved with the other side's ``sops`` block), the
    paths the change adds, and the states of SOPS files it removes (a file moved by hand)."""

    # each path's states, labelled by the commit that holds them (HEAD, MERGE_HEAD)
    by_path: dict[str, tuple[tuple[str, MacState], ...]] = field(default_factory=dict)
    added: frozenset[str] = frozenset()
    removed: tuple[tuple[str, MacState], ...] = ()
    # files whose change puts back the version sops wrote under HEAD's MAC (HEAD held a hand
    # edit of it: the fix audit --history prints, which check blocked: the attack review)
    restored: frozenset[str] = frozenset()


def _state(path: str, data: bytes) -> MacState | None:
    return _entry_state(scan_file(path, data).sops)


def _entry_state(entry: SopsEntry | None) -> MacState | None:
    """The ``MacState`` of a SOPS file that parsed with nothing in clear or broken (SM003's
    and SM006's files are not compared)."""
    sf = entry.sops_file if entry is not None else None
    if entry is None or sf is None or entry.plaintext_leaves or entry.malformed_leaves:
        return None
    return mac_state(sf.docs, sf.metadata)


# the other side of a merge, cherry-pick, revert or rebase that stopped on a conflict
OTHER_SIDES = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "REBASE_HEAD")


def _git_dir(root: Path) -> Path | None:
    """The git directory of the work tree ``root`` is in, found on disk (a ``.git`` folder, or
    a ``.git`` file's ``gitdir:`` line in a linked work tree), without starting git."""
    for folder in (root, *root.resolve().parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            try:
                line = dot.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                return None
            if line.startswith("gitdir:"):
                named = Path(line.split(":", 1)[1].strip())
                return named if named.is_absolute() else (folder / named).resolve()
            return None
    return None


def _other_sides(root: Path) -> list[str]:
    """The refs of ``OTHER_SIDES`` that exist now: files in the git directory."""
    folder = _git_dir(root)
    if folder is None:
        return []
    return [ref for ref in OTHER_SIDES if (folder / ref).is_file()]


def _sops_wrote(reader: git.BlobReader, root: Path, path: str, mac: str) -> MacState | None:
    """The first version of ``path`` in its recent history (50 commits) under ``mac``: the one
    sops wrote, before any hand edit kept the MAC."""
    commits = [c.id for c in reversed(gitlog.path_commits(root, path))][:50]
    first: MacState | None = None
    for blob in gitlog.blobs_at(root, [(commit, path) for commit in commits]):
        try:
            state = _state(path, reader.read(blob)) if blob is not None else None
        except OSError:
            break
        if state is None or state.mac != mac:
            break
        first = state
    return first


def head_mac_states(
    root: Path, snapshot: Snapshot | None, entries: Mapping[str, SopsEntry]
) -> EarlierStates:
    """The ``EarlierStates`` of the SOPS files ``entries`` (of ``snapshot``: None for the working
    tree, or the index, as the inventory read them) that the state changes since HEAD; nothing
    outside git, before the first commit, or for a commit's own snapshot. One ``git cat-file``
    for all reads."""
    if not entries:
        return EarlierStates()
    if snapshot is None:
        since: Iterable[tuple[str, str, str]] = git.worktree_changes(root)
    elif isinstance(snapshot, BesideHead):
        since = snapshot.changed_since_head()
    else:
        return EarlierStates()  # a commit's own state
    changes = list(since)
    added = frozenset(p for _mode, blob, p in changes if p in entries and not blob.strip("0"))
    touched = [(blob, p) for _mode, blob, p in changes if p in entries and blob.strip("0")]
    # files the change removes, when it adds a SOPS file (it may be one of them, moved)
    gone = [(blob, p) for _mode, blob, p in changes if p not in entries and blob.strip("0")]
    if not touched and not added:
        return EarlierStates()
    sides = _other_sides(root)
    # the other sides' blobs of every touched path, looked up at once (paths from git's top)
    other = iter(gitlog.blobs_at(root, [(side, p) for _blob, p in touched for side in sides]))
    by_path: dict[str, tuple[tuple[str, MacState], ...]] = {}
    removed: list[tuple[str, MacState]] = []
    restored: set[str] = set()
    reader = git.BlobReader(root)
    try:
        for blob, path in touched:
            names = [("HEAD", blob), *((side, next(other)) for side in sides)]
            states = []
            for label, name in names:
                try:
                    state = _state(path, reader.read(name)) if name is not None else None
                except OSError:
                    continue
                if state is not None:
                    states.append((label, state))
            if states:
                by_path[path] = tuple(states)
            head = states[0][1] if states and states[0][0] == "HEAD" else None
            now = _entry_state(entries[path]) if head is not None else None
            if head is not None and now is not None and edited_outside_sops(head, now):
                wrote = _sops_wrote(reader, root, path, head.mac)
                if wrote is not None and not edited_outside_sops(wrote, now):
                    restored.add(path)
        for blob, path in gone if added else ():
            try:
                state = _state(path, reader.read(blob))
            except OSError:
                continue
            if state is not None:
                removed.append((path, state))
    finally:
        reader.close()
    return EarlierStates(by_path, added, tuple(removed), frozenset(restored))
