"""Filesystem helpers every writer uses: atomic replace and a memory-backed scratch folder."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from secretsmgr.errors import InputFileError, UserError


def read_text(path: Path) -> str:
    """Read a UTF-8 file named by the user; a clear ``InputFileError`` when that fails."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{path}: is a directory") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not a UTF-8 text file") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to a temp file beside ``path`` and move it into place with os.replace.

    Keeps the existing file's permission bits unless ``mode`` is given; on any failure the
    temp file is removed and ``path`` is untouched.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory")
    try:
        existing = path.lstat().st_mode
    except FileNotFoundError:
        existing = None
    if existing is not None and not (stat.S_ISREG(existing) or stat.S_ISLNK(existing)):
        # a FIFO, device or socket: os.replace would swap it for a regular file (as root,
        # even /dev/null); callers that may write into one use fileops.write_special
        raise InputFileError(f"{path}: not a regular file")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
        raise


_MEMORY_FS = frozenset({"tmpfs", "ramfs"})


def _unescape_mount(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def filesystem_type(path: str, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The type of the filesystem holding ``path`` (from the kernel's mount table), or None."""
    real = os.path.realpath(path)
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        point = _unescape_mount(fields[4])
        fstype = fields[fields.index("-", 6) + 1]
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        # The last of several mounts on one point is the visible one.
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    return best[1] if best else None


def _private_memory_folder(candidate: str) -> bool:
    """A tmpfs folder owned by this user with mode 0700 (what $XDG_RUNTIME_DIR must be)."""
    try:
        info = os.stat(candidate)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) == 0o700
        and filesystem_type(candidate) in _MEMORY_FS
    )


def memory_dir(env: Mapping[str, str], shm: str = "/dev/shm") -> Path:
    """A memory-backed folder for plaintext scratch files.

    ``/dev/shm`` when it is a writable tmpfs; else ``$XDG_RUNTIME_DIR`` when it is a tmpfs
    owned by this user with mode 0700. Never a folder on disk.
    """
    if (
        os.path.isdir(shm)
        and os.access(shm, os.W_OK | os.X_OK)
        and filesystem_type(shm) in _MEMORY_FS
    ):
        return Path(shm)
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and _private_memory_folder(runtime):
        return Path(runtime)
    raise UserError(
        "no memory-backed folder for the plaintext scratch file",
        hints=(
            "mount a tmpfs on /dev/shm, or set XDG_RUNTIME_DIR to a tmpfs folder "
            "of yours with mode 0700",
        ),
    )


@contextlib.contextmanager
def scratch_file(folder: Path, name: str, text: str) -> Iterator[Path]:
    """A 0600 file called ``name`` holding ``text``, alone in a new 0700 folder.

    The folder and everything in it (an editor's swap and backup files too) are removed on
    exit, whatever happens.
    """
    box = Path(tempfile.mkdtemp(prefix="secretsmgr-", dir=folder))
    try:
        os.chmod(box, 0o700)
        target = box / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        yield target
    finally:
        shutil.rmtree(box, ignore_errors=True)
