"""A journal is obeyed only as far as it names this root's own files, and only when its owner
is gone; recovery restores exactly what the journal covers and keeps what others wrote since."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import parse_entries, verify
from secretsmgr.errors import RefusedError
from secretsmgr.fsutil import process_start
from secretsmgr.repo.pending import find_pending, journal_path
from secretsmgr.rotate.journal import recover
from secretsmgr.rotate.record import record_write
from secretsmgr.sops import format_for_path, load
from secretsmgr.sops.datakey import unwrap_data_key
from tests.cli.runner import run_process
from tests.conftest import git
from tests.rotate.helpers import (
    AUTHENTIK,
    CHANGELOG,
    DATABASES,
    DEMO,
    DEMO_KEY,
    PG,
    REDIS,
    commit_all,
    git_copy,
    identity_from,
    litter,
    snapshot,
    subprocess_env,
)
from tests.rotate.test_kill_recovery import kill_after_changelog

SHA = "0" * 64
ROTATE = ["rotate", "--layer", "databases", "--reason", "journal test"]


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plant(repo: Path, files: list[dict[str, object]], **changes: object) -> Path:
    """A journal of a dead owner for ``repo`` naming ``files``."""
    state: dict[str, object] = {
        "version": 2,
        "root": os.path.realpath(repo),
        "owner": {"pid": dead_pid(), "start": "1"},
        "run": "0123abcd",
        "seq": 1,
        "changelog": {
            "path": CHANGELOG,
            "before": {"size": 0, "sha256": sha("")},
            "after": {"size": 5, "sha256": SHA},
        },
        "files": files,
    }
    state.update(changes)
    where = journal_path(repo)
    assert where is not None
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(json.dumps(state))
    return where


def one_file(path: str, old: str = "planted\n", new: str = "new\n") -> dict[str, object]:
    return {"path": path, "old": old, "sha_old": sha(old), "sha_new": sha(new)}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


@pytest.mark.parametrize(
    "path", ["/tmp/victim", "../victim", "a/../../victim", "", "a//b", "./a"], ids=repr
)
def test_a_journal_naming_a_path_outside_the_repo_is_refused(
    repo: Path, tmp_path: Path, path: str
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    where = plant(repo, [one_file(path, old="pwned\n")])
    with pytest.raises(RefusedError, match="malformed"):
        recover(repo)
    assert victim.read_text() == "keep me\n"
    assert where.exists()  # left for a human to look at


def test_a_journal_path_through_a_symlinked_folder_is_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep me\n")
    (repo / "link").symlink_to(outside)
    new = (outside / "victim").read_text()
    plant(repo, [one_file("link/victim", old="pwned\n", new=new)])
    with pytest.raises(RefusedError, match="malformed"):
        recover(repo)
    assert (outside / "victim").read_text() == "keep me\n"


def test_a_journal_for_another_changelog_or_root_is_refused(repo: Path) -> None:
    (repo / "other.jsonl").write_text("precious\n")
    log = {"path": "other.jsonl", "before": {"size": 0, "sha256": SHA}}
    plant(repo, [], changelog={**log, "after": {"size": 0, "sha256": SHA}})
    with pytest.raises(RefusedError, match="malformed"):
        recover(repo)
    assert (repo / "other.jsonl").read_text() == "precious\n"
    plant(repo, [], root="/somewhere/else")
    with pytest.raises(RefusedError, match="malformed"):
        recover(repo)


def test_old_bytes_that_do_not_match_their_hash_are_refused(repo: Path) -> None:
    (repo / "a.enc.yaml").write_text("new\n")
    entry = one_file("a.enc.yaml")
    entry["old"] = "tampered\n"
    plant(repo, [entry])
    with pytest.raises(RefusedError, match="malformed"):
        recover(repo)
    assert (repo / "a.enc.yaml").read_text() == "new\n"


def test_garbage_journal_is_a_clear_refusal(repo: Path) -> None:
    where = plant(repo, [])
    where.write_text("[]")
    with pytest.raises(RefusedError, match="malformed"):
        recover(repo)


def test_a_journal_whose_owner_runs_is_never_recovered(repo: Path) -> None:
    (repo / "a.enc.yaml").write_text("new\n")
    me = {"pid": os.getpid(), "start": process_start(os.getpid())}
    where = plant(repo, [one_file("a.enc.yaml")], owner=me)
    with pytest.raises(RefusedError, match=f"pid {os.getpid()} is still writing"):
        recover(repo)
    assert (repo / "a.enc.yaml").read_text() == "new\n" and where.exists()


def test_a_reused_pid_is_not_the_owner(repo: Path) -> None:
    (repo / "a.enc.yaml").write_text("new\n")
    reused = {"pid": os.getpid(), "start": "12345"}  # another start time: another process
    plant(repo, [one_file("a.enc.yaml")], owner=reused)
    assert recover(repo).message == (
        "rolled back an interrupted rotation: restored 1 file to its old version"
    )
    assert (repo / "a.enc.yaml").read_text() == "planted\n"


def test_a_file_changed_since_the_run_is_not_overwritten(repo: Path) -> None:
    (repo / "a.enc.yaml").write_text("someone else's edit\n")
    plant(repo, [one_file("a.enc.yaml")])
    with pytest.raises(RefusedError, match="changed since"):
        recover(repo)
    assert (repo / "a.enc.yaml").read_text() == "someone else's edit\n"


def test_no_journal_outside_git_is_ever_obeyed(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "a.enc.yaml").write_text("current\n")
    state = {"version": 2, "files": [one_file("a.enc.yaml", old="pwned\n", new="current\n")]}
    for name in (".secretsmgr-rotation.journal", "journal.json"):
        (root / name).write_text(json.dumps(state))
    assert journal_path(root) is None
    assert recover(root).describe() == "nothing to recover"
    assert (root / "a.enc.yaml").read_text() == "current\n"


def test_leftover_temp_files_of_dead_writers_are_removed_live_ones_kept(repo: Path) -> None:
    dead = repo / f".a.enc.yaml.secretsmgr-{dead_pid()}-0123abcd.new"
    live = repo / f".b.enc.yaml.secretsmgr-{os.getpid()}-0123abcd.new"
    lookalike = repo / ".c.enc.yaml.secretsmgr-notes.new"
    for path in (dead, live, lookalike):
        path.write_text("x\n")
    assert set(find_pending(repo).temp_files) == {dead.name, live.name}
    done = recover(repo)
    assert done.removed == (dead.name,)
    assert done.describe() == f"removed 1 leftover temp file: {dead.name}"
    assert not dead.exists() and live.exists() and lookalike.exists()


@pytest.mark.parametrize("case", ["killed", "file changed since", "tracked", "other actor"])
def test_a_changelog_append_a_killed_set_left_in_its_temp_file_is_finished(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    # the write-side review of stop 53: `set` killed after the file was written and before the
    # changelog's temp file replaced the changelog; recover removed that temp file, and log
    # --verify called the change one made outside secretsmgr. Its review: a temp file git
    # delivered (committed by a pull request), or another writer's entry, is never spliced in
    import dataclasses

    from secretsmgr.changelog.chain import append, next_entry
    from tests.cli.runner import run

    demo = git_copy(DEMO, tmp_path / "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    log = demo / CHANGELOG
    before, old_file = log.read_bytes(), (demo / PG).read_bytes()
    args = ["--repo", str(demo), "set", str(demo / PG), "stringData.password"]
    run(args, capsys, expect=0, stdin="Kill-Window-Value-1")
    after = log.read_bytes()
    if case == "other actor":
        entry = parse_entries(after)[-1]
        fields = dataclasses.asdict(entry) | {"actor": "Security Team <sec@example.org>"}
        fields.pop("seq"), fields.pop("prev")
        fields["files"] = entry.files
        after = append(before, next_entry(before, **fields))
    temp = demo / f".{CHANGELOG}.secretsmgr-{dead_pid()}-0123abcd.new"
    temp.write_bytes(after)
    log.write_bytes(before)
    if case == "file changed since":  # a temp file whose entry no file holds
        (demo / PG).write_bytes(old_file)
    if case == "tracked":
        git(demo, "add", temp.name)
    done = recover(demo)
    file_written = case == "killed"
    assert temp.exists() is (case == "tracked")
    if file_written:
        assert log.read_bytes() == after
        seq = parse_entries(after)[-1].seq
        assert f"finished an interrupted changelog append (seq {seq})" in done.describe()
        run(["--repo", str(demo), "log", "--verify"], capsys, expect=0)
    else:
        assert log.read_bytes() == before and "changelog append" not in done.describe()


def test_the_next_write_finishes_a_killed_writes_append_before_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the review of stop 53: the next `set` recovered after writing its file, so the killed
    # run's entry no longer matched and was dropped
    from tests.cli.runner import run

    demo = git_copy(DEMO, tmp_path / "demo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    log = demo / CHANGELOG
    before = log.read_bytes()
    args = ["--repo", str(demo), "set", str(demo / PG), "stringData.password"]
    run(args, capsys, expect=0, stdin="Kill-Window-Value-1")
    killed = log.read_bytes()
    (demo / f".{CHANGELOG}.secretsmgr-{dead_pid()}-0123abcd.new").write_bytes(killed)
    log.write_bytes(before)
    done = run(args, capsys, stdin="Next-Value-2", may_warn=["finished an interrupted"])
    assert done.code == 0 and "finished an interrupted changelog append" in done.err
    entries = parse_entries(log.read_bytes())
    assert log.read_bytes().startswith(killed) and len(entries) == len(parse_entries(killed)) + 1
    run(["--repo", str(demo), "log", "--verify"], capsys, expect=0)


# --- real runs: what recovery keeps ---------------------------------------------------------


def demo_env() -> dict[str, str]:
    return subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY))


def killed_rotation(repo: Path, point: str) -> None:
    run_process(ROTATE, repo=repo, env={**demo_env(), "SECRETSMGR_FAULT_INJECT": point}, expect=-9)


def append_by_hand(repo: Path, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changelog line appended by a writer that did not recover first (an older version)."""
    import secretsmgr.rotate.record as record
    from secretsmgr.rotate.journal import Recovery

    text = (repo / path).read_text()
    sf = load(text, format_for_path(path))
    key = unwrap_data_key(sf.metadata, [identity_from(DEMO_KEY)])
    with monkeypatch.context() as patch:
        patch.setattr(record, "recover", lambda root: Recovery())
        assert record_write(repo, repo / path, "edit", text, text, key) is not None


def test_rollback_keeps_changelog_lines_appended_after_the_killed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    before = snapshot(repo)
    killed_rotation(repo, "replace:1:kill")  # PG replaced, REDIS not, no entry yet
    assert snapshot(repo)[PG] != before[PG]
    append_by_hand(repo, AUTHENTIK, monkeypatch)
    appended = (repo / CHANGELOG).read_bytes()
    assert recover(repo).message == (
        "rolled back an interrupted rotation: restored 1 file to its old version"
    )
    after = snapshot(repo)
    assert after[CHANGELOG] == appended  # the later line stays, byte for byte
    assert verify(appended) is None
    assert all(after[f] == before[f] for f in DATABASES)
    assert litter(repo) == []


def test_completion_keeps_lines_chained_after_the_killed_runs_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    before = snapshot(repo)
    kill_after_changelog(repo)  # the entry is on disk, the journal still there
    append_by_hand(repo, AUTHENTIK, monkeypatch)
    appended = (repo / CHANGELOG).read_bytes()
    message = recover(repo).message or ""
    assert message.startswith("completed an interrupted rotation")
    after = snapshot(repo)
    assert after[CHANGELOG] == appended
    assert [e.action for e in parse_entries(appended)[-2:]] == ["rotate", "edit"]
    assert verify(appended) is None
    assert after[PG] != before[PG] and after[REDIS] != before[REDIS]
    assert litter(repo) == []


def without_temps(files: dict[str, bytes]) -> dict[str, bytes]:
    return {p: data for p, data in files.items() if not p.endswith(".new")}


def test_each_root_of_a_checkout_has_its_own_journal(tmp_path: Path) -> None:
    outer = git_copy(DEMO, tmp_path / "repo")
    shutil.copytree(DEMO, outer / "nested")
    commit_all(outer, "a second project inside")
    inner = outer / "nested"
    assert journal_path(inner) != journal_path(outer)
    before = snapshot(outer)
    killed_rotation(inner, "replace:1:kill")
    pending_inner = snapshot(inner)
    # the outer root rotates its own file: the inner journal is not its business
    args = ["rotate", str(outer / PG), "--reason", "outer"]
    done = run_process(args, repo=outer, env=demo_env(), expect=0)
    assert done.err == ""
    # inner files and inner changelog untouched (its dead run's temp files, never live files,
    # may be swept by any root's recovery)
    assert without_temps(snapshot(inner)) == without_temps(pending_inner)
    assert journal_path(inner).exists()  # type: ignore[union-attr]
    inner_done = run_process(["recover"], repo=inner, env=demo_env(), expect=0)
    assert inner_done.out.startswith("rolled back an interrupted rotation: restored 1 file")
    after = snapshot(outer)
    assert {f"nested/{f}" for f in DATABASES} <= {p for p in after if after[p] == before[p]}
    assert after[PG] != before[PG]  # the outer rotation stands
    assert after[CHANGELOG] != before[CHANGELOG]
    assert after[f"nested/{CHANGELOG}"] == before[f"nested/{CHANGELOG}"]


def test_temp_files_never_made_on_a_read_only_mount_are_no_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the attack review: on a read-only mount unlink of a temp file that was never made says
    # EROFS, not ENOENT; recovery failed with an internal error while the mount stayed so
    import errno

    from secretsmgr.rotate.journal import JournalFile, new_journal, remove_temps

    (tmp_path / "apps").mkdir()
    made = tmp_path / "apps" / "made.enc.yaml"
    made.write_text("x: 1\n")
    files = [
        JournalFile(f"apps/{n}.enc.yaml", "x: 1\n", "0" * 64, "1" * 64) for n in ("ro", "made")
    ]
    journal = new_journal(
        tmp_path,
        run="abcd1234",
        seq=1,
        changelog="log.jsonl",
        old_log=b"",
        new_log=b"x",
        files=files,
    )
    kept = tmp_path / journal.temp_of("apps/made.enc.yaml")
    kept.write_text("new")
    real_unlink = os.unlink

    def read_only(path: object, *args: object, **kwargs: object) -> None:
        if "ro.enc.yaml" in str(path):
            raise OSError(errno.EROFS, "Read-only file system")
        real_unlink(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", read_only)
    remove_temps(tmp_path, journal)
    assert not kept.exists()
    # one that is there and cannot go is still an error
    stuck = tmp_path / journal.temp_of("apps/ro.enc.yaml")
    stuck.write_text("new")
    with pytest.raises(OSError):
        remove_temps(tmp_path, journal)
