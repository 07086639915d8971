"""``log --merge``: the changelog of a merge (or rebase) stopped on it, joined from git's
index (the common version, this branch's, the other branch's) without losing an entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secretsmgr.changelog.merge import merge_chains
from secretsmgr.changelog.store import changelog_path, write_changelog
from secretsmgr.errors import UsageError
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.gitlog import read_blobs
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.settings import load_settings
from secretsmgr.shellword import sh_path


@dataclass(frozen=True, slots=True)
class Merged:
    """What ``log --merge`` wrote: the changelog's name and how many entries it added."""

    changelog: str
    added: int

    def describe(self) -> str:
        """The line ``log --merge`` prints, with the next step."""
        added = plural(self.added, "entry", "entries")
        return (
            f"merged {self.changelog}: this branch's entries, then {added} the other branch "
            f"added, re-chained; next: git add {sh_path(self.changelog)}\n"
        )


def merge_changelog(root: Path, *, alone: bool = True) -> Merged:
    """Write the changelog as this branch's, followed by the entries the other branch added,
    re-chained; refused (nothing written) unless git holds it in conflict, or when ``log``
    was given another option too (``alone`` false)."""
    if not alone:
        raise UsageError("--merge takes no other option")
    with repo_lock(root):
        name = load_settings(root).changelog
        stages = git.conflict_stages(root, name)
        if 2 not in stages or 3 not in stages:
            raise UsageError(
                f"{name} is not in conflict: there is nothing to merge",
                hints=("log --merge joins the changelog while git stops a merge or rebase on it",),
            )
        blobs = read_blobs(root, stages.values())
        base = blobs.get(stages[1], b"") if 1 in stages else b""
        merged, added = merge_chains(base, blobs.get(stages[2], b""), blobs.get(stages[3], b""))
        write_changelog(changelog_path(root, name), merged)
    return Merged(name, added)
