"""Changelog entries: the one builder every writer uses, and the append of single-file writes.

``file_record`` and ``build_entry`` make the entry of any run (a rotation, ``encrypt``,
``edit``, ``set``, ``unset``); ``record_write`` appends one for a single-file write inside a
repository, under the repository's write lock, after finishing any interrupted rotation.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from secretsmgr.changelog.chain import (
    RENAME_TO_UTF8,
    Entry,
    FileRecord,
    append,
    broken_error,
    conflict_error,
    datakey_id,
    has_conflict,
    is_utf8,
    next_entry,
)
from secretsmgr.changelog.store import changelog_path, load_changelog, write_changelog
from secretsmgr.changelog.verified import chain_break, remember
from secretsmgr.errors import ChainError, RefusedError
from secretsmgr.repo import git
from secretsmgr.repo.flux import find_layers
from secretsmgr.repo.lock import repo_lock
from secretsmgr.repo.root import is_git_work_tree
from secretsmgr.repo.settings import load_settings
from secretsmgr.repo.snapshot import WorktreeSnapshot
from secretsmgr.rotate.journal import Recovery, recover
from secretsmgr.sops.document import format_for_text, has_metadata, load, parse_documents


def file_record(
    path: str,
    *,
    old_text: str,
    new_text: str,
    data_key: bytes,
    lastmodified: str,
    recipients_before: Sequence[str],
    recipients_after: Sequence[str],
    key_paths: Sequence[str] = (),
) -> FileRecord:
    """What one run did to one file (public facts only: hashes, recipients, a key fingerprint,
    and the key paths given a new value: ``set``/``unset``, ``rotate --regenerate``)."""
    return FileRecord(
        path=path,
        lastmodified=lastmodified,
        recipients_before=tuple(recipients_before),
        recipients_after=tuple(recipients_after),
        datakey_id=datakey_id(data_key),
        sha256_before=hashlib.sha256(old_text.encode("utf-8", "surrogateescape")).hexdigest(),
        sha256_after=hashlib.sha256(new_text.encode("utf-8", "surrogateescape")).hexdigest(),
        key_paths=tuple(key_paths),
    )


def build_entry(
    root: Path,
    log: bytes,
    *,
    action: str,
    reason: str,
    layers: Sequence[str],
    files: Sequence[FileRecord],
    verified: bool = False,
) -> Entry:
    """The entry that follows ``log``: now, by the git user (``unknown`` outside git).
    ``verified``: the caller checked the chain of ``log`` (``next_entry``)."""
    return next_entry(
        log,
        verified=verified,
        time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        actor=git.user_identity(root) if is_git_work_tree(root) else "unknown",
        action=action,
        reason=reason,
        layers=layers,
        files=files,
    )


@contextmanager
def writing(root: Path) -> Iterator[Recovery]:
    """Hold the write lock of ``root`` and finish any interrupted write first.

    Every writer inside a repository runs in this block: ``with writing(root) as recovered:``
    (``recovered.message`` says what was finished, for the user).
    """
    with repo_lock(root):
        yield recover(root)


P = ParamSpec("P")
R = TypeVar("R")


def locked_writer(fn: Callable[Concatenate[Path, P], R]) -> Callable[Concatenate[Path, P], R]:
    """Run ``fn(root, …)`` inside ``writing(root)``: from its first read to its last write."""

    @functools.wraps(fn)
    def run(root: Path, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with writing(root):
            return fn(root, *args, **kwargs)

    return run


def check_recordable(root: Path, path: Path) -> None:
    """Before a single-file write inside ``root``: its entry could be appended afterwards.

    The settings parse, the changelog (when there is one) is an unbroken chain in a file this
    process may replace. A writer calls this first, so that a bad changelog or configuration
    refuses the write instead of failing after it (``record_write`` checks again under the
    lock). Outside the repository nothing is recorded, so nothing is checked.
    """
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return
    settings = load_settings(root)
    log = changelog_path(root, settings.changelog)
    data = load_changelog(log)
    if not data and not log.exists():
        return
    if not is_utf8(path.resolve().relative_to(root.resolve()).as_posix()):
        # the caller names the file
        raise ChainError(
            "its name is not UTF-8 text, which the changelog records", hints=(RENAME_TO_UTF8,)
        )
    broken = chain_break(root, log, data)
    if broken is not None and has_conflict(data):
        raise conflict_error(settings.changelog)
    if broken is not None:
        raise RefusedError(
            f"{settings.changelog} is broken at seq {broken.seq}: {broken.reason}; "
            "nothing was written",
            hints=(f"restore {settings.changelog} from git, then write again",),
        )
    # The append replaces the file (a temp file in its folder, then a rename): the folder must
    # take a new file, and the file must not be immutable or append-only (EPERM on opening it
    # to write without O_APPEND; EACCES from its mode bits alone does not stop a rename).
    if not os.access(log.parent, os.W_OK | os.X_OK):
        raise RefusedError(
            f"{settings.changelog}: cannot write the changelog's folder; nothing was written"
        )
    try:
        os.close(os.open(log, os.O_WRONLY | os.O_CLOEXEC))  # opens, writes nothing
    except PermissionError as exc:
        if exc.errno == errno.EPERM:
            raise RefusedError(
                f"{settings.changelog}: cannot replace the changelog ({exc.strerror}); "
                "nothing was written"
            ) from exc
    except OSError as exc:
        raise RefusedError(
            f"{settings.changelog}: cannot write the changelog ({exc.strerror}); "
            "nothing was written"
        ) from exc


def record_write(
    root: Path,
    path: Path,
    action: str,
    old_text: str,
    new_text: str,
    data_key: bytes,
    *,
    key_paths: Sequence[str] = (),
) -> int | None:
    """Append an entry for ``path`` when it lies in ``root`` and the repo keeps a changelog.

    Returns the new seq, or None when nothing was recorded (no changelog yet, or the file is
    outside the repository). ``key_paths`` names the values a ``set``/``unset`` changed.
    Never records a value or a key. Runs under the write lock.
    """
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    with writing(root):
        settings = load_settings(root)
        log = changelog_path(root, settings.changelog)
        if not log.exists():
            return None
        fmt = format_for_text(path.name, new_text)
        new = load(new_text, fmt)
        before: tuple[str, ...] = ()
        old_docs = parse_documents(old_text, fmt) if old_text else []
        if has_metadata(old_docs, fmt):
            before = load(old_text, fmt).metadata.age_recipients
        layers = find_layers(
            WorktreeSnapshot(root), settings.clusters, dict(settings.sources)
        ).layers_of(rel)
        data = load_changelog(log)
        broken = chain_break(root, log, data)
        if broken is not None:
            raise broken_error(broken, data)
        entry = build_entry(
            root,
            data,
            verified=True,
            action=action,
            reason="",
            layers=layers,
            files=[
                file_record(
                    rel,
                    old_text=old_text,
                    new_text=new_text,
                    data_key=data_key,
                    lastmodified=new.metadata.lastmodified,
                    recipients_before=before,
                    recipients_after=new.metadata.age_recipients,
                    key_paths=key_paths,
                )
            ],
        )
        new_log = append(data, entry)
        write_changelog(log, new_log)
        remember(root, log, new_log)
        return entry.seq
