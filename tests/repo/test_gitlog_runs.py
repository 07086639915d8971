"""``repo/gitlog.py``: where the current state of a file began, and commit ancestry (the begin
commit of a key rotation and whether a revision Flux applied contains it)."""

from __future__ import annotations

from secretsmgr.repo.gitlog import is_ancestor, run_start

from .helpers import GitRepo


def holds_next(data: bytes) -> bool:
    return b"next: yes" in data


def test_run_start_is_the_oldest_commit_of_the_current_run(git_checkout: GitRepo) -> None:
    assert run_start(git_checkout.path, "s.yaml", holds_next) is None  # no commit at all
    git_checkout.write("s.yaml", "next: no\n")
    git_checkout.commit_all("before")
    assert run_start(git_checkout.path, "s.yaml", holds_next) is None  # HEAD does not hold
    git_checkout.write("s.yaml", "next: yes\n")
    started = git_checkout.commit_all("begin")
    git_checkout.write("other.yaml")
    git_checkout.commit_all("unrelated")
    git_checkout.write("s.yaml", "next: yes\n# edited\n")
    git_checkout.commit_all("edited, still holds")
    assert run_start(git_checkout.path, "s.yaml", holds_next) == started
    # an uncommitted change is not a commit
    git_checkout.write("s.yaml", "next: no\n")
    assert run_start(git_checkout.path, "s.yaml", holds_next) == started
    git_checkout.commit_all("undone")
    assert run_start(git_checkout.path, "s.yaml", holds_next) is None
    git_checkout.write("s.yaml", "next: yes\n")
    again = git_checkout.commit_all("begun again")
    assert run_start(git_checkout.path, "s.yaml", holds_next) == again


def test_run_start_from_a_subfolder_of_the_repository(git_checkout: GitRepo) -> None:
    git_checkout.write("sub/s.yaml", "next: yes\n")
    started = git_checkout.commit_all()
    assert run_start(git_checkout.path / "sub", "s.yaml", holds_next) == started


def test_is_ancestor(git_checkout: GitRepo) -> None:
    git_checkout.write("a.yaml")
    first = git_checkout.commit_all()
    git_checkout.write("b.yaml")
    second = git_checkout.commit_all()
    git_checkout.git("checkout", "-q", "-b", "side", first)
    git_checkout.write("c.yaml")
    side = git_checkout.commit_all()
    root = git_checkout.path
    assert is_ancestor(root, first, second) is True
    assert is_ancestor(root, second, second) is True
    assert is_ancestor(root, second, first) is False
    assert is_ancestor(root, second, side) is False
    assert is_ancestor(root, first, second[:12]) is True  # an abbreviated sha
    assert is_ancestor(root, first, "0" * 40) is None  # not in this clone
    assert is_ancestor(root, first, "not-a-commit") is None
