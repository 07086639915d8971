"""The per-root write lock: one writer at a time, released when its process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secretsmgr.errors import RefusedError
from secretsmgr.repo.lock import is_locked, lock_path, repo_lock

HOLD = """
import sys, time
from pathlib import Path
from secretsmgr.repo.lock import repo_lock
with repo_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(root: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _git_init(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    root = _git_init(tmp_path / "repo")
    proc = _holder(root, 30)
    try:
        assert is_locked(root)
        started = time.monotonic()
        with pytest.raises(RefusedError) as err, repo_lock(root, wait=0.3):
            pass
        assert time.monotonic() - started >= 0.3
        assert err.value.message == (
            f"another secretsmgr is writing in this repository (pid {proc.pid})"
        )
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    root = _git_init(tmp_path / "repo")
    proc = _holder(root, 30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not is_locked(root)
    with repo_lock(root, wait=0):
        assert is_locked(root)


def test_a_waiting_writer_gets_the_lock_when_the_holder_finishes(tmp_path: Path) -> None:
    root = _git_init(tmp_path / "repo")
    proc = _holder(root, 0.5)
    with repo_lock(root, wait=10):
        pass
    proc.wait()


def test_the_lock_is_reentrant_in_one_process(tmp_path: Path) -> None:
    root = _git_init(tmp_path / "repo")
    with repo_lock(root, wait=0), repo_lock(root, wait=0):
        assert is_locked(root)
    assert not is_locked(root)


def test_two_roots_of_one_checkout_have_two_locks(tmp_path: Path) -> None:
    top = _git_init(tmp_path / "repo")
    (top / "a").mkdir()
    (top / "b").mkdir()
    assert lock_path(top / "a") != lock_path(top / "b")
    assert lock_path(top / "a").is_relative_to(top / ".git")
    with repo_lock(top / "a", wait=0), repo_lock(top / "b", wait=0):
        pass


def test_outside_git_the_lock_lives_in_the_temp_folder(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    assert not lock_path(root).is_relative_to(root)
    with repo_lock(root, wait=0):
        assert is_locked(root)
