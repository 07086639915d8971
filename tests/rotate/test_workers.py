"""Staging on every core: the forked map keeps order and raises what a serial run raises."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from benchmarks.genrepo import generate
from secretsmgr.errors import IntegrityError, RefusedError
from secretsmgr.fsutil import in_runs
from secretsmgr.rotate.plan import RotationRequest
from secretsmgr.rotate.transaction import rotate
from secretsmgr.workers import MIN_ITEMS, ordered_map, worker_count
from tests.conftest import git
from tests.rotate.helpers import commit_all, identity_from, snapshot


def square(x: int) -> int:
    return x * x


def test_the_forked_map_keeps_the_order() -> None:
    items = list(range(101))
    assert ordered_map(square, items, 3) == [x * x for x in items]
    assert ordered_map(square, items, 1) == [x * x for x in items]
    assert ordered_map(square, [], 4) == []


def _collections(_: int) -> tuple[bool, int]:
    import gc

    return gc.isenabled(), gc.get_freeze_count()


def test_the_collector_is_left_as_it_was_and_a_child_never_collects() -> None:
    # the parent's objects are frozen in a child (a collection would walk, and copy, every
    # page of them) and a child, which lives for one chunk, never collects; in the parent,
    # collection is off only while results are unpickled
    import gc

    assert gc.isenabled()
    before = gc.get_freeze_count()
    seen = ordered_map(_collections, list(range(64)), 2)
    assert gc.isenabled() and gc.get_freeze_count() == before
    assert all(not enabled and frozen > 0 for enabled, frozen in seen)


def test_the_first_error_in_item_order_is_raised_as_it_was() -> None:
    def fail_on(x: int) -> int:
        if x in (70, 20):
            raise RefusedError(f"item {x} refused", hints=(f"fix item {x}",))
        return os.getpid()

    with pytest.raises(RefusedError) as info:
        ordered_map(fail_on, list(range(100)), 4)
    assert info.value.message == "item 20 refused" and info.value.hints == ("fix item 20",)


def test_a_bug_in_a_worker_is_an_internal_error_without_its_text() -> None:
    def broken(x: int) -> int:
        raise ValueError("secret detail")

    with pytest.raises(RuntimeError, match="ValueError in a worker process") as info:
        ordered_map(broken, list(range(10)), 2)
    assert "secret detail" not in str(info.value)


def test_the_work_really_is_spread() -> None:
    pids = ordered_map(lambda _x: os.getpid(), list(range(60)), 3)
    assert len(set(pids)) == 3 and os.getpid() not in pids


def test_small_runs_stay_in_process() -> None:
    assert worker_count(MIN_ITEMS - 1) == 1
    assert ordered_map(lambda _x: os.getpid(), [1], 4) == [os.getpid()]


@pytest.mark.skipif(worker_count(200) < 2, reason="needs two cores")
def test_a_tampered_file_in_a_parallel_run_refuses_it_all(tmp_path: Path) -> None:
    repo = generate(tmp_path / "repo", 120)
    git(repo.root, "init", "-q", "-b", "main")
    victim = sorted(repo.files)[77]
    text = victim.read_text()
    victim.write_text(text.replace("type: Opaque", "type: Tampered", 1))
    commit_all(repo.root, "generated, one tampered")
    before = snapshot(repo.root)
    with pytest.raises(IntegrityError) as info:
        rotate(
            repo.root,
            RotationRequest(all_files=True),
            [identity_from(key_text=repo.secret_key)],
            env={},
        )
    assert info.value.message.startswith(victim.relative_to(repo.root).as_posix() + ": ")
    assert snapshot(repo.root) == before


def test_temp_files_are_made_in_contiguous_runs_on_two_threads() -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(i: int) -> None:
        with lock:
            seen.append((i, threading.get_ident()))

    in_runs(200, record)
    assert sorted(i for i, _ in seen) == list(range(200))
    threads = {t for _, t in seen}
    assert len(threads) == 2 and threading.get_ident() in threads
    for thread in threads:  # each thread writes one contiguous run, in index order
        mine = [i for i, t in seen if t == thread]
        assert mine == list(range(mine[0], mine[0] + len(mine)))


def test_a_short_list_is_made_in_order_on_this_thread() -> None:
    seen: list[tuple[int, int]] = []
    in_runs(5, lambda i: seen.append((i, threading.get_ident())))
    assert seen == [(i, threading.get_ident()) for i in range(5)]


def test_a_failure_is_raised_and_stops_every_run() -> None:
    done: list[int] = []

    def fail_on(i: int) -> None:
        if i == 30:
            raise OSError(28, "no space")
        time.sleep(0.001)
        done.append(i)

    with pytest.raises(OSError, match="no space"):
        in_runs(200, fail_on)
    assert list(range(30)) == [i for i in done if i < 100]  # its run stopped at the failure
    assert len(done) < 100  # the other run stopped soon after


def test_of_two_failures_the_lower_index_is_raised() -> None:
    both = threading.Barrier(2)

    def fail_on(i: int) -> None:
        if i in (150, 30):
            both.wait(timeout=10)  # both have failed before either is raised
            raise OSError(28, f"no space at {i}")

    with pytest.raises(OSError, match="no space at 30"):
        in_runs(200, fail_on)


def test_ctrl_c_while_waiting_for_the_other_run_stops_it_before_returning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the attack review: Ctrl-C while this thread waited for the other left it creating temp
    # files while the rotation's cleanup ran; here the first wait is interrupted
    done: list[int] = []
    real_join = threading.Thread.join
    calls: list[int] = []

    def interrupted_once(self: threading.Thread, timeout: float | None = None) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real_join(self, timeout)

    monkeypatch.setattr(threading.Thread, "join", interrupted_once)

    def slow(i: int) -> None:
        time.sleep(0.002 if i >= 100 else 0)
        done.append(i)

    with pytest.raises(KeyboardInterrupt):
        in_runs(200, slow)
    seen = len(done)
    time.sleep(0.05)
    assert len(done) == seen  # nothing runs on after in_runs has returned
    assert seen < 200  # the other run stopped early
