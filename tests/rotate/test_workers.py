"""Staging on every core: the forked map keeps order and raises what a serial run raises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.genrepo import generate
from secretsmgr.errors import IntegrityError, RefusedError
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


def test_the_collector_is_left_as_it_was_and_a_child_walks_only_its_own() -> None:
    # the parent's objects are frozen in a child (its collections would walk, and copy, every
    # page of them), and collection is off only while results are unpickled
    import gc

    assert gc.isenabled()
    before = gc.get_freeze_count()
    seen = ordered_map(_collections, list(range(64)), 2)
    assert gc.isenabled() and gc.get_freeze_count() == before
    assert all(enabled and frozen > 0 for enabled, frozen in seen)


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
