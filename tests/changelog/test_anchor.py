"""The changelog anchored in git: rewrites, late times and unseen states are found in real
repositories, written by real rotations; honest histories give no problem."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from secretsmgr.changelog.anchor import anchor_changelog
from secretsmgr.changelog.chain import Entry, append, append_anew, next_entry, parse_entries
from tests.cli.runner import run
from tests.conftest import GIT_ENV
from tests.rotate.helpers import CHANGELOG, DEMO, DEMO_KEY, PG, REDIS, git_copy


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    return git_copy(DEMO, tmp_path / "repo")


def commit(repo: Path, message: str, *, date: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    if date is not None:
        env |= {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    for args in (["add", "-A"], ["commit", "-q", "--no-gpg-sign", "-m", message]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def anchoring(repo: Path) -> tuple[int, int, tuple[str, ...]]:
    data = (repo / CHANGELOG).read_bytes()
    found = anchor_changelog(repo, CHANGELOG, data, parse_entries(data))
    return len(found.anchored), found.unanchored, found.problems


def rechain(entries: list[Entry]) -> bytes:
    """The changelog a forger writes: every hash recomputed, so the chain itself holds."""
    data = b""
    for entry in entries:
        data = append_anew(data, entry)
    return data


def rotate(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> None:
    run(["rotate", "--repo", str(repo), "--reason", "test", *args], capsys, expect=0)


def test_honest_history_is_anchored_line_by_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(parse_entries((repo / CHANGELOG).read_bytes()))
    rotate(repo, capsys, "--layer", "databases", "--commit")
    rotate(repo, capsys, "--layer", "apps", "--commit")
    assert anchoring(repo) == (before + 2, 0, ())
    rotate(repo, capsys, "--layer", "databases")  # not committed yet
    assert anchoring(repo) == (before + 2, 1, ())


def test_a_state_rotated_again_before_any_commit_is_continued_not_missing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two rotations, one commit: the first state never reached git, the second starts from it."""
    rotate(repo, capsys, "--layer", "databases")
    rotate(repo, capsys, "--layer", "databases", "--allow-dirty")
    commit(repo, "two rotations")
    assert anchoring(repo)[1:] == (0, ())


def test_a_committed_time_rewritten_later_breaks_append_only(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotate(repo, capsys, "--layer", "databases", "--commit")
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    entries[-1] = dataclasses.replace(entries[-1], time="2099-01-01T00:00:00Z")
    (repo / CHANGELOG).write_bytes(rechain(entries))
    _, _, problems = anchoring(repo)
    assert any("changes or drops lines of the committed one" in p for p in problems)
    commit(repo, "fresh times")
    _, _, problems = anchoring(repo)
    assert any("rewrote earlier lines of the changelog" in p for p in problems), problems


def test_a_deleted_changelog_is_a_rewrite(repo: Path) -> None:
    kept = (repo / CHANGELOG).read_bytes()
    (repo / CHANGELOG).unlink()
    commit(repo, "drop it")
    (repo / CHANGELOG).write_bytes(kept)
    commit(repo, "put it back")
    _, _, problems = anchoring(repo)
    assert any("removed the changelog" in p for p in problems), problems


@pytest.mark.parametrize(
    "steps",
    ["one commit", "setting first", "through a name unused", "copy first", "old removed first"],
)
def test_a_changelog_moved_by_its_setting_keeps_its_lines(
    repo: Path, capsys: pytest.CaptureFixture[str], steps: str
) -> None:
    # the write-side review of stop 53: a commit that renamed the changelog, pointed the
    # `changelog:` setting at it and rewrote an old line's reason passed, its history beginning
    # at the rename
    rotate(repo, capsys, "--layer", "databases", "--commit")
    rotate(repo, capsys, "--layer", "apps", "--commit")
    settings = repo / ".secretsmgr.yaml"
    kept = settings.read_text()
    honest = (repo / CHANGELOG).read_bytes()
    entries = parse_entries(honest)
    entries[-2] = dataclasses.replace(entries[-2], reason="FORGED")
    forged = rechain(entries)
    moved = "audit-log.jsonl"

    def move(content: bytes) -> tuple[str, ...]:
        subprocess.run(["git", "reset", "-q", "--hard", "HEAD"], cwd=repo, check=True)
        start = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
        ).stdout.strip()
        if steps == "through a name unused":
            settings.write_text(kept + "changelog: unused.jsonl\n")
            commit(repo, "point the setting at a name that holds nothing")
        if steps == "copy first":  # the review: the copy committed before the setting moved
            (repo / moved).write_bytes(content)
            commit(repo, "a copy of the changelog")
        elif steps == "old removed first":  # the review: nothing held at the move itself
            (repo / CHANGELOG).unlink()
            commit(repo, "drop the changelog")
        elif steps != "one commit":
            settings.write_text(kept + f"changelog: {moved}\n")
            (repo / CHANGELOG).unlink()
            commit(repo, "move the setting, drop the changelog")
        (repo / CHANGELOG).unlink(missing_ok=True)
        (repo / moved).write_bytes(content)
        settings.write_text(kept + f"changelog: {moved}\n")
        commit(repo, "tidy: rename the changelog")
        data = (repo / moved).read_bytes()
        problems = anchor_changelog(repo, moved, data, parse_entries(data)).problems
        subprocess.run(["git", "reset", "-q", "--hard", start], cwd=repo, check=True)
        return problems

    assert move(honest) == ()
    problems = move(forged)
    assert len(problems) == 1 and "moved the changelog from" in problems[0], problems
    assert "changed or dropped the entries" in problems[0]


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)


def _set(repo: Path, capsys: pytest.CaptureFixture[str], path: str, value: str) -> None:
    run(
        ["--repo", str(repo), "set", str(repo / path), "stringData.password"],
        capsys,
        expect=0,
        stdin=value,
    )


def _two_branches_appended(
    repo: Path, capsys: pytest.CaptureFixture[str], main_sets: str = REDIS
) -> None:
    """``feat`` sets the database password and ``main`` ``main_sets`` (another file by
    default); ``main`` merges ``feat``, and git stops on the changelog."""
    _git(repo, "checkout", "-q", "-b", "feat")
    _set(repo, capsys, PG, "Feat-Value-1234")
    commit(repo, "feat: a new database password")
    _git(repo, "checkout", "-q", "-")
    _set(repo, capsys, main_sets, "Main-Value-5678")
    commit(repo, "main: a new password")
    assert _git(repo, "merge", "-q", "feat", "-m", "merge").returncode != 0


def test_a_merge_of_two_branches_that_appended_keeps_both_and_verifies(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the write-side review of stop 53: git's conflict was "line 3 is not valid JSON" with a
    # hint to restore the file, and whatever the merge committed, log --verify failed for good
    # (it asked every parent's changelog to begin the merge's)
    _two_branches_appended(repo, capsys)
    code, _out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1 and f"{CHANGELOG} holds a merge conflict" in err, err
    assert "secretsmgr log --merge" in err
    code, out, err = run(["--repo", str(repo), "log", "--merge"], capsys)
    assert (code, err) == (0, ""), err
    assert "then 1 entry the other branch added, re-chained" in out
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    assert [e.files[0].path for e in entries[-2:]] == [REDIS, PG]
    commit(repo, "merge feat")
    assert anchoring(repo)[1:] == (0, ())
    code, out, _err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 0 and "chain ok" in out


def test_a_merge_of_two_branches_that_set_one_file_verifies_once_resolved(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a last sweep of stop 53: both branches set the same file; after log --merge, this
    # branch's version of the file and a set again, log --verify failed for good: the other
    # branch's re-chained line records a state only that parent holds
    _two_branches_appended(repo, capsys, main_sets=PG)
    run(["--repo", str(repo), "log", "--merge"], capsys, expect=0)
    _git(repo, "add", CHANGELOG)
    # the SOPS file is still in conflict: no "chain ok" while it is (a last sweep of stop 53)
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "") and f"{PG} is in conflict" in err, err
    _git(repo, "checkout", "--ours", "--", PG)
    _set(repo, capsys, PG, "Merged-Value-9012")
    commit(repo, "merge feat")
    assert anchoring(repo)[2] == ()
    run(["--repo", str(repo), "log", "--verify"], capsys, expect=0)


def test_a_merge_that_drops_the_other_branchs_entries_is_a_rewrite(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # taking this branch's changelog and adopting the other's file states loses what the
    # other branch recorded (who set what, and why): a rewrite, as before
    _two_branches_appended(repo, capsys)
    _git(repo, "checkout", "--ours", "--", CHANGELOG)
    run(["--repo", str(repo), "log", "--adopt", "--reason", "merge"], capsys, expect=0)
    commit(repo, "merge feat")
    _, _, problems = anchoring(repo)
    assert any("(a merge) dropped or changed entries" in p for p in problems), problems
    code, _out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1 and "git show --cc" in err and "secretsmgr log --merge" in err, err
    assert "restore the lines" not in err


def test_a_merge_that_keeps_a_forged_sides_changelog_is_a_rewrite(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the review of stop 53: a branch from the first commit adopting the files as they are,
    # merged with `-X theirs`: the merge's changelog was the forged side's, git's default
    # history simplification followed that side alone, and log --verify passed
    first = _git(repo, "rev-list", "--max-parents=0", "HEAD").stdout.split()[0]
    rotate(repo, capsys, "--layer", "databases", "--commit")
    rotate(repo, capsys, "--layer", "apps", "--commit")
    _git(repo, "checkout", "-q", "-b", "forged", first)
    _git(repo, "checkout", "main", "--", ".")
    (repo / CHANGELOG).write_bytes(_git(repo, "show", f"{first}:{CHANGELOG}").stdout.encode())
    run(["--repo", str(repo), "log", "--adopt", "--reason", "tidy"], capsys, expect=0)
    commit(repo, "forged: adopt")
    _git(repo, "checkout", "-q", "main")
    assert _git(repo, "merge", "-q", "-X", "theirs", "forged", "-m", "merge").returncode == 0
    _, _, problems = anchoring(repo)
    assert any("(a merge) dropped or changed entries" in p for p in problems), problems


def test_a_merge_that_joins_nothing_of_the_changelog_is_not_counted(repo: Path) -> None:
    # the last review of stop 53: with every merge read, a merge of branches that never
    # touched the changelog counted as one of its commits (and, in a repository whose
    # changelog was not committed, every merge of the history did)
    data = (repo / CHANGELOG).read_bytes()
    before = anchor_changelog(repo, CHANGELOG, data, parse_entries(data)).commits
    _git(repo, "checkout", "-q", "-b", "docs")
    (repo / "NOTES.md").write_text("notes\n")
    commit(repo, "notes")
    _git(repo, "checkout", "-q", "main")
    (repo / "OTHER.md").write_text("other\n")
    commit(repo, "other")
    assert _git(repo, "merge", "-q", "--no-ff", "docs", "-m", "merge docs").returncode == 0
    found = anchor_changelog(repo, CHANGELOG, data, parse_entries(data))
    assert (found.commits, found.problems) == (before, ())


@pytest.mark.parametrize("forged", [False, True])
def test_a_merge_of_a_side_branch_that_moved_the_changelog_keeps_mains_entries(
    repo: Path, capsys: pytest.CaptureFixture[str], forged: bool
) -> None:
    # the last review of stop 53: a side branch moved the changelog (git mv and the setting);
    # the merge that rewrote main's entries under the new name was checked against the side
    # alone, main holding no file of that name
    start = _git(repo, "rev-parse", "HEAD").stdout.strip()
    rotate(repo, capsys, "--layer", "databases", "--commit")
    rotate(repo, capsys, "--layer", "apps", "--commit")
    _git(repo, "checkout", "-q", "-b", "side", start)
    _git(repo, "mv", CHANGELOG, "audit.jsonl")
    settings = repo / ".secretsmgr.yaml"
    settings.write_text(settings.read_text() + "changelog: audit.jsonl\n")
    commit(repo, "move the changelog")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-commit", "side")
    moved = repo / "audit.jsonl"
    if forged:
        entries = parse_entries(moved.read_bytes())
        entries[-2] = dataclasses.replace(entries[-2], reason="FORGED")
        moved.write_bytes(rechain(entries))
    commit(repo, "merge side")
    data = moved.read_bytes()
    problems = anchor_changelog(repo, "audit.jsonl", data, parse_entries(data)).problems
    assert any("(a merge) dropped or changed entries" in p for p in problems) is forged, problems


def test_log_merge_outside_a_conflict_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (repo / CHANGELOG).read_bytes()
    code, out, err = run(["--repo", str(repo), "log", "--merge"], capsys)
    assert (code, out) == (2, "") and "is not in conflict" in err
    assert (repo / CHANGELOG).read_bytes() == before


def test_a_line_claiming_a_time_after_its_commit_is_late(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rotate(repo, capsys, "--layer", "databases")
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    entries[-1] = dataclasses.replace(entries[-1], time="2099-01-01T00:00:00Z")
    (repo / CHANGELOG).write_bytes(rechain(entries))
    commit(repo, "claims 2099")
    _, _, problems = anchoring(repo)
    assert any("2099-01-01T00:00:00Z is later than commit" in p for p in problems), problems


def test_a_time_within_the_skew_is_accepted(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rotate(repo, capsys, "--layer", "databases")
    time = parse_entries((repo / CHANGELOG).read_bytes())[-1].time
    commit(repo, "clock a little behind", date=_shift(time, -120))
    assert anchoring(repo)[2] == ()
    rotate(repo, capsys, "--layer", "databases")
    time = parse_entries((repo / CHANGELOG).read_bytes())[-1].time
    commit(repo, "clock far behind", date=_shift(time, -3600))
    assert any("is later than commit" in p for p in anchoring(repo)[2])


def _shift(stamp: str, seconds: int) -> str:
    from datetime import datetime, timedelta

    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_a_forged_record_of_a_state_git_never_held_is_found(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line appended by hand, claiming a rotation of PG that no commit shows."""
    rotate(repo, capsys, "--layer", "databases", "--commit")
    data = (repo / CHANGELOG).read_bytes()
    last = parse_entries(data)[-1]
    forged_files = tuple(
        dataclasses.replace(f, sha256_after=hashlib.sha256(b"never committed").hexdigest())
        for f in last.files
        if f.path == PG
    )
    entry = next_entry(
        data,
        time=last.time,
        actor=last.actor,
        action="rotate",
        reason="forged",
        layers=last.layers,
        files=forged_files,
    )
    (repo / CHANGELOG).write_bytes(append(data, entry))
    commit(repo, "forged line")
    _, _, problems = anchoring(repo)
    assert problems and all(PG in p and "is in no commit" in p for p in problems), problems
    assert not any(REDIS in p for p in problems)
    _, _, err = run(["--repo", str(repo), "log", "--verify"], capsys, expect=1)
    assert "is in no commit" in err and "describes a state that never existed" in err
    assert "log --adopt" in err and "restore the lines" not in err


def test_a_record_whose_file_is_committed_later_is_anchored(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The changelog committed first, the rotated files in the next commit: still anchored."""
    rotate(repo, capsys, "--layer", "databases")
    subprocess.run(
        ["git", "add", CHANGELOG],
        cwd=repo,
        env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV,
        check=True,
    )
    commit(repo, "the files")  # adds the rest
    assert anchoring(repo)[2] == ()


def test_outside_git_nothing_is_anchored(tmp_path: Path) -> None:
    data = (DEMO / CHANGELOG).read_bytes()
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / CHANGELOG).write_bytes(data)
    found = anchor_changelog(folder, CHANGELOG, data, parse_entries(data))
    assert found.anchored == {} and found.unanchored == len(parse_entries(data))


def test_a_shallow_clone_does_not_check_states_from_before_its_boundary(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A recorded file deleted since: the full history shows its state; a depth-1 clone (CI's
    # default checkout) cannot, and must not call the record a state git never held.
    rotate(repo, capsys, "--layer", "databases", "--commit")
    (repo / PG).unlink()
    commit(repo, "retire the database secret")
    assert anchoring(repo)[2] == ()
    shallow = tmp_path / "shallow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)],
        env=env,
        check=True,
        capture_output=True,
    )
    data = (shallow / CHANGELOG).read_bytes()
    found = anchor_changelog(shallow, CHANGELOG, data, parse_entries(data))
    assert found.problems == () and found.shallow
    # the write-side review of stop 53: the note spoke of file states alone, though whether
    # the clone's first commit rewrote earlier lines cannot be told either
    from secretsmgr.changelog.verify import anchoring_line

    line = anchoring_line(found, CHANGELOG, len(parse_entries(data))) or ""
    assert "whether its first commit changed earlier lines" in line
    assert "fetch-depth: 0" in line


def test_a_file_name_with_a_line_break_is_anchored_like_any_other(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack review of stop 50: git's batch reads a query a line, so a SOPS file named
    `new<newline>line.enc.yaml` split its query in two; every later answer went to the wrong
    file and log --verify failed with an internal error after any rotation of it."""
    odd = REDIS.replace("auth.enc.yaml", "new\nline.enc.yaml")
    (repo / odd).write_bytes((repo / REDIS).read_bytes())
    commit(repo, "a copy under an odd name")
    run(["log", "--repo", str(repo), "--adopt", "--reason", "odd name"], capsys, expect=0)
    commit(repo, "adopted")
    rotate(repo, capsys, "--all", "--commit")
    assert anchoring(repo)[1:] == (0, ())
    run(["log", "--repo", str(repo), "--verify"], capsys, expect=0)
    # a forged state of that file is still found (its answer is its own, not a neighbour's)
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    last = entries[-1]
    files = tuple(
        dataclasses.replace(f, sha256_after="0" * 64) if f.path == odd else f for f in last.files
    )
    assert files != last.files
    (repo / CHANGELOG).write_bytes(rechain([*entries[:-1], dataclasses.replace(last, files=files)]))
    commit(repo, "forged")
    _, _, problems = anchoring(repo)
    assert any("new\nline.enc.yaml" in p and "in no commit" in p for p in problems), problems


def test_a_rotation_line_that_changed_nothing_is_no_rotation(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack review of stop 50: a made-up `rotate` line (the same bytes before and after,
    the data key of the file's line before), its hashes recomputed and committed, passed
    log --verify, and `log` showed a rotation that never happened."""
    rotate(repo, capsys, "--layer", "databases", "--commit")
    run(["log", "--repo", str(repo), "--verify"], capsys, expect=0)  # honest: no word
    honest = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    (real,) = [f for f in entries[-1].files if f.path == PG]
    same = dataclasses.replace(real, sha256_before=real.sha256_after)
    for forged, said in (
        (same, "records the same bytes before and after"),
        (dataclasses.replace(real, sha256_before="1" * 64), "records the data key the file had"),
    ):
        fake = next_entry(
            (repo / CHANGELOG).read_bytes(),
            time=entries[-1].time,
            actor=entries[-1].actor,
            action="rotate",
            reason="fake rotation",
            layers=("databases",),
            files=(forged,),
        )
        (repo / CHANGELOG).write_bytes(rechain([*entries, fake]))
        commit(repo, "a rotation that never happened")
        _, err = run(["log", "--repo", str(repo), "--verify"], capsys, expect=1)[1:]
        seq = entries[-1].seq + 1
        assert f"changelog line seq {seq}: {PG}: a rotate entry {said}" in err, err
        subprocess.run(["git", "reset", "-q", "--hard", honest], cwd=repo, check=True)


def test_a_name_with_any_line_separator_gets_its_own_answer(tmp_path: Path) -> None:
    """The review of the line-break change: Python's splitlines() also breaks at \\x0c, \\x1e,
    U+0085 and U+2028, which a missing file's name, repeated in git's answer, may hold; the
    answers were miscounted (or, before the change, given to the wrong files)."""
    from secretsmgr.repo.gitlog import blobs_at

    root = tmp_path / "r"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    (root / "kept.txt").write_text("kept\n")
    commit(root, "one file")
    names = ["gone\x0cx.enc.yaml", "gone\x1ex", "gone\u2028x", "gone\x85x", "new\nline"]
    queries = [("HEAD", n) for n in names] + [("HEAD", "kept.txt")]
    found = blobs_at(root, queries)
    kept = subprocess.run(
        ["git", "rev-parse", "HEAD:kept.txt"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    assert found == [None] * len(names) + [kept]
