"""Where a write may go: never through a symlink; into FIFOs and devices, never over them.

Every writer replaces a file atomically (a temp file beside it, then ``os.replace``). That is
wrong for two kinds of target. A symlink would be replaced by a regular file (its target,
perhaps another checkout's secret, left behind or read into this repository), so a target that
is a symlink, or lies under a symlinked folder of the repository, is refused. A FIFO, a
character device or ``/dev/stdout`` would be replaced by a regular file holding plaintext, so
``decrypt -o`` writes straight into those, as sops does.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from secretsmgr.errors import InputFileError, RefusedError
from secretsmgr.fsutil import confined, write_atomic
from secretsmgr.repo.lock import repo_lock

# /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N name a descriptor this process holds.
_FD_ALIAS = re.compile(r"/dev/(?:stdout|stderr|fd/\d+)|/proc/self/fd/\d+")


def is_inside(root: Path | None, path: Path) -> bool:
    """Whether ``path`` lies in the repository ``root`` (the folder, not the link target)."""
    if root is None:
        return False
    folder = Path(os.path.abspath(path)).parent
    real_root = os.path.realpath(root)
    return any(os.path.realpath(ancestor) == real_root for ancestor in (folder, *folder.parents))


def check_write_target(root: Path | None, path: Path) -> None:
    """Refuse a target that is a symlink, or lies under a symlinked folder of ``root``.

    Folders above the repository root are the user's business (a home reached through a
    link); inside it, every folder on the way must be a real one (``fsutil.confined``). A
    target outside the repository (``decrypt -o /tmp/x``) is checked for being a link only.
    """
    if path.is_symlink():
        raise RefusedError(
            f"{path}: is a symlink; secretsmgr writes only regular files",
            hints=(f"write to the file it points at: {os.path.realpath(path)}",),
        )
    try:
        mode = path.lstat().st_mode
    except OSError:
        mode = None  # a file to create, or one the write itself reports
    if mode is not None and stat.S_ISDIR(mode):
        raise InputFileError(f"{path}: is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        # a FIFO, device or socket in place of a file to rewrite: set, edit and rotate on a
        # FIFO hung until killed (the attack review of stop 50)
        raise InputFileError(f"{path}: not a regular file; secretsmgr rewrites only those")
    if root is None:
        return
    absolute = Path(os.path.abspath(path))
    real_root = os.path.realpath(root)
    for ancestor in absolute.parents:
        if os.path.realpath(ancestor) == real_root:  # the root, however it was reached
            confined(root, absolute.relative_to(ancestor).as_posix())
            return


@contextlib.contextmanager
def locked(root: Path | None, path: Path) -> Iterator[None]:
    """Hold the repository's write lock when ``path`` lies in it; otherwise do nothing."""
    if root is not None and is_inside(root, path):
        with repo_lock(root):
            yield
    else:
        yield


def _descriptor(path: Path) -> int | None:
    text = str(path)
    if not _FD_ALIAS.fullmatch(text):
        return None
    if text == "/dev/stdout":
        return 1
    if text == "/dev/stderr":
        return 2
    return int(text.rsplit("/", 1)[1])


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _is_special(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode  # follows links: /dev/fd/63 -> pipe
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def is_special_output(path: Path) -> bool:
    """Whether ``path`` is a descriptor alias, a FIFO or a character device (written into)."""
    return _descriptor(path) is not None or _is_special(path)


def write_special(path: Path, text: str) -> None:
    """Write into a descriptor alias, FIFO or character device, never replacing it."""
    data = text.encode("utf-8", "surrogateescape")
    fd = _descriptor(path)
    try:
        if fd is not None:
            if fd in (1, 2):
                (sys.stdout if fd == 1 else sys.stderr).flush()
            _write_fd(fd, data)
            return
        handle = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            _write_fd(handle, data)
        finally:
            os.close(handle)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc


def write_output(root: Path | None, path: Path, text: str) -> None:
    """Write plaintext the user asked for to ``path``.

    A descriptor alias (``/dev/stdout``, ``/dev/fd/3``) is written through the descriptor this
    process already holds; a FIFO or character device is opened and written into; anything
    else is a regular file, written atomically with mode 0600 (a symlink is refused).
    """
    if is_special_output(path):
        write_special(path, text)
        return
    check_write_target(root, path)
    write_atomic(path, text, mode=0o600)
