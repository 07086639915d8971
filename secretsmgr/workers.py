"""Work on every core: a fork-based ordered map for the CPU-bound part of a large run.

Parsing and decrypting files is pure Python and holds the GIL, so threads do not help; forked
children do, and they inherit everything already read (the snapshot, the `.sops.yaml` rules,
the identities, the plaintext of regenerated files) without copying it. Each child maps one
contiguous chunk and sends its results back through a pipe. The inventory reads a large
repository this way, and a rotation stages its files this way; nothing is written to disk in a
child. The first error in item order is raised in the parent, as a serial run would raise it.

A child whose parent dies finishes its chunk, fails to write to the closed pipe and exits; it
never writes a file.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

from secretsmgr.errors import SecretsmgrError

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 48  # below this, forking costs more than it saves
PER_WORKER = 24  # no child gets fewer items than this
MAX_WORKERS = 8


def worker_count(items: int, *, at_least: int = MIN_ITEMS, per_worker: int = PER_WORKER) -> int:
    """How many processes to map ``items`` items with (1: in this process): none below
    ``at_least`` items, and no child with fewer than ``per_worker``. The defaults suit staging
    a rotation (milliseconds an item); cheaper items need more of them to pay for a fork."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not hasattr(os, "fork") or items < at_least or not cores or cores < 2:
        return 1
    return max(1, min(cores, MAX_WORKERS, items // per_worker))


def _child(fn: Callable[[T], R], chunk: Sequence[T], write_fd: int) -> None:
    # What the parent holds outlives the child, and what the child makes dies with it: no
    # collection is worth its time here (walking the parent's objects would also copy every
    # page they sit on).
    gc.freeze()
    gc.disable()
    try:
        payload: tuple[str, object]
        try:
            payload = ("ok", [fn(item) for item in chunk])
        except SecretsmgrError as exc:
            payload = ("error", (type(exc), exc.message, exc.hints))
        except BaseException as exc:  # a bug: the parent reports it as an internal error
            payload = ("crash", f"{type(exc).__name__} in a worker process")
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        with open(write_fd, "wb", closefd=True) as pipe:
            pipe.write(data)
    finally:
        os._exit(0)


def _collect(read_fd: int) -> tuple[str, object]:
    with open(read_fd, "rb", closefd=True) as pipe:
        data = pipe.read()
    if not data:
        return ("crash", "a worker process died")
    enabled = gc.isenabled()
    gc.disable()  # every object unpickled lives on: collecting while they arrive is wasted
    try:
        result: tuple[str, object] = pickle.loads(data)
    finally:
        if enabled:
            gc.enable()
    return result


def ordered_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]``, computed by ``workers`` forked processes (1: in-process)."""
    if workers <= 1 or len(items) < 2:
        return [fn(item) for item in items]
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    children: list[tuple[int, int]] = []
    try:
        for chunk in chunks:
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                os.close(read_fd)
                _child(fn, chunk, write_fd)
            os.close(write_fd)
            children.append((pid, read_fd))
        outcomes = []
        for _pid, read_fd in children:
            outcomes.append(_collect(read_fd))
    except BaseException:
        for number, (pid, read_fd) in enumerate(children):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            if number >= len(outcomes):
                with contextlib.suppress(OSError):
                    os.close(read_fd)
        raise
    finally:
        for pid, _fd in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    results: list[R] = []
    for kind, value in outcomes:
        if kind == "error":
            cls, message, hints = cast(tuple[type[SecretsmgrError], str, tuple[str, ...]], value)
            raise cls(message, hints=hints)
        if kind == "crash":
            raise RuntimeError(str(value))
        results.extend(cast(list[R], value))
    return results
