from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError, RefusedError
from secretsmgr.repo import git
from secretsmgr.repo.root import list_repo_files, resolve_repo_root

from .helpers import GitRepo


def test_toplevel_finds_the_work_tree_from_a_subfolder(git_checkout: GitRepo) -> None:
    sub = git_checkout.path / "a" / "b"
    sub.mkdir(parents=True)
    assert git.toplevel(sub) == git_checkout.path.resolve()


def test_toplevel_is_none_outside_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git.toplevel(plain) is None
    assert git.toplevel(tmp_path / "does-not-exist") is None


def test_toplevel_is_none_when_git_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert git.toplevel(tmp_path) is None


def test_list_files_holds_tracked_and_untracked_but_not_ignored(git_checkout: GitRepo) -> None:
    git_checkout.write(".gitignore", "*.log\nbuild/\n")
    git_checkout.write("tracked.yaml")
    git_checkout.write("dir/nested.enc.yaml")
    git_checkout.commit_all()
    git_checkout.write("untracked.yaml")
    git_checkout.write("newdir/deep/file.json", "{}")
    git_checkout.write("debug.log")
    git_checkout.write("build/out.yaml")

    assert git.list_files(git_checkout.path) == [
        ".gitignore",
        "dir/nested.enc.yaml",
        "newdir/deep/file.json",
        "tracked.yaml",
        "untracked.yaml",
    ]


def test_list_files_skips_tracked_files_deleted_from_the_worktree(git_checkout: GitRepo) -> None:
    git_checkout.write("keep.yaml")
    git_checkout.write("gone.yaml")
    git_checkout.commit_all()
    (git_checkout.path / "gone.yaml").unlink()
    assert git.list_files(git_checkout.path) == ["keep.yaml"]


def test_list_files_from_a_subfolder_is_relative_to_it(git_checkout: GitRepo) -> None:
    git_checkout.write("outside.yaml")
    git_checkout.write("gitops/apps/secret.enc.yaml")
    git_checkout.write("gitops/top.yaml")
    git_checkout.commit_all()
    git_checkout.write("gitops/new.yaml")
    assert git.list_files(git_checkout.path / "gitops") == [
        "apps/secret.enc.yaml",
        "new.yaml",
        "top.yaml",
    ]


def test_list_files_keeps_unusual_names_intact(git_checkout: GitRepo) -> None:
    git_checkout.write("spaced name/ünïcode file.yaml")
    git_checkout.write("star*.yaml")
    assert git.list_files(git_checkout.path) == ["spaced name/ünïcode file.yaml", "star*.yaml"]


def test_list_files_ignores_an_inherited_git_dir(
    git_checkout: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=other, check=True)
    git_checkout.write("mine.yaml")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert git.list_files(git_checkout.path) == ["mine.yaml"]


def test_list_files_outside_a_repository_is_a_config_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ConfigError, match="git failed"):
        git.list_files(plain)


def test_dirty_paths_reports_modified_staged_and_untracked(git_checkout: GitRepo) -> None:
    for name in ("clean", "modified", "staged", "deleted"):
        git_checkout.write(f"{name}.yaml")
    git_checkout.commit_all()
    git_checkout.write("modified.yaml", "changed: true\n")
    git_checkout.write("staged.yaml", "changed: true\n")
    git_checkout.git("add", "staged.yaml")
    (git_checkout.path / "deleted.yaml").unlink()
    git_checkout.write("untracked.yaml")

    asked = [
        "clean.yaml",
        "modified.yaml",
        "staged.yaml",
        "deleted.yaml",
        "untracked.yaml",
        "absent.yaml",
    ]
    assert git.dirty_paths(git_checkout.path, asked) == [
        "deleted.yaml",
        "modified.yaml",
        "staged.yaml",
        "untracked.yaml",
    ]
    assert git.dirty_paths(git_checkout.path, ["clean.yaml"]) == []
    assert git.dirty_paths(git_checkout.path, []) == []


def test_dirty_paths_from_a_subfolder_root_uses_paths_relative_to_it(git_checkout: GitRepo) -> None:
    git_checkout.write("gitops/a.yaml")
    git_checkout.write("gitops/b.yaml")
    git_checkout.write("a.yaml")
    git_checkout.commit_all()
    git_checkout.write("gitops/a.yaml", "changed: true\n")
    git_checkout.write("a.yaml", "changed: true\n")
    assert git.dirty_paths(git_checkout.path / "gitops", ["a.yaml", "b.yaml"]) == ["a.yaml"]


def test_dirty_paths_counts_both_sides_of_a_rename(git_checkout: GitRepo) -> None:
    git_checkout.write("old.yaml", "a: 1\nb: 2\nc: 3\n")
    git_checkout.commit_all()
    git_checkout.git("mv", "old.yaml", "new.yaml")
    assert git.dirty_paths(git_checkout.path, ["old.yaml", "new.yaml"]) == ["new.yaml", "old.yaml"]


def test_dirty_paths_of_many_files_asks_by_folder_and_answers_the_same(
    git_checkout: GitRepo,
) -> None:
    # a rotation's thousand names are asked about by their folders (git matches every file
    # against every pathspec): the answer must be what the names asked one by one give
    names = [f"apps/s{i % 9}/f{i}.yaml" for i in range(80)] + ["top.yaml", "apps/deep/x/y.yaml"]
    for name in [*names, "apps/s1/sibling.yaml", "apps/s2/moved-from.yaml"]:
        git_checkout.write(name, f"name: {name}\n")
    git_checkout.commit_all()
    git_checkout.write("apps/s3/f3.yaml", "changed: true\n")
    git_checkout.write("apps/s4/f4.yaml", "changed: true\n")
    git_checkout.git("add", "apps/s4/f4.yaml")
    (git_checkout.path / "apps/s5/f5.yaml").unlink()
    git_checkout.write("top.yaml", "changed: true\n")
    git_checkout.write("apps/deep/x/y.yaml", "changed: true\n")
    git_checkout.write("apps/s1/sibling.yaml", "changed, not asked about\n")
    git_checkout.write("apps/s6/new.yaml")  # untracked, asked about
    git_checkout.git("mv", "apps/s2/moved-from.yaml", "apps/s7/moved-to.yaml")
    asked = [*names, "apps/s6/new.yaml", "apps/s2/moved-from.yaml", "absent/none.yaml"]
    assert len(asked) > git._FOLDER_SPECS
    one_by_one = sorted(p for p in asked if git.dirty_paths(git_checkout.path, [p]))
    assert (
        git.dirty_paths(git_checkout.path, asked)
        == one_by_one
        == [
            "apps/deep/x/y.yaml",
            "apps/s2/moved-from.yaml",
            "apps/s3/f3.yaml",
            "apps/s4/f4.yaml",
            "apps/s5/f5.yaml",
            "apps/s6/new.yaml",
            "top.yaml",
        ]
    )
    sub = git_checkout.path / "apps"  # a root below the top level: paths relative to it
    inner = [n.removeprefix("apps/") for n in asked if n.startswith("apps/")]
    assert git.dirty_paths(sub, inner) == [
        p.removeprefix("apps/") for p in one_by_one if p.startswith("apps/")
    ]


def test_user_identity_is_who_git_would_author_as(
    git_checkout: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The changelog's actor is the commit author: GIT_AUTHOR_* first, then git config."""
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Env Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "env@example.invalid")
    git_checkout.git("config", "user.name", "Ada Lovelace")
    git_checkout.git("config", "user.email", "ada@example.invalid")
    assert git.user_identity(git_checkout.path) == "Env Author <env@example.invalid>"
    monkeypatch.delenv("GIT_AUTHOR_NAME")
    monkeypatch.delenv("GIT_AUTHOR_EMAIL")
    assert git.user_identity(git_checkout.path) == "Ada Lovelace <ada@example.invalid>"


def test_commit_records_only_the_given_paths(git_checkout: GitRepo) -> None:
    git_checkout.write("a.yaml")
    git_checkout.write("other.yaml")
    first = git_checkout.commit_all()
    git_checkout.write("a.yaml", "rotated: true\n")
    git_checkout.write("changelog.jsonl", '{"seq": 1}\n')  # new, untracked
    git_checkout.write("other.yaml", "unrelated: true\n")
    git_checkout.git("add", "other.yaml")  # staged by the user: must stay staged, uncommitted

    sha = git.commit(git_checkout.path, ["a.yaml", "changelog.jsonl"], "rotate: a\n\nreason: test")

    assert sha == git_checkout.git("rev-parse", "HEAD").strip()
    assert sha != first
    changed = git_checkout.git("show", "--name-only", "--format=", sha).split()
    assert sorted(changed) == ["a.yaml", "changelog.jsonl"]
    assert git_checkout.git("log", "-1", "--format=%B", sha).strip() == "rotate: a\n\nreason: test"
    assert git_checkout.git("diff", "--cached", "--name-only").split() == ["other.yaml"]


def test_commit_works_on_an_unborn_branch(git_checkout: GitRepo) -> None:
    git_checkout.write("first.yaml")
    sha = git.commit(git_checkout.path, ["first.yaml"], "first")
    assert git_checkout.git("rev-parse", "HEAD").strip() == sha


def test_commit_with_nothing_to_commit_is_refused(git_checkout: GitRepo) -> None:
    git_checkout.write("a.yaml")
    git_checkout.commit_all()
    with pytest.raises(RefusedError, match="git commit failed") as info:
        git.commit(git_checkout.path, ["a.yaml"], "nothing")
    assert "\n" not in info.value.message


def test_walk_files_skips_hidden_folders_but_keeps_hidden_files(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    for rel in (".sops.yaml", "a/b.yaml", ".git/config", ".venv/lib/x.py", "c.enc.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    assert git.walk_files(root) == [".sops.yaml", "a/b.yaml", "c.enc.json"]


def test_resolve_repo_root_prefers_the_option(git_checkout: GitRepo, tmp_path: Path) -> None:
    sub = git_checkout.path / "gitops"
    sub.mkdir()
    assert resolve_repo_root(Path("gitops"), git_checkout.path) == sub.resolve()
    assert resolve_repo_root(sub, tmp_path) == sub.resolve()


def test_resolve_repo_root_defaults_to_the_git_top_level_then_cwd(
    git_checkout: GitRepo, tmp_path: Path
) -> None:
    sub = git_checkout.path / "deep" / "er"
    sub.mkdir(parents=True)
    assert resolve_repo_root(None, sub) == git_checkout.path.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert resolve_repo_root(None, plain) == plain.resolve()


def test_resolve_repo_root_rejects_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="repository not found: nope"):
        resolve_repo_root(Path("nope"), tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="repository not found"):
        resolve_repo_root(tmp_path / "file", tmp_path)


def test_list_repo_files_uses_git_when_it_can(git_checkout: GitRepo, tmp_path: Path) -> None:
    git_checkout.write(".gitignore", "ignored.yaml\n")
    git_checkout.write("ignored.yaml")
    git_checkout.write("kept.yaml")
    assert list_repo_files(git_checkout.path) == [".gitignore", "kept.yaml"]
    plain = tmp_path / "plain"
    (plain / "x").mkdir(parents=True)
    (plain / "x" / "ignored.yaml").write_text("x")
    assert list_repo_files(plain) == ["x/ignored.yaml"]


def test_a_failed_signature_is_named_in_the_commit_error(git_checkout: GitRepo) -> None:
    # the attack review of stop 52: "fatal: failed to write commit object" alone, with the
    # cause ("gpg failed to sign the data") dropped
    git_checkout.write("a.yaml")
    git_checkout.commit_all()
    git_checkout.git("config", "commit.gpgsign", "true")
    git_checkout.git("config", "gpg.program", "false")
    git_checkout.write("a.yaml", "x: 2\n")
    with pytest.raises(RefusedError) as info:
        git.commit(git_checkout.path, ["a.yaml"], "change\n")
    assert "error: gpg failed to sign the data" in info.value.message, info.value.message
    assert info.value.message.endswith("fatal: failed to write commit object")


def test_an_unfinished_git_am_is_named_as_one(git_checkout: GitRepo) -> None:
    # the review of stop 52: rebase-apply/ also stands for `git am`, where the rebase hint fails
    git_checkout.write("a.yaml")
    git_checkout.commit_all()
    git.refuse_unfinished(git_checkout.path)  # nothing under way
    folder = git_checkout.path / ".git" / "rebase-apply"
    folder.mkdir()
    (folder / "applying").write_text("")
    with pytest.raises(RefusedError) as info:
        git.refuse_unfinished(git_checkout.path)
    assert info.value.message.startswith("a git am is in progress here")
    assert "git am --continue or --abort" in info.value.hints[0]
    (folder / "applying").unlink()
    with pytest.raises(RefusedError, match="a rebase is in progress"):
        git.refuse_unfinished(git_checkout.path)
