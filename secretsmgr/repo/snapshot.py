"""A repository's files at one point: the working tree, the git index, or a commit.

Everything that reads repository content (the inventory, the Flux model, the kustomize walker)
reads it through a ``Snapshot``, so the same model can be built from what is on disk, from what
is staged (``IndexSnapshot``: what the next commit will hold), or from a past commit
(``CommitSnapshot``). Git snapshots also give each file's blob id, which keys the gate's cache.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from secretsmgr.errors import ConfigError
from secretsmgr.fsutil import read_regular
from secretsmgr.repo import git
from secretsmgr.repo.root import list_repo_files

# Regular files (plain and executable); symlinks (120000) and submodules (160000) are not files
# of the repository as kustomize reads them from a checkout.
FILE_MODES = frozenset({"100644", "100755"})  # a regular file's modes in git


class Snapshot(Protocol):
    """The files of a repository at one point in time."""

    @property
    def root(self) -> Path:
        """The repository root (the folder paths are relative to)."""
        ...

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file, as sorted repo-relative POSIX paths."""
        ...

    @property
    def links(self) -> frozenset[str]:
        """The paths that are symbolic links (Flux never archives them)."""
        ...

    def link_target(self, path: str) -> str | None:
        """Where the link ``path`` points, repo-relative; None when it leaves the repository."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of ``path``; ``OSError`` when it cannot be read (a link out of the
        repository is never followed)."""
        ...

    def blob_id(self, path: str) -> str | None:
        """The git blob id of ``path`` in this snapshot; None when it has none (worktree)."""
        ...


@runtime_checkable
class BesideHead(Protocol):
    """A state that comes after HEAD (the index, the working tree): what it changes."""

    def changed_since_head(self) -> Sequence[tuple[str, str, str]]:
        """(mode, blob id in HEAD, path) of every path this state changes since HEAD; a path
        it adds has blob ``"0"*``; empty outside git and before the first commit."""
        ...


class WorktreeSnapshot:
    """The files on disk: git-tracked plus untracked-not-ignored (every file outside git)."""

    def __init__(self, root: Path, paths: Sequence[str] | None = None) -> None:
        """Snapshot ``root``; ``paths`` skips listing the files when the caller has them."""
        self._root = root
        self._paths = tuple(paths) if paths is not None else tuple(list_repo_files(root))
        self._base = str(root)
        self._real_base = os.path.realpath(root)
        self._links = frozenset(p for p in self._paths if os.path.islink(self._abs(p)))

    def _abs(self, path: str) -> str:
        return os.path.join(self._base, path)

    @property
    def root(self) -> Path:
        """The repository root."""
        return self._root

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file under the root, sorted."""
        return self._paths

    @property
    def links(self) -> frozenset[str]:
        """The paths that are symbolic links."""
        return self._links

    def link_target(self, path: str) -> str | None:
        """Where the link ``path`` points, repo-relative; None when it leaves the repository."""
        real = os.path.realpath(self._abs(path))
        if real == self._real_base or not real.startswith(self._real_base + os.sep):
            return None
        return os.path.relpath(real, self._real_base).replace(os.sep, "/")

    def read(self, path: str) -> bytes:
        """The file's bytes as they are on disk; a link out of the repository is not followed."""
        if path in self._links and self.link_target(path) is None:
            raise PermissionError(f"{path}: a symbolic link out of the repository")
        # never waits on a FIFO nor reads a device (`rotate FILE` on a FIFO hung until killed:
        # the attack review of stop 50)
        return read_regular(self._abs(path))

    def blob_id(self, path: str) -> str | None:
        """Files on disk have no blob id (they may differ from every blob)."""
        return None

    def changed_since_head(self) -> Sequence[tuple[str, str, str]]:
        """What the working tree changes since HEAD (``diff-index HEAD``)."""
        return git.worktree_changes(self._root)

    def untracked(self) -> Sequence[str]:
        """The files git does not track yet (and does not ignore): added since HEAD too, though
        ``diff-index`` never lists them."""
        return git.untracked_files(self._root)


class _GitSnapshot:
    """Files listed by git with their blob ids, read through one ``cat-file --batch``.

    Symbolic links (mode 120000) are listed among the paths, as the working tree lists them;
    reading one reads its target when that lies inside the root, and never follows it out.
    """

    def __init__(self, root: Path, entries: Sequence[tuple[str, str, str]]) -> None:
        self._root = root
        self.entries = {path: (mode, blob) for mode, blob, path in entries}
        self._blobs = {path: blob for mode, blob, path in entries if mode in FILE_MODES}
        self._link_blobs = {path: blob for mode, blob, path in entries if mode == "120000"}
        self._paths = tuple(sorted({*self._blobs, *self._link_blobs}))
        self._reader = git.BlobReader(root)
        self._targets: dict[str, str | None] = {}

    @property
    def root(self) -> Path:
        """The repository root."""
        return self._root

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file (symbolic links included), sorted."""
        return self._paths

    @property
    def links(self) -> frozenset[str]:
        """The paths git records as symbolic links."""
        return frozenset(self._link_blobs)

    @property
    def blobs(self) -> dict[str, str]:
        """Path -> blob id of every regular file (a copy)."""
        return dict(self._blobs)

    def link_target(self, path: str) -> str | None:
        """Where the link ``path`` points, repo-relative; None when it leaves the root."""
        if path in self._targets:
            return self._targets[path]
        blob = self._link_blobs.get(path)
        target: str | None = None
        if blob is not None:
            try:
                text = self._reader.read(blob).decode("utf-8", "surrogateescape")
            except OSError:
                text = "/"
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), text))
            inside = not text.startswith("/") and joined != ".." and not joined.startswith("../")
            target = joined if inside else None
        self._targets[path] = target
        return target

    def blob_id(self, path: str) -> str | None:
        """The blob id of ``path`` (of its target, for a link inside the root), or None."""
        blob = self._blobs.get(path)
        if blob is None and path in self._link_blobs:
            target = self.link_target(path)
            blob = self._blobs.get(target) if target is not None else None
        return blob

    def read(self, path: str) -> bytes:
        """The blob's bytes; ``OSError`` when the snapshot has no such file, or for a link out
        of the root."""
        if path in self._link_blobs:
            target = self.link_target(path)
            if target is None:
                raise PermissionError(f"{path}: a symbolic link out of the repository")
            path = target
        blob = self._blobs.get(path)
        if blob is None:
            raise FileNotFoundError(path)
        return self._reader.read(blob)

    def close(self) -> None:
        """Stop the git reader process."""
        self._reader.close()


class IndexSnapshot(_GitSnapshot):
    """The git index: what the next commit will hold (``git ls-files -s``).

    A file whose working-tree copy git considers unchanged is read from disk (no inflate);
    every other one from its blob. With git filters or end-of-line conversion configured every
    file is read from its blob.
    """

    _DISK_AFTER = 16  # reads before asking git which files on disk match the index

    def __init__(self, root: Path) -> None:
        """Snapshot the index of the repository at ``root``."""
        super().__init__(root, git.index_entries(root))
        self._changed: set[str] | None = None
        self._asked = False
        self._reads = 0
        self._base = str(root)
        self._memo: dict[str, bytes] = {}
        self._memo_size = 0

    _MEMO_BYTES = 64 * 1024 * 1024  # files kept in memory: a run reads many of them twice

    def changed_since_head(self) -> Sequence[tuple[str, str, str]]:
        """What the index changes since HEAD (``diff-index --cached HEAD``); empty before the
        first commit."""
        try:
            return git.staged_changes(self._root, "HEAD")
        except ConfigError:
            return ()  # no commit yet: nothing to compare with

    def read(self, path: str) -> bytes:
        """The staged bytes of ``path``."""
        known = self._memo.get(path)
        if known is not None:
            return known
        data = self._read(path)
        if self._memo_size + len(data) <= self._MEMO_BYTES:
            self._memo[path] = data
            self._memo_size += len(data)
        return data

    def _read(self, path: str) -> bytes:
        self._reads += 1
        if not self._asked and self._reads > self._DISK_AFTER:
            self._changed = git.worktree_changed(self._root)  # worth it for many reads
            self._asked = True
        if (
            self._changed is not None
            and path in self._blobs
            and path not in self._changed
            and path not in self._link_blobs
        ):
            try:
                with open(os.path.join(self._base, path), "rb") as handle:
                    return handle.read()
            except OSError:
                pass  # deleted from disk but still staged: read the blob
        return super().read(path)


class CommitSnapshot(_GitSnapshot):
    """The files of one commit (``git ls-tree -r``)."""

    def __init__(
        self, root: Path, commit: str, entries: Sequence[tuple[str, str, str]] | None = None
    ) -> None:
        """Snapshot ``commit`` (an id or any revision git resolves) below ``root``."""
        super().__init__(root, git.tree_entries(root, commit) if entries is None else entries)
        self.commit = commit

    @classmethod
    def beside(cls, index: IndexSnapshot, commit: str) -> CommitSnapshot:
        """``commit`` built from ``index`` and what the index changes (``diff-index``): cheaper
        than listing the commit's whole tree when few files are staged."""
        entries = {path: (mode, blob, path) for path, (mode, blob) in index.entries.items()}
        for mode, blob, path in git.staged_changes(index.root, commit):
            if set(blob) == {"0"}:
                entries.pop(path, None)  # added by the index: not in the commit
            else:
                entries[path] = (mode, blob, path)
        snap = cls(index.root, commit, sorted(entries.values(), key=lambda e: e[2]))
        snap._via = index
        return snap

    _via: IndexSnapshot | None = None

    def read(self, path: str) -> bytes:
        """The committed bytes; through the index (often from disk) when it holds the same blob."""
        via = self._via
        if via is not None and self._blobs.get(path) == via.blob_id(path):
            return via.read(path)
        return super().read(path)


class OverlaySnapshot:
    """``base`` with some files added or replaced: the repository as a write would leave it
    (what ``init`` is about to write, judged by the model before it is written)."""

    def __init__(self, base: Snapshot, files: dict[str, bytes]) -> None:
        self._base = base
        self._files = dict(files)
        self._paths = tuple(sorted({*base.paths, *files}))
        self._links = frozenset(p for p in base.links if p not in files)

    @property
    def root(self) -> Path:
        """The repository root."""
        return self._base.root

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file, the added ones too, sorted."""
        return self._paths

    @property
    def links(self) -> frozenset[str]:
        """The base's links that no added file replaces."""
        return self._links

    def link_target(self, path: str) -> str | None:
        """Where the base's link ``path`` points."""
        return self._base.link_target(path)

    def read(self, path: str) -> bytes:
        """An added file's bytes, else the base's."""
        added = self._files.get(path)
        return added if added is not None else self._base.read(path)

    def blob_id(self, path: str) -> str | None:
        """The base's blob id of a file not added; none for an added one."""
        return None if path in self._files else self._base.blob_id(path)
