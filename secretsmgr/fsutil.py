"""Filesystem helpers every writer uses.

- ``check_write_target``: the one guard for a write inside a repository (never through a link,
  never outside the root);
- ``write_atomic``: a temp file beside the target, fsynced, moved into place, folder fsynced;
- ``write_new``/``fsync_files``/``fsync_dirs``: the batched form a transaction uses (write every
  temp file, one sync pass, the renames, the folders synced; a syncfs(2) of the filesystem
  instead of many fsyncs on Linux);
- ``memory_dir``/``scratch_file``: a memory-backed folder for plaintext scratch files.

Every temp file secretsmgr makes is named ``.NAME.secretsmgr-PID-TAG.new`` (``TEMP_NAME``), so a
leftover one is recognisable (audit rule SM022) and its writer's pid tells whether it is still
in use.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from secretsmgr.errors import FormatError, InputFileError, RefusedError, TooLargeError, UserError

# A temp file of ours: what ``temp_path`` makes. ``name`` is the target's file name.
TEMP_NAME = re.compile(r"\.(?P<name>.+)\.secretsmgr-(?P<pid>[0-9]+)-(?P<tag>[0-9a-f]{8})\.new")
_FSYNC_THREADS = 32  # concurrent fsyncs share journal commits (ext4, xfs): one pass, few commits
_CREATORS = 2  # threads that create a transaction's temp files (see in_runs)
_RUN_MIN = 64  # fewer items than this go in one run, in order: a thread would cost more
_SYNCFS_MIN = 64  # from this many paths on, one syncfs(2) beats an fsync each (Linux)
_SYNCFS_DIRTY_PER_PATH = 64 * 1024  # ... while the page cache holds at most this per path dirty
# ... on a local filesystem whose syncfs writes every file's data: not on FUSE (sshfs, virtiofs,
# a container's bind mount on a laptop), where it may write nothing, nor NFS, whose fsync commits
_SYNCFS_TYPES = frozenset(("ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "tmpfs"))


def read_text(
    path: Path, *, exact: bool = False, limit: int | None = None, shown: str | None = None
) -> str:
    """Read a UTF-8 file named by the user; a clear ``InputFileError`` when it cannot be opened,
    ``FormatError`` (refused, exit 1, as malformed YAML is) when it is no UTF-8 text.

    ``exact``: every byte as it is (line endings kept, bytes that are not UTF-8 escaped), for a
    file kept whole in sops's binary store. ``limit``: ``TooLargeError`` past this many bytes,
    read no further (``/dev/zero`` named, or a link to it, filled the memory: the attack
    review of stop 50).
    """
    data = read_bounded(path, limit)
    refuse_over(path, data, limit, shown)
    return decode_text(path, data, exact=exact)


def decode_text(path: Path, data: bytes, *, exact: bool = False) -> str:
    """``data``, the bytes of ``path``, as ``read_text`` gives them: universal newlines, or every
    byte as it is (``exact``); ``FormatError`` when it is no UTF-8 text."""
    try:
        if exact:
            return data.decode("utf-8", "surrogateescape")
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not a UTF-8 text file") from exc


def refuse_over(path: Path, data: bytes, limit: int | None, shown: str | None = None) -> None:
    """``TooLargeError`` when ``read_bounded`` found more than ``limit`` bytes (how many more
    is unknown: it stopped reading); ``shown``: the limit as the message says it."""
    if limit is not None and len(data) > limit:
        raise TooLargeError(
            f"{path}: over the {shown or f'{limit}-byte'} file-size limit (--max-file-size)",
            hints=("to read it anyway: secretsmgr --max-file-size <size> …",),
        )


def read_bounded(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``: at most ``limit + 1`` of them when a limit is given.

    A device is read only up to the limit (``/dev/zero`` filled the memory: the attack review
    of stop 50); a FIFO waits for its writer, as ``cat`` does (one opened without waiting read
    as empty when its writer came a moment later, and encrypt wrote an empty file: the review
    of that change). Writers refuse a FIFO as their target before they read it
    (``fileops.target.check_write_target``). Errors as ``read_text`` gives them.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputFileError(f"{path}: is a directory")
        cap = None if limit is None else limit + 1
        chunks: list[bytes] = []
        total = 0
        while cap is None or total < cap:
            want = max(info.st_size + 1, 1 << 16) if cap is None else min(1 << 20, cap - total)
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    finally:
        os.close(fd)


def read_regular(
    path: str | os.PathLike[str], *, limit: int | None = None, links: bool = True
) -> bytes:
    """The bytes of ``path`` if it is a regular file: opened without waiting (a FIFO), judged by
    what was opened (a device, a socket, a folder: ``OSError``), at most ``limit + 1`` of them.
    ``links``: False refuses a link as the file itself (``OSError``). For files the user did
    not name (the working tree's, a neighbour's): reading a FIFO there hung a command, a link
    to ``/dev/zero`` crashed one (the attack reviews of stops 49 and 50)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if links else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        return handle.read() if limit is None else handle.read(limit + 1)


def read_optional(path: Path) -> str | None:
    """A UTF-8 file's text exactly as on disk (line endings kept), or None when it is absent."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not a UTF-8 text file") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to a temp file beside ``path`` and move it into place with os.replace.

    Keeps the existing file's permission bits unless ``mode`` is given; on any failure the
    temp file is removed and ``path`` is untouched. The file and then its folder are fsynced,
    so the new content is durable when this returns.
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
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # an append-only folder keeps it: nothing to do
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
        raise
    try:
        fsync_dirs([folder])
    except OSError as exc:
        # the new content is in place: saying "cannot write" was wrong (the attack review of
        # stop 52: set's value was there, its changelog entry not)
        raise InputFileError(
            f"{path}: written, but its folder could not be synced to disk ({exc.strerror}): "
            "the change may not survive a crash, and nothing after it was done"
        ) from exc


def temp_path(target: Path, tag: str | None = None) -> Path:
    """The temp file beside ``target`` for this process: ``.NAME.secretsmgr-PID-TAG.new``."""
    tag = tag if tag is not None else secrets.token_hex(4)
    return target.with_name(f".{target.name}.secretsmgr-{os.getpid()}-{tag}.new")


def write_new(path: Path, text: str, mode: int) -> None:
    """Create ``path`` (never an existing file) holding ``text`` with exactly ``mode``.

    Not fsynced: the caller runs one ``fsync_files`` pass over all the files it wrote.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            os.fchmod(fd, mode)  # the umask took bits the target has
        handle.write(text)


def in_runs(count: int, fn: Callable[[int], None], runs: int = _CREATORS) -> None:
    """``fn(i)`` for every ``i`` below ``count``: ``runs`` contiguous runs of indexes, each on its
    own thread (this one included), each in index order.

    For creating many files: a creation is kernel work done outside the GIL, and on ext4 without
    a journal each one first steps over the inodes its block group freed in the last minutes
    (tenths of a millisecond each after a large rotation). Neighbouring paths share folders and
    block groups, so contiguous runs barely contend: two runs take half the time of one.

    Fewer than ``_RUN_MIN`` items make one run, on this thread. The first failure stops every
    run before its next item; once all have stopped, the failure of the lowest index (of those
    that happened) is raised.
    """
    runs = max(1, min(runs, count)) if count >= _RUN_MIN else 1
    size = -(-count // runs) if count else 0
    stop = threading.Event()
    failures: dict[int, BaseException] = {}

    def run(start: int) -> None:
        for i in range(start, min(start + size, count)):
            if stop.is_set():
                return
            try:
                fn(i)
            except BaseException as exc:
                failures[i] = exc
                stop.set()
                return

    started: list[threading.Thread] = []
    try:
        for start in range(size, count, size):
            helper = threading.Thread(target=run, args=(start,), daemon=True)
            helper.start()
            started.append(helper)
        run(0)
        for helper in started:
            helper.join()
    finally:
        # a thread that could not start, or Ctrl-C while this one waits: the others stop
        # before their next item, and none is still writing when this returns (the attack
        # review: a cleanup ran while a helper went on making temp files)
        stop.set()
        _join_all(started)
    if failures:
        raise failures[min(failures)]


def _join_all(threads: Sequence[threading.Thread]) -> None:
    """Wait for every thread, through any Ctrl-C meanwhile (raised once all have ended)."""
    interrupted: KeyboardInterrupt | None = None
    for thread in threads:
        while thread.is_alive():
            try:
                thread.join()
            except KeyboardInterrupt as exc:
                interrupted = exc
    if interrupted is not None:
        raise interrupted


def file_mode(path: Path, default: int = 0o644) -> int:
    """The permission bits of ``path``, or ``default`` when it does not exist."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return default


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dirty_bytes() -> int | None:
    """The page cache's dirty bytes, system-wide (Linux ``/proc/meminfo``), or None."""
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _mount_types() -> dict[int, str]:
    """The filesystem type of each mounted device (``/proc/self/mountinfo``), by ``st_dev``."""
    types: dict[int, str] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields, _, rest = line.partition(" - ")
                parts = fields.split()
                major, _, minor = parts[2].partition(":") if len(parts) > 2 else ("", "", "")
                if major.isdigit() and minor.isdigit() and rest:
                    types[os.makedev(int(major), int(minor))] = rest.split()[0]
    except OSError:
        return {}
    return types


def _syncfs_reports_errors() -> bool:
    """Whether this kernel's syncfs(2) reports writeback errors (Linux 5.8 and later)."""
    if not sys.platform.startswith("linux"):
        return False
    found = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return found is not None and (int(found[1]), int(found[2])) >= (5, 8)


class SyncToken:
    """Where one syncfs(2) per filesystem may stand in for many fsyncs: a folder of each
    filesystem a transaction writes to, held open from before its first write.

    syncfs reports a writeback error only to a file opened before it happened (and not yet
    told of it): opened after the writes, an error another program's sync had already seen
    would go unreported (the attack review of stop 48). Use ``sync_token`` as a context
    manager around the writes, and pass it to ``fsync_files`` and ``fsync_dirs``."""

    def __init__(self, fds: dict[int, int]) -> None:
        self.fds = fds  # st_dev -> an fd opened before the writes

    def __enter__(self) -> SyncToken:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the folders held open."""
        fds, self.fds = self.fds, {}
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)


@functools.cache
def _syncfs_call() -> Callable[[int], int] | None:
    """libc's syncfs, loaded once (None where there is none)."""
    try:
        import ctypes

        call: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return call


def sync_token(folders: Iterable[Path]) -> SyncToken:
    """A ``SyncToken`` for the filesystems of ``folders`` (empty where syncfs is not sound: not
    Linux 5.8 or later, or a filesystem whose syncfs may not write every file)."""
    if not _syncfs_reports_errors() or _syncfs_call() is None:
        return SyncToken({})
    types = _mount_types()
    fds: dict[int, int] = {}
    try:
        for folder in dict.fromkeys(Path(os.path.abspath(f)) for f in folders):
            device = os.stat(folder).st_dev
            if device in fds:
                continue
            if types.get(device) not in _SYNCFS_TYPES:
                raise _NoSyncfs
            fds[device] = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    except (OSError, _NoSyncfs):
        SyncToken(fds).close()
        return SyncToken({})
    return SyncToken(fds)


class _NoSyncfs(Exception):
    """A folder on a filesystem syncfs is not used for."""


def _syncfs_all(paths: Sequence[Path], token: SyncToken | None) -> bool:
    """Make ``paths`` durable with one syncfs(2) per filesystem they are on, through the folders
    ``token`` holds open; False (nothing done) where that is not worth it or not sound, and the
    caller fsyncs each path.

    Syncing a whole filesystem also writes what other programs left dirty on it, so it is used
    only while little is (``_SYNCFS_DIRTY_PER_PATH`` for each path it saves an fsync of), only
    on local filesystems whose syncfs writes every file (``_SYNCFS_TYPES``, checked by
    ``sync_token``), and only on kernels whose syncfs reports a failed writeback (before 5.8 it
    did not)."""
    if token is None or not token.fds or len(paths) < _SYNCFS_MIN:
        return False
    dirty = _dirty_bytes()
    if dirty is None or dirty > len(paths) * _SYNCFS_DIRTY_PER_PATH:
        return False
    syncfs = _syncfs_call()
    devices = {os.stat(path).st_dev for path in paths}  # a path may be a mount point: each
    if syncfs is None or not devices <= set(token.fds):
        return False
    import ctypes

    for device in devices:
        if syncfs(token.fds[device]) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), "syncfs")
    return True


def _fsync_all(paths: Sequence[Path], flags: int, token: SyncToken | None = None) -> None:
    if _syncfs_all(paths, token):
        return
    if len(paths) <= 1:
        for path in paths:
            _fsync_path(path, flags)
        return
    with ThreadPoolExecutor(max_workers=min(_FSYNC_THREADS, len(paths))) as pool:
        for _ in pool.map(lambda p: _fsync_path(p, flags), paths):
            pass


def fsync_files(paths: Sequence[Path], token: SyncToken | None = None) -> None:
    """Make files already written and closed durable: one syncfs(2) of their filesystem when
    there are many and ``token`` (opened before they were written) holds it (Linux), else one
    fsync pass (concurrently: few journal commits)."""
    _fsync_all(paths, os.O_RDONLY, token)


def fsync_dirs(folders: Iterable[Path], token: SyncToken | None = None) -> None:
    """Make the renames into ``folders`` durable: fsync each distinct folder once (or, for many,
    one syncfs(2) of their filesystem, as ``fsync_files``)."""
    unique = list(dict.fromkeys(Path(os.path.abspath(f)) for f in folders))
    _fsync_all(unique, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0), token)


_CLOSERS = 8  # threads that let replaced files go (see replace_all)
_HELD = 256  # replaced files kept open at most, waiting for a closer


def replace_all(moves: Sequence[tuple[Path, Path]], before_each: Callable[[int], None]) -> None:
    """``os.replace(temp, target)`` for each pair in order, calling ``before_each(i)`` first.

    A replaced file's old inode is freed by its last close, and freeing inodes one after the
    other inside ``os.replace`` is the slowest part of a large rotation. So each old file is
    held open across its replace and closed by a small thread pool: the renames stay in order,
    and the freeing overlaps. Returns when every old file is let go.
    """
    slots = threading.BoundedSemaphore(_HELD)

    def let_go(fd: int) -> None:
        try:
            os.close(fd)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=_CLOSERS) as closers:
        for i, (temp, target) in enumerate(moves):
            before_each(i)
            slots.acquire()
            try:
                # never blocking: a FIFO put in the target's place opens at once (the attack
                # review: the rotation and every recovery after it hung on one)
                old = os.open(target, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                slots.release()
                old = -1
            if old >= 0 and not stat.S_ISREG(os.fstat(old).st_mode):
                os.close(old)
                slots.release()
                raise RefusedError(
                    f"{target}: no longer a regular file (a folder, FIFO or device was put in its "
                    "place while secretsmgr ran); the files already replaced are put back"
                )
            try:
                os.replace(temp, target)
            finally:
                if old >= 0:
                    closers.submit(let_go, old)


def confined(root: Path, path: Path | str) -> tuple[Path, str]:
    """``path`` (absolute, or relative to ``root``) as (absolute path, repo-relative POSIX path).

    ``RefusedError`` when it lies outside ``root``, is a symbolic link, or lies under one below
    ``root`` (the root itself may sit under links). Missing trailing components are fine: a
    file about to be created.
    """
    base = os.path.realpath(root)
    rel = _relative(root, base, os.fspath(path))
    _refuse_links(base, rel, {})
    return Path(base, *rel.split("/")), rel


def _relative(root: Path, base: str, raw: str) -> str:
    """``raw`` as a plain repo-relative POSIX path, or ``RefusedError``."""
    if "\x00" in raw:  # os.lstat would raise ValueError: no path at all
        raise RefusedError("a path with a NUL character is no repository path")
    if not os.path.isabs(raw):
        if "\\" in raw:
            raise RefusedError(f"{raw}: not a repository path")
        parts = raw.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise RefusedError(f"{raw}: not a plain path inside the repository")
        return "/".join(parts)
    absolute = os.path.normpath(raw)
    rel = ""
    for anchor in (os.path.abspath(root), base):
        if absolute == anchor:
            raise RefusedError(f"{raw}: is the repository root, not a file in it")
        if absolute.startswith(anchor.rstrip("/") + "/"):
            rel = os.path.relpath(absolute, anchor).replace(os.sep, "/")
            break
    if not rel or rel.startswith("../"):
        raise RefusedError(
            f"{raw}: outside the repository {root}; secretsmgr writes only inside it"
        )
    return rel


def _refuse_links(base: str, rel: str, folders: dict[str, bool]) -> None:
    """``RefusedError`` when ``rel`` (below ``base``) is a link or lies under one. ``folders``
    remembers, for one batch of paths, which folders were seen and whether they exist."""
    current = base
    parts = rel.split("/")
    for number, part in enumerate(parts):
        current = os.path.join(current, part)
        last = number == len(parts) - 1
        if not last and current in folders:
            if not folders[current]:
                return  # a missing folder: nothing below it exists either
            continue
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            if not last:
                folders[current] = False
            return
        if stat.S_ISLNK(info.st_mode):
            where = os.path.relpath(current, base).replace(os.sep, "/")
            if where == rel:
                raise RefusedError(
                    f"{rel}: is a symbolic link; secretsmgr never writes through a link",
                    hints=("replace the link with the file itself, or name the file it points to",),
                )
            raise RefusedError(
                f"{rel}: lies under the symbolic link {where}; secretsmgr never writes through "
                "a link",
                hints=("name the file by its real path inside the repository",),
            )
        if not last:
            folders[current] = True


def check_write_target(root: Path, path: Path | str) -> Path:
    """The guard every writer inside a repository calls first; returns the path to write.

    Refused (``RefusedError``, exit 1) when the target is a symbolic link, lies under a
    symlinked folder, or lies outside ``root``.
    """
    return confined(root, path)[0]


def check_write_targets(root: Path, paths: Iterable[str]) -> dict[str, Path]:
    """``check_write_target`` of each of ``paths``, by path: the root is resolved once and each
    folder looked at once (a rotation of 1,000 files made 7,000 ``lstat`` calls)."""
    base = os.path.realpath(root)
    folders: dict[str, bool] = {}
    out: dict[str, Path] = {}
    for path in paths:
        rel = _relative(root, base, path)
        _refuse_links(base, rel, folders)
        out[path] = Path(base, *rel.split("/"))
    return out


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if unknown.

    Together with the pid it names one process: a pid reused by a later process has another
    start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    return fields[19].decode("ascii") if len(fields) > 19 else None


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


_BOX = "secretsmgr-edit-"  # + the PID namespace + "-" + PID.START + "-" + random


def _pid_space() -> str:
    """This process's PID namespace (pids of another one say nothing here)."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return "0"


def _owner(pid: int) -> str:
    """``PID.START``: names one process (a reused pid has another start time)."""
    return f"{pid}.{process_start(pid) or 0}"


def _gone(owner: str) -> bool:
    """Whether the process an ``_owner`` text names has ended."""
    pid_text, _, start = owner.partition(".")
    if not pid_text.isdigit() or not start.isdigit():
        return False  # not a name of ours: leave it
    pid = int(pid_text)
    return not pid_alive(pid) or (start != "0" and process_start(pid) != start)


def sweep_scratch(folder: Path, min_age: float = 60.0) -> list[str]:
    """Remove the scratch folders in ``folder`` that an ``edit`` killed with SIGKILL left
    behind: ours (same user, same PID namespace) whose process is gone, and unchanged for
    ``min_age`` seconds. Their names."""
    prefix = f"{_BOX}{_pid_space()}-"
    now = time.time()
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        owner = entry.name[len(prefix) :].split("-", 1)[0]
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.getuid()
            or now - info.st_mtime < min_age
            or not _gone(owner)
        ):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.name)
    return removed


@contextlib.contextmanager
def scratch_file(folder: Path, name: str, text: str) -> Iterator[Path]:
    """A 0600 file called ``name`` holding ``text``, alone in a new 0700 folder.

    The folder and everything in it (an editor's swap and backup files too) are removed on
    exit, whatever happens but SIGKILL; what a killed edit left is removed by the next edit
    (and by ``recover``), once its process is gone.
    """
    sweep_scratch(folder)
    box = Path(tempfile.mkdtemp(prefix=f"{_BOX}{_pid_space()}-{_owner(os.getpid())}-", dir=folder))
    try:
        os.chmod(box, 0o700)
        target = box / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        yield target
    finally:
        shutil.rmtree(box, ignore_errors=True)
