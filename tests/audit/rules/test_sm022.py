"""SM022 interrupted-write: a pending rotation journal, or a temp file a killed write left."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from secretsmgr.audit.engine import run_audit
from secretsmgr.fsutil import process_start
from secretsmgr.repo.pending import journal_path
from tests.cli.runner import run_process
from tests.rotate.helpers import (
    DEMO,
    DEMO_KEY,
    PG,
    git_copy,
    subprocess_env,
)


def sm022(root: Path) -> list[tuple[str, str, str | None]]:
    report = run_audit(root, keyless_only=True)
    return [(f.path, f.message, f.fix) for f in report.findings if f.rule == "SM022"]


def env() -> dict[str, str]:
    return subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY))


def test_sm022_fires_for_a_killed_rotation_until_recover(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    run_process(
        ["rotate", "--layer", "databases"],
        repo=repo,
        env={**env(), "SECRETSMGR_FAULT_INJECT": "replace:1:kill"},
        expect=-9,
    )
    found = sm022(repo)
    paths = [p for p, _, _ in found]
    assert paths[0] == PG  # the journal: named by the first file it covers
    assert "a rotation was interrupted (2 files" in found[0][1]
    assert any(p.endswith(".new") for p in paths)  # the temp file of the file not yet replaced
    assert all(fix is not None and fix.startswith("secretsmgr recover") for _, _, fix in found)
    gate = run_process(["check"], repo=repo, env=env(), expect=1)
    assert "SM022" in gate.out
    fixed = run_process(["recover"], repo=repo, env=env(), expect=0)
    # (the first line: a parallel test's killed edit may add a line about its scratch folder)
    assert fixed.out.splitlines()[0] == (
        "rolled back an interrupted rotation: restored 1 file to its old version"
    )
    assert sm022(repo) == []
    run_process(["check"], repo=repo, env=env(), expect=0)
    again = run_process(["recover"], repo=repo, env=env(), expect=0).out
    assert again.splitlines()[0] == "nothing to recover"


def test_sm022_fires_for_a_leftover_temp_file_and_any_write_clears_it(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    proc = subprocess.Popen(["true"])
    proc.wait()
    temp = repo / "gitops" / f".notes.yaml.secretsmgr-{proc.pid}-0123abcd.new"
    temp.write_text("half a file\n")
    assert [p for p, _, _ in sm022(repo)] == [temp.relative_to(repo).as_posix()]
    run_process(["rotate", PG, "--reason", "any write"], repo=repo, env=env(), expect=0)
    assert not temp.exists() and sm022(repo) == []


def test_sm022_says_when_the_writer_still_runs(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    where = journal_path(repo)
    assert where is not None
    where.parent.mkdir(parents=True)
    owner = f'{{"pid": {os.getpid()}, "start": "{process_start(os.getpid())}"}}'
    where.write_text(f'{{"owner": {owner}, "files": [{{"path": "{PG}"}}]}}')
    [(path, message, fix)] = sm022(repo)
    assert path == PG
    assert f"a rotation by pid {os.getpid()} is writing right now" in message
    assert fix == "wait for it to finish, then run the audit again"


def test_sm022_near_miss_lookalike_names_and_a_clean_repo(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    assert sm022(repo) == []
    (repo / ".notes.yaml.secretsmgr-draft.new").write_text("mine\n")
    (repo / "notes.yaml.secretsmgr-1-0123abcd.new").write_text("not hidden: not ours\n")
    assert sm022(repo) == []
