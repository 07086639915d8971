"""Each changed SOPS file as the last commit holds it, read key-less (SM023's comparison)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from secretsmgr.repo import git
from secretsmgr.repo.scan import scan_file
from secretsmgr.repo.snapshot import BesideHead, Snapshot
from secretsmgr.sops.mac import MacState, mac_state


def head_mac_states(
    root: Path, snapshot: Snapshot | None, paths: Collection[str]
) -> dict[str, MacState]:
    """The ``MacState`` in HEAD of each of ``paths`` that ``snapshot`` (None: the working tree;
    or the index) changes since HEAD and that HEAD holds as a SOPS file; nothing outside git,
    before the first commit, or for a commit's own snapshot. One ``git cat-file`` for all."""
    wanted = set(paths)
    if not wanted:
        return {}
    if snapshot is None:
        since = git.worktree_changes(root)
    elif isinstance(snapshot, BesideHead):
        since = list(snapshot.changed_since_head())
    else:
        return {}  # a commit's own state
    changes = [(blob, path) for _mode, blob, path in since if path in wanted and blob.strip("0")]
    if not changes:
        return {}
    out: dict[str, MacState] = {}
    reader = git.BlobReader(root)
    try:
        for blob, path in changes:
            try:
                data = reader.read(blob)
            except OSError:
                continue
            entry = scan_file(path, data).sops
            sf = entry.sops_file if entry is not None else None
            if entry is None or sf is None or entry.plaintext_leaves or entry.malformed_leaves:
                continue
            out[path] = mac_state(sf.docs, sf.metadata)
    finally:
        reader.close()
    return out
