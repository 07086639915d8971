"""What an interrupted write left behind: a pending rotation journal and leftover temp files.

Read-only. Audit rule SM022 reads the ``PendingWrites`` this module finds (through the audit
context); ``secretsmgr recover`` and every write command act on them through
``rotate/journal.py``, which writes the journal this module only locates and summarises.

The journal of a repository root lives in its git directory, one per root
(``<git dir>/secretsmgr/journals/<root key>.json``). Outside git there is none: no journal is
ever written or obeyed there. Temp files are ``.NAME.secretsmgr-PID-TAG.new`` (see
``fsutil.TEMP_NAME``); the pid says whether their writer may still be at work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.fsutil import TEMP_NAME, pid_alive, process_start
from secretsmgr.repo import git
from secretsmgr.repo.lock import root_key, state_dir
from secretsmgr.repo.root import list_repo_files

JOURNALS = "journals"


def journal_path(root: Path) -> Path | None:
    """Where the rotation journal of ``root`` lives; None outside git (no journal there)."""
    if git.toplevel(root) is None:
        return None
    return state_dir(root) / JOURNALS / f"{root_key(root)}.json"


def owner_alive(owner: object) -> bool:
    """Whether the process a journal names as its owner (``{"pid", "start"}``) still runs.

    A pid alone is not enough: a later process may have reused it, so the start time recorded
    with it must match too (where the system tells start times).
    """
    if not isinstance(owner, Mapping):
        return False
    pid, start = owner.get("pid"), owner.get("start")
    if not isinstance(pid, int) or isinstance(pid, bool) or not pid_alive(pid):
        return False
    now = process_start(pid)
    return start is None or now is None or now == start


def temp_in_use(name: str) -> bool:
    """Whether a temp file of ours (by name) may still be written by a running process."""
    found = TEMP_NAME.fullmatch(name)
    return found is not None and pid_alive(int(found["pid"]))


@dataclass(frozen=True, slots=True)
class PendingJournal:
    """A journal on disk: what it says, unchecked (for messages; recovery validates it)."""

    path: Path
    owner_pid: int | None
    owner_alive: bool
    files: tuple[str, ...]
    readable: bool


@dataclass(frozen=True, slots=True)
class PendingWrites:
    """An interrupted write, if any: the journal of this root and temp files of ours."""

    journal: PendingJournal | None = None
    temp_files: tuple[str, ...] = ()  # repo-relative, in the repository's folders

    @property
    def is_clean(self) -> bool:
        """Nothing to recover."""
        return self.journal is None and not self.temp_files


def read_pending_journal(path: Path) -> PendingJournal | None:
    """The journal at ``path`` summarised, or None when there is none."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return PendingJournal(path, None, False, (), readable=False)
    try:
        state = json.loads(raw)
    except ValueError:
        return PendingJournal(path, None, False, (), readable=False)
    if not isinstance(state, dict):
        return PendingJournal(path, None, False, (), readable=False)
    owner = state.get("owner")
    pid = owner.get("pid") if isinstance(owner, dict) else None
    files = state.get("files")
    names = tuple(
        item["path"]
        for item in (files if isinstance(files, list) else [])
        if isinstance(item, dict) and isinstance(item.get("path"), str)
    )
    return PendingJournal(
        path,
        pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        owner_alive(owner),
        names,
        readable=True,
    )


def find_pending(root: Path, paths: Sequence[str] | None = None) -> PendingWrites:
    """The journal of ``root`` and the temp files among ``paths`` (default: the worktree's).

    ``paths`` are repo-relative (the inventory's ``all_files``); temp files left by writes of
    the journal itself, in the git directory, are not repository files and are not listed.
    """
    where = journal_path(root)
    journal = read_pending_journal(where) if where is not None else None
    listed = list_repo_files(root) if paths is None else paths
    # a substring test first: the pattern runs only on the few names that may be ours
    temps = tuple(
        p for p in listed if ".secretsmgr-" in p and TEMP_NAME.fullmatch(os.path.basename(p))
    )
    return PendingWrites(journal, temps)
