"""The rotation journal: what a rotation is about to write, so a killed run is undone or completed.

A rotation writes its journal before its first temp file and removes it when it is done. The
journal lives in the git directory, one per repository root (``repo/pending.py`` says where).
Outside git there is none, and no journal there is ever obeyed: a rotation outside git is
all-or-nothing against errors (undone in-process), but a ``kill -9`` may leave some files
rotated and others not (each one whole and readable) plus temp files that ``recover`` removes.

The journal holds (JSON, ``version`` 2): the resolved ``root``; the ``owner`` (pid and process
start time); the ``run`` tag of its temp files (``.NAME.secretsmgr-PID-RUN.new`` beside each
target); the changelog ``seq`` it appends; the changelog ``path`` with its size and sha256
``before`` and ``after`` the entry; and per file the ``path``, the ``old`` text (ciphertext or a
configuration file; null when the file did not exist) and the sha256 of the old and new bytes.

The changelog entry is the commit point. Recovery (``settle``) reads the changelog:

- it starts with the ``after`` bytes: the run committed (every file was in place before the
  entry was written), so it is completed: only its temp files and the journal go;
- otherwise every file that holds the new bytes, or is missing, gets its old bytes back; a file
  holding anything else was changed since and is left alone (and reported). The changelog is
  never written: lines appended after the killed run's start (by ``encrypt``, ``edit`` …) stay.

Recovery runs only under the repository's write lock (``recover``), and never for a journal
whose owner still runs. Every path in a journal must be a plain relative path that stays inside
the root with no symbolic link on the way (``fsutil.confined``); anything else makes the journal
malformed, and it is left for a human.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secretsmgr.changelog.chain import FileRecord, find_break, parse_entries
from secretsmgr.changelog.store import changelog_path, write_changelog
from secretsmgr.errors import RefusedError, SecretsmgrError
from secretsmgr.fsutil import (
    TEMP_NAME,
    confined,
    process_start,
    write_atomic,
)
from secretsmgr.plural import plural
from secretsmgr.repo import git
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.pending import (
    find_pending,
    journal_path,
    owner_alive,
    read_pending_journal,
    temp_in_use,
)
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.settings import load_settings

VERSION = 2
_HEX64 = frozenset("0123456789abcdef")


def sha_text(text: str | None) -> str:
    """The sha256 of a file's text; 64 zeros stand for "no file"."""
    if text is None:
        return "0" * 64
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class JournalFile:
    """One file a rotation replaces: its old text and the hashes of its old and new bytes."""

    path: str
    old: str | None = field(repr=False)
    sha_old: str
    sha_new: str


@dataclass(frozen=True, slots=True)
class Journal:
    """A rotation's journal (see the module docstring)."""

    root: str
    pid: int
    start: str | None
    run: str
    seq: int
    changelog: str
    log_before: tuple[int, str]
    log_after: tuple[int, str]
    files: tuple[JournalFile, ...]

    def temp_of(self, path: str) -> str:
        """The repo-relative temp file this run writes for ``path``."""
        folder, _, name = path.rpartition("/")
        temp = f".{name}.secretsmgr-{self.pid}-{self.run}.new"
        return f"{folder}/{temp}" if folder else temp


def new_journal(
    root: Path,
    *,
    run: str,
    seq: int,
    changelog: str,
    old_log: bytes,
    new_log: bytes,
    files: Sequence[JournalFile],
) -> Journal:
    """The journal of a run of this process."""
    return Journal(
        root=os.path.realpath(root),
        pid=os.getpid(),
        start=process_start(os.getpid()),
        run=run,
        seq=seq,
        changelog=changelog,
        log_before=(len(old_log), hashlib.sha256(old_log).hexdigest()),
        log_after=(len(new_log), hashlib.sha256(new_log).hexdigest()),
        files=tuple(files),
    )


def _to_json(journal: Journal) -> str:
    return json.dumps(
        {
            "version": VERSION,
            "root": journal.root,
            "owner": {"pid": journal.pid, "start": journal.start},
            "run": journal.run,
            "seq": journal.seq,
            "changelog": {
                "path": journal.changelog,
                "before": {"size": journal.log_before[0], "sha256": journal.log_before[1]},
                "after": {"size": journal.log_after[0], "sha256": journal.log_after[1]},
            },
            "files": [
                {"path": f.path, "old": f.old, "sha_old": f.sha_old, "sha_new": f.sha_new}
                for f in journal.files
            ],
        },
        sort_keys=True,
    )


def write_journal(path: Path, journal: Journal) -> None:
    """Write the journal durably (0600, in a 0700 folder) before any target is touched."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, _to_json(journal), mode=0o600)


# ------------------------------------------------------------------------------ reading


def _text(obj: dict[str, object], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(key)
    return value


def _number(obj: dict[str, object], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(key)
    return value


def _sha(obj: dict[str, object], key: str) -> str:
    value = _text(obj, key)
    if len(value) != 64 or not set(value) <= _HEX64:
        raise ValueError(key)
    return value


def _span(obj: object) -> tuple[int, str]:
    if not isinstance(obj, dict):
        raise ValueError("span")
    return _number(obj, "size"), _sha(obj, "sha256")


def _plain_path(root: Path, rel: object) -> str:
    """A journal path: relative, plain, inside ``root``, no symbolic link on the way."""
    if not isinstance(rel, str):
        raise ValueError("path")
    try:
        _absolute, clean = confined(root, rel)
    except SecretsmgrError as exc:
        raise ValueError("path") from exc
    if clean != rel or os.path.isabs(rel):
        raise ValueError("path")
    return rel


def parse_journal(root: Path, data: bytes, changelog: str) -> Journal:
    """The journal of ``root``, checked strictly (``ValueError`` when anything is off): it names
    files recovery will write or delete."""
    state = json.loads(data)
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise ValueError("version")
    if state.get("root") != os.path.realpath(root):
        raise ValueError("root")
    owner = state.get("owner")
    if not isinstance(owner, dict):
        raise ValueError("owner")
    start = owner.get("start")
    if start is not None and not isinstance(start, str):
        raise ValueError("start")
    run = _text(state, "run")
    if len(run) != 8 or not set(run) <= _HEX64:
        raise ValueError("run")
    log = state.get("changelog")
    if not isinstance(log, dict) or _plain_path(root, log.get("path")) != changelog:
        raise ValueError("changelog")
    items = state.get("files")
    if not isinstance(items, list):
        raise ValueError("files")
    files = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("file")
        old = item.get("old")
        if old is not None and not isinstance(old, str):
            raise ValueError("old")
        entry = JournalFile(
            _plain_path(root, item.get("path")), old, _sha(item, "sha_old"), _sha(item, "sha_new")
        )
        if sha_text(old) != entry.sha_old:
            raise ValueError("old")  # the bytes to restore are not the bytes it replaced
        files.append(entry)
    journal = Journal(
        root=state["root"],
        pid=_number(owner, "pid"),
        start=start,
        run=run,
        seq=_number(state, "seq"),
        changelog=changelog,
        log_before=_span(log.get("before")),
        log_after=_span(log.get("after")),
        files=tuple(files),
    )
    for f in journal.files:
        _plain_path(root, journal.temp_of(f.path))
    return journal


# ------------------------------------------------------------------------------ settling


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling a journal did."""

    committed: bool
    restored: int = 0
    untouched: tuple[str, ...] = ()


# what _sha_file says of a path that holds no regular file (a folder, a FIFO, a link): never
# the old or the new bytes, so settle leaves it alone and reports it
_NO_FILE = "not a regular file"


def _sha_file(path: Path) -> str | None:
    """The sha256 of the file at ``path``, None when there is none, ``_NO_FILE`` when the path
    holds something else (never opened: reading a FIFO blocks for ever, the attack review)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return _NO_FILE
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError:
        return _NO_FILE  # unreadable: not ours to judge, and not to be written over


def is_committed(root: Path, journal: Journal) -> bool:
    """Whether the run's changelog entry is on disk (the changelog starts with its bytes)."""
    path, _rel = confined(root, journal.changelog)
    size, digest = journal.log_after
    try:
        with open(path, "rb") as handle:
            head = handle.read(size)
    except FileNotFoundError:
        return False
    return len(head) == size and hashlib.sha256(head).hexdigest() == digest


def remove_temps(root: Path, journal: Journal) -> None:
    """Delete the temp files of ``journal``'s run (those that exist)."""
    for f in journal.files:
        temp, _rel = confined(root, journal.temp_of(f.path))
        try:
            os.unlink(temp)
        except OSError:
            # one never made: on a read-only mount unlink says EROFS, not ENOENT (the attack
            # review: recovery failed with an internal error until the mount was writable)
            if os.path.lexists(temp):
                raise


def settle(root: Path, journal: Journal) -> Settled:
    """Complete or undo the run ``journal`` describes (see the module docstring)."""
    if is_committed(root, journal):
        remove_temps(root, journal)
        return Settled(committed=True)
    restored = 0
    untouched: list[str] = []
    for f in journal.files:
        target, _rel = confined(root, f.path)
        current = _sha_file(target)
        if current == f.sha_old:
            continue
        if current == f.sha_new or current is None:
            if f.old is None:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
            else:
                write_atomic(target, f.old)
            restored += 1
        else:
            untouched.append(f.path)  # changed by someone else since: not ours to undo
    remove_temps(root, journal)
    return Settled(committed=False, restored=restored, untouched=tuple(untouched))


# ------------------------------------------------------------------------------ recovery


@dataclass(frozen=True, slots=True)
class Recovery:
    """What ``recover`` did: the interrupted rotation (if any), the changelog append it
    finished (if any) and the temp files it removed."""

    message: str | None = None
    removed: tuple[str, ...] = ()
    appended: str | None = None

    def describe(self) -> str:
        """One line per thing done, or ``nothing to recover``."""
        lines = [self.message] if self.message else []
        if self.appended:
            lines.append(self.appended)
        if self.removed:
            lines.append(
                f"removed {plural(len(self.removed), 'leftover temp file')}: {self.removed[0]}"
            )
        return "\n".join(lines) if lines else "nothing to recover"


def _changelog_temps(root: Path, changelog: str | None) -> tuple[Path, list[Path]]:
    """The changelog's path and the temp files of its writers beside it (by name alone)."""
    log = changelog_path(root, changelog or load_settings(root).changelog)
    try:
        names = [p for p in log.parent.iterdir() if p.name.startswith(f".{log.name}.")]
    except OSError:
        names = []
    return log, [p for p in names if TEMP_NAME.fullmatch(p.name)]


def pending_append(root: Path) -> bool:
    """Whether a changelog temp file of a writer that is gone lies beside the changelog (a
    killed ``set``'s entry, which ``recover`` may finish): cheap, for writers to look first."""
    try:
        _log, temps = _changelog_temps(root, None)
    except SecretsmgrError:
        return False
    return any(not temp_in_use(p.name) for p in temps)


def _finish_append(root: Path, changelog: str | None) -> str | None:
    """Finish a changelog append a killed ``set``, ``unset``, ``edit`` or ``encrypt`` left in
    its temp file: the file it records was written first, so without the entry its change
    would have none (the write-side review of stop 53: ``recover`` removed the temp file, and
    ``log --verify`` then called the change one made outside secretsmgr). Only an untracked
    temp file that is the changelog as it is plus one entry, a chain intact, by the git
    identity writing now, whose every record is the state its file holds now, is taken."""
    log, temps = _changelog_temps(root, changelog)
    try:
        current = log.read_bytes() if log.exists() else b""
    except OSError:
        return None
    tracked = _tracked_names(root, temps)
    me = git.user_identity(root) if is_git_work_tree(root) else "unknown"
    for path in temps:
        if temp_in_use(path.name) or path.name in tracked:
            continue  # a live writer's; or one git delivered, which no killed run of ours left
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if len(data) <= len(current) or not data.startswith(current) or find_break(data):
            continue
        added = parse_entries(data)[len(parse_entries(current)) :]
        # one entry, by whoever writes here now, of the files as they are: what a killed
        # single-file write leaves (the review of stop 53: a temp file a pull request
        # committed, holding a forged entry, was spliced in)
        if len(added) != 1 or added[0].actor != me:
            continue
        if not all(_holds_now(root, r) for r in added[0].files):
            continue
        write_changelog(log, data)
        with contextlib.suppress(OSError):
            path.unlink()
        seq = added[0].seq
        return f"finished an interrupted changelog append (seq {seq}): its change is recorded"
    return None


def _tracked_names(root: Path, temps: Sequence[Path]) -> set[str]:
    """The names among ``temps`` that git tracks (none outside git)."""
    if not temps or not is_git_work_tree(root):
        return set()
    listed = {path for _mode, _blob, path in git.index_entries(root)}
    base = os.path.realpath(root)
    return {p.name for p in temps if os.path.relpath(os.path.realpath(p), base) in listed}


def _holds_now(root: Path, record: FileRecord) -> bool:
    """Whether the file ``record`` names holds the state it records after (none: removed)."""
    try:
        path, _rel = confined(root, record.path)
        if not record.sha256_after:
            return not os.path.lexists(path)
        return hashlib.sha256(path.read_bytes()).hexdigest() == record.sha256_after
    except (SecretsmgrError, OSError):
        return False


def _remove_stray_temps(root: Path, journal_dir: Path | None) -> tuple[str, ...]:
    """Temp files of ours whose writer is gone: never a live file, so always safe to delete;
    one git tracks is no writer's leftover (a commit brought it), and is left alone."""
    removed: list[str] = []
    temps = find_pending(root).temp_files
    tracked = _tracked_names(root, [root / rel for rel in temps]) if temps else set()
    for rel in temps:
        if temp_in_use(os.path.basename(rel)) or os.path.basename(rel) in tracked:
            continue
        try:
            path, _rel = confined(root, rel)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            path.unlink()
        except (SecretsmgrError, OSError):
            continue
        removed.append(rel)
    if journal_dir is not None and journal_dir.is_dir():
        for leftover in journal_dir.iterdir():
            if TEMP_NAME.fullmatch(leftover.name) and not temp_in_use(leftover.name):
                with contextlib.suppress(OSError):
                    leftover.unlink()
    return tuple(removed)


def _malformed(path: Path) -> RefusedError:
    return RefusedError(
        f"the rotation journal ({path}) is malformed; recover by hand",
        hints=("compare the files with git (git status, git diff), then delete the journal",),
    )


def _settle_pending(root: Path, where: Path, changelog: str | None) -> tuple[Journal, Settled]:
    log = changelog_path(root, changelog or load_settings(root).changelog)
    rel_log = log.relative_to(os.path.realpath(root)).as_posix()
    try:
        data = where.read_bytes()
        owner = json.loads(data).get("owner")
    except (OSError, ValueError, AttributeError) as exc:
        raise _malformed(where) from exc
    if owner_alive(owner):
        raise RefusedError(
            f"a rotation by pid {owner.get('pid')} is still writing in this repository",
            hints=("wait for it to finish, then run the command again",),
        )
    try:
        journal = parse_journal(root, data, rel_log)
    except (ValueError, TypeError, KeyError) as exc:
        raise _malformed(where) from exc
    settled = settle(root, journal)
    where.unlink()
    return journal, settled


def recover(root: Path, changelog: str | None = None) -> Recovery:
    """Finish or undo a rotation a killed run left behind, and remove leftover temp files.

    Runs under the write lock of ``root``. A journal whose owner still runs is refused (it is
    no interrupted run); a malformed one is left in place and refused.
    """
    with repo_lock(root):
        where = journal_path(root)
        pending = None
        if where is not None and where.exists():
            pending = _settle_pending(root, where, changelog)
        appended = _finish_append(root, changelog) if pending is None else None
        removed = _remove_stray_temps(root, where.parent if where is not None else None)
    if pending is None:
        return Recovery(removed=removed, appended=appended)
    journal, settled = pending
    if settled.committed:
        message = (
            f"completed an interrupted rotation (changelog seq {journal.seq}); "
            "its files are rotated but were not committed"
        )
    elif settled.untouched:
        raise RefusedError(
            f"rolled back an interrupted rotation, except {settled.untouched[0]} "
            f"({plural(len(settled.untouched), 'file')} changed since): check them by hand",
        )
    else:
        message = (
            "rolled back an interrupted rotation: "
            f"restored {plural(settled.restored, 'file')} to "
            + ("its old version" if settled.restored == 1 else "their old versions")
        )
    return Recovery(message, removed)


def refuse_pending(root: Path) -> None:
    """``RefusedError`` when a journal awaits recovery (a dry run must not read half a run)."""
    where = journal_path(root)
    if where is not None and where.exists():
        pending = read_pending_journal(where)
        if pending is not None and pending.owner_alive:
            # the attack review: a running rotation was called interrupted, and the hint to
            # recover would only wait for it
            raise RefusedError(
                f"a rotation by pid {pending.owner_pid} is writing right now",
                hints=("wait for it to finish, then run this again",),
            )
        raise RefusedError(
            "an interrupted rotation needs recovery first",
            hints=("run secretsmgr recover; it rolls the rotation back or completes it",),
        )
