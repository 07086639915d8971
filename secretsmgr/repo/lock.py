"""One writer at a time per repository root: an OS file lock in the git directory.

Every command that writes (rotate, key rotate, encrypt -i/-o inside a repository, edit at save,
set/unset, init, changelog appends) holds ``repo_lock(root)`` while it writes. The lock is an
``flock`` on a file under ``.git/secretsmgr/locks/``, named by a hash of the resolved root, so two
``--repo`` roots of one checkout do not block each other and the lock dies with its process
(kill -9 included). Outside git the lock file sits in the system temp folder, keyed the same way.

A second writer waits ``wait`` seconds, then gets a ``BusyError`` (exit 1) naming the holder's pid.
The lock is re-entrant within one process (a rotate that appends to the changelog takes it once).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from secretsmgr.errors import BusyError
from secretsmgr.repo import git

DEFAULT_WAIT = 5.0
_POLL = 0.05
_held: dict[str, int] = {}  # lock file -> depth, for re-entrance within this process
_guard = threading.Lock()


def root_key(root: Path) -> str:
    """A stable name for the repository root: the sha256 of its resolved path (16 hex digits)."""
    resolved = os.path.realpath(root)
    return hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def state_dir(root: Path) -> Path:
    """Where secretsmgr keeps per-root state for ``root``: ``<git dir>/secretsmgr`` in git,
    else a private folder in the system temp directory."""
    if git.toplevel(root) is not None:
        return Path(os.path.abspath(git.git_path(root, "secretsmgr")))
    return Path(tempfile.gettempdir()) / f"secretsmgr-{os.getuid()}"


def lock_path(root: Path) -> Path:
    """The lock file of ``root``."""
    return state_dir(root) / "locks" / f"{root_key(root)}.lock"


def _holder(handle: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        data = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
        if data.isdigit():
            return data
    return "unknown"


@contextlib.contextmanager
def repo_lock(root: Path, *, wait: float = DEFAULT_WAIT) -> Iterator[None]:
    """Hold the write lock of ``root`` for the duration of the block."""
    path = lock_path(root)
    key = str(path)
    with _guard:
        depth = _held.get(key, 0)
        if depth:
            _held[key] = depth + 1
    if depth:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise BusyError(
                        f"another secretsmgr is writing in this repository (pid {_holder(handle)})",
                        hints=("wait for it to finish, then run the command again",),
                    ) from None
                time.sleep(_POLL)
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode("ascii"), 0)
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(handle, 0)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def is_locked(root: Path) -> bool:
    """Whether a writer (this process included) holds the write lock of ``root`` right now."""
    path = lock_path(root)
    try:
        handle = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
    finally:
        os.close(handle)
