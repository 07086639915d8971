"""Fault injection for tests: the transaction calls ``fault(step, index)`` before each step.

``SECRETSMGR_FAULT_INJECT=<step>:<index>[:mode]`` makes the CLI pass a hook that, at that step:

- raises ``RuntimeError`` (no mode);
- ``kill``: SIGKILLs its own process (no ``finally``, no ``except``: a real crash);
- ``pause=<file>``: creates ``<file>``, then waits (at most 120 s) until it is deleted, so a
  test can start a second process while this one holds the lock mid-rotation.

Steps, in order: ``stage i``, ``journal 0``, ``write i``, ``fsync 0``, ``replace i``,
``dirsync 0``, ``changelog 0``, ``commit 0``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from secretsmgr.errors import UsageError

FaultHook = Callable[[str, int], None]
ProgressHook = Callable[[int, int], None]
ENV = "SECRETSMGR_FAULT_INJECT"
PAUSE_LIMIT = 120.0


def no_fault(_step: str, _index: int) -> None:
    """The hook of every real run: nothing happens."""
    return None


def _pause(marker: Path) -> None:
    marker.write_text(f"{os.getpid()}\n", encoding="ascii")
    deadline = time.monotonic() + PAUSE_LIMIT
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def fault_hook(env: Mapping[str, str] | None = None) -> FaultHook | None:
    """The hook ``SECRETSMGR_FAULT_INJECT`` asks for, or None when it is not set."""
    spec = (os.environ if env is None else env).get(ENV)
    if not spec:
        return None
    step, _, rest = spec.partition(":")
    index_text, _, mode = rest.partition(":")
    if not index_text.isdigit() or not (mode in ("", "kill") or mode.startswith("pause=")):
        raise UsageError(f"{ENV} must look like <step>:<index>[:kill|:pause=FILE]")
    index = int(index_text)

    def hook(at: str, i: int) -> None:
        if at != step or i != index:
            return
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode.startswith("pause="):
            _pause(Path(mode.removeprefix("pause=")))
            return
        raise RuntimeError(f"injected fault at {at}:{i}")

    return hook
