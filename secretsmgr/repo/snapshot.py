"""A repository's files at one point: the working tree today, the index or a commit tomorrow.

Everything that reads repository content (the inventory, the Flux model, the kustomize walker)
reads it through a ``Snapshot``, so the same model can be built from what is on disk, from what
is staged, or from a past commit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from secretsmgr.repo.root import list_repo_files


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
        with open(self._abs(path), "rb") as handle:
            return handle.read()
