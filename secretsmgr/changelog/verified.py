"""What a writer already verified of a changelog, remembered so history is not checked again.

Every writer checks the whole chain before it appends (a broken changelog refuses the write).
A changelog grows with every rotation, by one record per file, so that check grows too: ten
rotations of 1,000 files are 5 MB to parse and hash on every ``set``. A writer that found the
chain intact, or that has just appended to it, leaves a ``Checkpoint`` here: the size and
sha256 of those exact bytes, their last seq and the hash of their last line. The next writer
checks only the lines after the checkpoint when the file still starts with those bytes, and
the whole chain otherwise (a rewritten or truncated history, another changelog path).

The checkpoint lives in the git directory (``<git dir>/secretsmgr/chains/<root key>.json``),
never in the repository: outside git there is none, and every check is whole. It is a cache:
unreadable, malformed or not matching, it is ignored; failing to write it changes nothing.
``log --verify`` and ``audit`` never read it: they check every line each time.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from secretsmgr.changelog.chain import ChainBreak, Checkpoint, checkpoint_of, find_break
from secretsmgr.repo import git
from secretsmgr.repo.lock import root_key

VERSION = 1
CHAINS = "chains"
_HEX = frozenset("0123456789abcdef")


def _where(root: Path) -> Path | None:
    if git.toplevel(root) is None:
        return None
    state = os.path.abspath(git.git_path(root, "secretsmgr"))  # as ``repo.lock.state_dir``
    return Path(state) / CHAINS / f"{root_key(root)}.json"


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _digest(value: object) -> str | None:
    return value if isinstance(value, str) and len(value) == 64 and set(value) <= _HEX else None


def _read(where: Path) -> bytes:
    """The checkpoint file's bytes: a regular file only (never a FIFO's endless wait)."""
    fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        return handle.read(1 << 16)


def load_checkpoint(where: Path | None, log: Path) -> Checkpoint | None:
    """The checkpoint kept at ``where`` (``_where``) for the changelog ``log``, or None."""
    if where is None:
        return None
    try:
        state = json.loads(_read(where))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        return None
    if state.get("changelog") != os.path.realpath(log):
        return None
    size, seq = _number(state.get("size")), _number(state.get("seq"))
    digest, tail = _digest(state.get("sha256")), _digest(state.get("tail"))
    if size is None or seq is None or digest is None or tail is None:
        return None
    return Checkpoint(size, digest, seq, tail)


def remember(root: Path, log: Path, data: bytes, where: Path | None = None) -> None:
    """Keep the checkpoint of ``data``, the intact changelog ``log`` of ``root`` (best effort)."""
    if where is None:
        try:
            where = _where(root)
        except Exception:  # a cache: git failing here must not fail a finished write
            return
    if where is None:
        return
    point = checkpoint_of(data)
    state = {
        "version": VERSION,
        "changelog": os.path.realpath(log),
        "size": point.size,
        "sha256": point.sha256,
        "seq": point.seq,
        "tail": point.tail,
    }
    with contextlib.suppress(OSError):
        where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = where.with_name(f".{where.name}.{os.getpid()}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)  # left by a killed run of this pid
            fd = os.open(temp, flags, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, sort_keys=True)
            os.replace(temp, where)  # a cache: no fsync, a torn file is merely ignored
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


def chain_break(root: Path, log: Path, data: bytes) -> ChainBreak | None:
    """``find_break`` of the changelog ``log`` of ``root``, from its checkpoint when it has one
    that still holds; an intact chain leaves a checkpoint for the next writer."""
    try:
        where = _where(root)
    except Exception:  # no cache: the whole chain is checked
        where = None
    point = load_checkpoint(where, log)
    found = find_break(data, point)
    if found is None and where is not None and (point is None or point.size != len(data)):
        remember(root, log, data, where)
    return found
