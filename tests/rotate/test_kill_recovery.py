"""A real ``kill -9`` at every dangerous point of ``secretsmgr rotate``, then recovery.

The process kills itself via ``SECRETSMGR_FAULT_INJECT=<step>:<index>:kill`` (SIGKILL: no
``finally``, no ``except``), or is killed from outside. Afterwards every file of the layer must
be its old bytes or a valid new version (our decrypt for all, the real sops for a sample), and
the next ordinary run must report the recovery, exit 0 and leave a rotated, verifiable repo.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.genrepo import generate
from secretsmgr.changelog.chain import parse_entries, verify
from secretsmgr.plural import plural
from secretsmgr.rotate.journal import recover
from tests.cli.runner import Result, finish_process, run_process, start_process
from tests.rotate.helpers import (
    CHANGELOG,
    DATABASES,
    DEMO_KEY,
    JOURNAL,
    changed,
    commit_all,
    data_key,
    identity_from,
    journal_path,
    litter,
    plaintext,
    snapshot,
    sops_decrypt_many,
    subprocess_env,
)

pytestmark = pytest.mark.interop

ROTATE = ["rotate", "--layer", "databases", "--reason", "kill test"]
LAYER_SIZE = 100  # above the staging workers' fork threshold (48): two workers
SOPS_SAMPLE = 5  # per kind (old / new) and check: the real sops judges 10 files each time


@dataclass(frozen=True)
class Template:
    """A committed 300-file repo and what its databases layer decrypts to."""

    root: Path
    secret_key: str
    files: dict[str, bytes]
    layer: list[str]  # the databases layer's files in plan order (by path)
    plain: dict[str, str]
    keys: dict[str, bytes]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    root = tmp_path_factory.mktemp("kill-template") / "repo"
    repo = generate(root, 3 * LAYER_SIZE)
    from tests.conftest import git

    git(root, "init", "-q", "-b", "main")
    commit_all(root, "generated")
    ident = identity_from(key_text=repo.secret_key)
    layer = sorted(
        p.relative_to(root).as_posix() for p in repo.files if p.parent.name.endswith("-dat")
    )
    assert len(layer) == LAYER_SIZE
    return Template(
        root,
        repo.secret_key,
        snapshot(root),
        layer,
        {f: plaintext(root / f, ident) for f in layer},
        {f: data_key(root / f, ident) for f in layer},
    )


def copy(template: Template, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(template.root, repo)
    return repo


def layer_state(repo: Path, template: Template) -> list[str]:
    """Assert every layer file is old or a valid new version; return the new ones."""
    ident = identity_from(key_text=template.secret_key)
    new = []
    for rel in template.layer:
        data = (repo / rel).read_bytes()
        if data == template.files[rel]:
            continue
        assert plaintext(repo / rel, ident) == template.plain[rel], rel  # MAC checked too
        assert data_key(repo / rel, ident) != template.keys[rel], rel
        new.append(rel)
    old = [rel for rel in template.layer if rel not in new]
    sample = new[:: max(1, len(new) // SOPS_SAMPLE)][:SOPS_SAMPLE]
    sample += old[:: max(1, len(old) // SOPS_SAMPLE)][:SOPS_SAMPLE]
    for path, out in sops_decrypt_many([repo / r for r in sample], template.secret_key).items():
        assert out == template.plain[path.relative_to(repo).as_posix()]
    # nothing outside the layer changed (the changelog did not exist before)
    after = snapshot(repo)
    ignored = set(litter(repo)) | {CHANGELOG}
    assert {p for p in changed(template.files, after) if p not in ignored} <= set(template.layer)
    return new


def assert_recovered_and_rotated(
    repo: Path, template: Template, recovery: Result, seqs: list[int]
) -> None:
    assert recovery.code == 0, recovery.err
    assert recovery.out.startswith(f"rotated {LAYER_SIZE} files in ")
    assert not journal_path(repo).exists()
    assert len(layer_state(repo, template)) == LAYER_SIZE  # all valid, all under new data keys
    data = (repo / CHANGELOG).read_bytes()
    assert verify(data) is None
    entries = parse_entries(data)
    assert [e.seq for e in entries] == seqs
    assert all(len(e.files) == LAYER_SIZE for e in entries)


# (fault point, files replaced when the kill lands, journal left behind)
POINTS = [
    ("write:50:kill", 0, True),  # the journal is written before any temp file
    ("journal:0:kill", 0, False),
    ("fsync:0:kill", 0, True),  # every temp file written, none fsynced yet
    ("replace:0:kill", 0, True),
    ("replace:57:kill", 57, True),
    ("replace:99:kill", 99, True),
    ("dirsync:0:kill", LAYER_SIZE, True),  # every file replaced, folders not yet fsynced
    ("changelog:0:kill", LAYER_SIZE, True),
]


@pytest.mark.parametrize(("point", "replaced", "journal"), POINTS, ids=[p[0] for p in POINTS])
def test_kill_9_then_next_run_recovers(
    template: Template, tmp_path: Path, point: str, replaced: int, journal: bool
) -> None:
    repo = copy(template, tmp_path)
    env = subprocess_env(SOPS_AGE_KEY=template.secret_key)
    fault = {**env, "SECRETSMGR_FAULT_INJECT": point}
    run_process(ROTATE, repo=repo, env=fault, expect=-signal.SIGKILL)
    assert journal_path(repo).exists() is journal
    assert len(layer_state(repo, template)) == replaced
    assert not (repo / CHANGELOG).exists()

    rolled_back = ["rolled back an interrupted rotation"] if journal else []
    recovery = run_process(ROTATE, repo=repo, env=env, expect=0, warnings=rolled_back)
    if journal:
        assert recovery.err == (
            "secretsmgr: warning: rolled back an interrupted rotation: "
            f"restored {plural(replaced, 'file')} to "
            f"{'its old version' if replaced == 1 else 'their old versions'}\n"
        )
        assert litter(repo) == []
    # else: killed before the journal existed, so nothing was written and nothing is reported
    assert_recovered_and_rotated(repo, template, recovery, [1])  # the killed run left no entry


def test_kill_from_outside_during_replace(template: Template, tmp_path: Path) -> None:
    repo = copy(template, tmp_path)
    env = subprocess_env(SOPS_AGE_KEY=template.secret_key)
    proc = start_process(ROTATE, repo=repo, env=env)
    deadline = time.monotonic() + 60
    journal = journal_path(repo)
    try:
        while not journal.exists() and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(random.uniform(0, 0.025))  # journal written: replacing starts in ~10 ms
        proc.kill()
    finally:
        code = finish_process(proc, timeout=60).code
    assert code in (-signal.SIGKILL, 0)  # 0: it finished in the ms between journal and kill
    replaced = len(layer_state(repo, template))
    phase = None
    if journal.exists():  # past the commit point once the changelog entry is on disk
        phase = "logged" if (repo / CHANGELOG).exists() else "replacing"
    print(f"outside kill landed: exit {code}, journal phase {phase}, {replaced} files replaced")
    if phase is None:  # the kill came too late: a finished (uncommitted) rotation
        assert replaced == LAYER_SIZE and litter(repo) == []
        assert verify((repo / CHANGELOG).read_bytes()) is None
        return
    rolled_back = ["rolled back an interrupted rotation"] if phase == "replacing" else []
    recovery = run_process(ROTATE, repo=repo, env=env, warnings=rolled_back)
    assert not journal.exists()
    assert litter(repo) == []  # stray write_atomic temp files are swept too
    if phase == "logged":
        # killed after the commit point: completed, so the rotated files are uncommitted and
        # the same run refuses them as dirty, after saying what it completed
        assert recovery.code == 1 and "uncommitted changes" in recovery.err
        assert "completed an interrupted rotation" in recovery.err
        assert replaced == LAYER_SIZE and verify((repo / CHANGELOG).read_bytes()) is None
        return
    assert phase == "replacing"
    assert recovery.err == (
        "secretsmgr: warning: rolled back an interrupted rotation: "
        f"restored {plural(replaced, 'file')} to "
        f"{'its old version' if replaced == 1 else 'their old versions'}\n"
    )
    assert_recovered_and_rotated(repo, template, recovery, [1])


# --- the same on the small demo repo: windows without their own fault point ----------------


def demo_env() -> dict[str, str]:
    return subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY))


def test_kill_before_the_journal_leaves_nothing(bare_demo_repo: Path) -> None:
    repo = bare_demo_repo
    before = snapshot(repo)
    fault = {**demo_env(), "SECRETSMGR_FAULT_INJECT": "journal:0:kill"}
    run_process(ROTATE, repo=repo, env=fault, expect=-signal.SIGKILL)
    assert changed(before, snapshot(repo)) == set()  # the journal comes before any temp file
    recovery = run_process(ROTATE, repo=repo, env=demo_env(), expect=0)
    assert recovery.err == ""
    assert litter(repo) == []


def test_kill_while_writing_temp_files_is_cleaned_up_and_reported(bare_demo_repo: Path) -> None:
    repo = bare_demo_repo
    before = snapshot(repo)
    fault = {**demo_env(), "SECRETSMGR_FAULT_INJECT": "write:1:kill"}
    run_process(ROTATE, repo=repo, env=fault, expect=-signal.SIGKILL)
    # the first temp file in the tree; the journal inside .git, never committable
    assert changed(before, snapshot(repo)) == set(litter(repo)) - {JOURNAL}
    assert journal_path(repo).exists() and ".git" in journal_path(repo).parts
    recovery = run_process(
        ROTATE, repo=repo, env=demo_env(), expect=0, warnings=["rolled back an interrupted"]
    )
    assert litter(repo) == []
    assert "rolled back an interrupted rotation: restored 0 files" in recovery.err


KILL_HOOK = """
import os, signal
where = os.environ["TEST_KILL_AT"]
if where == "logged":  # right after the changelog entry is on disk: past the commit point
    import secretsmgr.rotate.transaction as t
    write_changelog = t.write_changelog
    def killing(path, data):
        write_changelog(path, data)
        os.kill(os.getpid(), signal.SIGKILL)
    t.write_changelog = killing
else:  # at the fsync of a temp file named where*: written, not yet moved into place
    fsync = os.fsync
    def killing_fsync(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(where):
            os.kill(os.getpid(), signal.SIGKILL)
        fsync(fd)
    os.fsync = killing_fsync
"""


def kill_at(repo: Path, where: str) -> None:
    """Run rotate in a process that SIGKILLs itself at ``where`` (see KILL_HOOK)."""
    env = {**demo_env(), "TEST_KILL_AT": where}
    run_process(ROTATE, repo=repo, env=env, preamble=KILL_HOOK, expect=-signal.SIGKILL, timeout=60)
    assert journal_path(repo).exists()


def kill_after_changelog(repo: Path) -> None:
    kill_at(repo, "logged")


def test_kill_inside_changelog_write_leaves_no_temp_file(bare_demo_repo: Path) -> None:
    repo = bare_demo_repo
    before = snapshot(repo)
    kill_at(repo, f".{CHANGELOG}.")
    assert (recover(repo).message or "").startswith("rolled back")
    assert litter(repo) == []
    assert snapshot(repo) == before


def test_kill_after_changelog_write_completes_the_rotation(bare_demo_repo: Path) -> None:
    repo = bare_demo_repo
    run_process(ROTATE, repo=repo, env=demo_env(), expect=0)  # seq 1 exists
    commit_all(repo, "first rotation")
    before = snapshot(repo)
    kill_after_changelog(repo)
    killed = snapshot(repo)
    assert len(killed[CHANGELOG].splitlines()) == 2  # the entry is on disk: the commit point
    message = recover(repo).message
    assert message == (
        "completed an interrupted rotation (changelog seq 2); "
        "its files are rotated but were not committed"
    )
    assert snapshot(repo) == killed and litter(repo) == []  # nothing undone, journal gone
    assert changed(before, killed) == {*DATABASES, CHANGELOG}
    assert verify(killed[CHANGELOG]) is None
    # and on it goes: seq 3 (the completion was reported by recover above: nothing on stderr)
    run_process([*ROTATE, "--allow-dirty"], repo=repo, env=demo_env(), expect=0)
    assert [e.seq for e in parse_entries((repo / CHANGELOG).read_bytes())] == [1, 2, 3]


def test_kill_after_first_changelog_write_keeps_the_first_entry(bare_demo_repo: Path) -> None:
    repo = bare_demo_repo
    kill_after_changelog(repo)
    killed = snapshot(repo)
    assert (recover(repo).message or "").startswith("completed an interrupted rotation")
    assert snapshot(repo) == killed
    assert [e.seq for e in parse_entries(killed[CHANGELOG])] == [1]


def kill_at_commit(repo: Path) -> dict[str, bytes]:
    env = {**demo_env(), "SECRETSMGR_FAULT_INJECT": "commit:0:kill"}
    run_process([*ROTATE, "--commit"], repo=repo, env=env, expect=-signal.SIGKILL)
    # past the commit point: the changelog entry is on disk and the journal is gone already
    assert not journal_path(repo).exists() and (repo / CHANGELOG).exists()
    return snapshot(repo)


def test_kill_at_commit_is_completed_by_the_next_run(bare_demo_repo: Path) -> None:
    repo = bare_demo_repo
    before = snapshot(repo)
    killed = kill_at_commit(repo)
    assert {*DATABASES, CHANGELOG} <= changed(before, killed)
    # the next run has nothing to complete, and refuses: the rotated files are uncommitted;
    # the files and the changelog stay as the killed run left them
    rerun = run_process([*ROTATE, "--commit"], repo=repo, env=demo_env(), expect=1)
    assert "has uncommitted changes" in rerun.err
    assert litter(repo) == []
    after = snapshot(repo)
    assert changed(before, after) == {*DATABASES, CHANGELOG}
    assert all(after[f] == killed[f] for f in (*DATABASES, CHANGELOG))
    assert verify(after[CHANGELOG]) is None
    ident = identity_from(DEMO_KEY)
    for f in DATABASES:
        assert plaintext(repo / f, ident) == plaintext(repo / f, ident, before[f])
    # then an --allow-dirty run rotates again, normally
    again = run_process([*ROTATE, "--commit", "--allow-dirty"], repo=repo, env=demo_env(), expect=0)
    assert again.err == ""
    assert verify((repo / CHANGELOG).read_bytes()) is None


def test_kill_at_commit_leaves_nothing_to_recover(bare_demo_repo: Path) -> None:
    # The run was complete (its changelog entry written); only the git commit was lost.
    repo = bare_demo_repo
    kill_at_commit(repo)
    rerun = run_process([*ROTATE, "--commit", "--allow-dirty"], repo=repo, env=demo_env())
    assert "interrupted" not in rerun.err
    assert litter(repo) == []


def test_environment_is_hermetic_for_subprocesses() -> None:
    env = subprocess_env()
    assert not any(k.startswith(("SOPS_AGE_", "SECRETSMGR_")) for k in env)
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull


def test_a_set_after_a_killed_rotation_recovers_first_and_says_so(demo_repo: Path) -> None:
    """The attack review of stop 37: `set` on a file of a rotation killed midway wrote it, then
    met the journal in its changelog step, rolled the rest back but for that file "changed
    since", and called the write a failure (exit 1, no changelog entry). The writer recovers
    first now, with the warning rotate gives, and records its entry."""
    from tests.conftest import git

    env = subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY))
    rotate = ["rotate", "--all", "--reason", "killed"]
    run_process(
        rotate,
        repo=demo_repo,
        env={**env, "SECRETSMGR_FAULT_INJECT": "replace:1:kill"},
        expect=-signal.SIGKILL,
    )
    assert journal_path(demo_repo).exists()
    target = "gitops/apps/authentik/secret.enc.yaml"
    result = run_process(
        ["set", target, "stringData.extra"],
        repo=demo_repo,
        env=env,
        stdin="fresh-value-9",
        expect=0,
        warnings=["rolled back an interrupted rotation"],
    )
    assert "restored 1 file to its old version" in result.err
    assert not journal_path(demo_repo).exists() and litter(demo_repo) == []
    entries = parse_entries((demo_repo / CHANGELOG).read_bytes())
    assert [e.action for e in entries][-1] == "set"
    status = git(demo_repo, "status", "--porcelain").split("\n")
    assert sorted(line[3:] for line in status if line) == sorted([target, CHANGELOG])
