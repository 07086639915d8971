"""Filesystem helpers every writer uses: atomic replace and a memory-backed scratch folder."""

from __future__ import annotations

import contextlib
import os
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


def memory_dir(env: Mapping[str, str]) -> Path:
    """A memory-backed folder for plaintext scratch files (/dev/shm, else $XDG_RUNTIME_DIR)."""
    for candidate in ("/dev/shm", env.get("XDG_RUNTIME_DIR", "")):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    raise UserError(
        "no memory-backed folder for the plaintext scratch file",
        hints=("mount /dev/shm or set XDG_RUNTIME_DIR to a tmpfs folder",),
    )


@contextlib.contextmanager
def scratch_file(folder: Path, suffix: str, text: str) -> Iterator[Path]:
    """A 0600 file holding ``text`` in its own 0700 folder, removed on exit whatever happens."""
    box = Path(tempfile.mkdtemp(prefix="secretsmgr-", dir=folder))
    os.chmod(box, 0o700)
    target = box / f"edit{suffix}"
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        yield target
    finally:
        for leftover in box.iterdir() if box.exists() else ():
            with contextlib.suppress(OSError):
                leftover.unlink()
        with contextlib.suppress(OSError):
            box.rmdir()
