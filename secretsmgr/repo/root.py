"""Where the repository is, and which files it holds."""

from __future__ import annotations

from pathlib import Path

from secretsmgr.errors import ConfigError
from secretsmgr.repo import git


def resolve_repo_root(repo_opt: Path | None, cwd: Path) -> Path:
    """Return the repository root: ``--repo`` if given, else the git top level of cwd, else cwd."""
    if repo_opt is not None:
        candidate = repo_opt if repo_opt.is_absolute() else cwd / repo_opt
        if not candidate.is_dir():
            raise ConfigError(f"repository not found: {repo_opt}")
        return candidate.resolve()
    top = git.toplevel(cwd)
    if top is not None:
        return top.resolve()
    return cwd.resolve()


def is_git_work_tree(root: Path) -> bool:
    """Tell whether ``root`` lies inside a git work tree."""
    return git.toplevel(root) is not None


def list_repo_files(root: Path) -> list[str]:
    """List the files considered under ``root`` (repo-relative POSIX paths, sorted)."""
    if is_git_work_tree(root):
        return git.list_files(root)
    return git.walk_files(root)
