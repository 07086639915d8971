"""Writers racing on one repository, as real processes (rotate, key rotate, encrypt -i, set).

The lost-rotation race (issue 12, High 1): run B started while run A was replacing files, then
B's start-up recovery took A's live journal for an interrupted run and undid A. Now every writer
holds the repository's write lock from its first read to its last write, so B waits for A and
then runs after it, or gives up naming A's pid; it never touches A's journal.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import parse_entries, verify
from secretsmgr.repo.lock import DEFAULT_WAIT
from tests.cli.runner import Result, finish_process, run_process, start_process
from tests.rotate.helpers import (
    CHANGELOG,
    DATABASES,
    DEMO,
    DEMO_KEY,
    DEMO_SOPS_FILES,
    PG,
    data_key,
    git_copy,
    identity_from,
    journal_path,
    litter,
    snapshot,
    sops_decrypt,
    sops_json,
    subprocess_env,
)

pytestmark = pytest.mark.interop
ROTATE = ["rotate", "--layer", "databases", "--allow-dirty"]
BUSY = re.compile(
    r"secretsmgr: error: another secretsmgr is writing in this repository \(pid (\d+)\)"
)


def env(**extra: str) -> dict[str, str]:
    return subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY), **extra)


def wait_for(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


# A process started from a background job inherits SIGINT ignored (a non-interactive shell's
# `cmd &`, nohup), and Python then leaves it ignored: Ctrl-C is the user's at a terminal, so the
# test gives the process the handler a terminal's process has (CI started in the background
# timed the Ctrl-C test out, stop 50)
INTERRUPTIBLE = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)"


def paused_rotation(
    repo: Path, tmp_path: Path, reason: str, preamble: str | None = None
) -> tuple[subprocess.Popen[str], Path]:
    """Run A, paused after replacing its first file (lock held, journal on disk)."""
    marker = tmp_path / "paused"
    proc = start_process(
        [*ROTATE, "--reason", reason],
        repo=repo,
        env=env(SECRETSMGR_FAULT_INJECT=f"replace:1:pause={marker}"),
        preamble=preamble,
    )
    wait_for(marker, proc)
    assert journal_path(repo).exists()
    return proc, marker


def datakey_ids(repo: Path) -> dict[str, str]:
    from secretsmgr.changelog.chain import datakey_id

    ident = identity_from(DEMO_KEY)
    return {f: datakey_id(data_key(repo / f, ident)) for f in DATABASES}


def test_a_second_rotation_waits_then_gives_up_naming_the_holder(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    started = time.monotonic()
    b = run_process([*ROTATE, "--reason", "run B"], repo=repo, env=env(), expect=1)
    waited = time.monotonic() - started
    found = BUSY.match(b.err)
    assert found is not None, b.err
    assert int(found.group(1)) == a.pid
    assert waited >= DEFAULT_WAIT - 0.5
    assert journal_path(repo).exists()  # B never took A's live journal for an interrupted run
    marker.unlink()
    finish_process(a, expect=0, timeout=60)
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    assert entries[-1].reason == "run A"
    assert {f.path: f.datakey_id for f in entries[-1].files} == datakey_ids(repo)
    assert litter(repo) == []


def test_a_rotation_started_during_another_runs_after_it(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    b = start_process([*ROTATE, "--reason", "run B"], repo=repo, env=env())
    time.sleep(1.0)  # B is waiting for the lock now
    assert b.poll() is None
    assert journal_path(repo).exists()
    marker.unlink()
    finish_process(a, expect=0, timeout=60)
    # B found nothing to recover (A's run was not interrupted): nothing on its stderr
    assert finish_process(b, expect=0, timeout=60).err == ""
    data = (repo / CHANGELOG).read_bytes()
    assert verify(data) is None
    entries = parse_entries(data)
    assert [e.reason for e in entries[-2:]] == ["run A", "run B"]
    assert {f.path: f.datakey_id for f in entries[-1].files} == datakey_ids(repo)
    for f in entries[-1].files:  # what B logged is what is on disk
        assert f.sha256_after == hashlib.sha256((repo / f.path).read_bytes()).hexdigest()
    run_process(["log", "--verify"], repo=repo, env=env(), expect=0)


def test_a_key_rotation_waits_for_a_rotation(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    args = ["key", "rotate", "--begin", "-o", str(tmp_path / "new.agekey")]
    begin = start_process(args, repo=repo, env=env())
    time.sleep(1.0)
    assert begin.poll() is None  # waiting: it reads nothing while A writes
    marker.unlink()
    finish_process(a, expect=0, timeout=60)
    # A's rotation left the files dirty: begin refuses them
    err = finish_process(begin, expect=1, timeout=120).err
    assert "uncommitted changes" in err
    assert not (tmp_path / "new.agekey").exists()


# --- N writers at once ----------------------------------------------------------------------

ROTATIONS = 4
ENCRYPTS = 3
SETS = 3  # on a file the rotations rewrite too: neither may lose the other's write
PLAIN = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra-{i}\ntype: Opaque\n" + (
    "stringData:\n  token: extra-token-{i}-{salt}\n"
)


def test_racing_writers_lose_nothing(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    salt = os.urandom(4).hex()
    extra = repo / "gitops" / "extra"
    extra.mkdir()
    for i in range(ENCRYPTS):
        (extra / f"s{i}.enc.yaml").write_text(PLAIN.format(i=i, salt=salt))
    rotations = [[*ROTATE, "--reason", f"race {i}"] for i in range(ROTATIONS)]
    encrypts = [["encrypt", "-i", str(extra / f"s{i}.enc.yaml")] for i in range(ENCRYPTS)]
    sets = [["set", str(repo / PG), f"stringData.race-{i}"] for i in range(SETS)]
    jobs = [j for trio in zip_longest(rotations, encrypts, sets) for j in trio if j is not None]

    def run(args: list[str]) -> tuple[list[str], Result]:
        stdin = f"value-{args[-1]}-{salt}" if args[0] == "set" else None
        return args, run_process(args, repo=repo, env=env(), stdin=stdin)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(run, jobs))

    ok = []
    for args, done in results:  # the runner saw no traceback, and nothing on a success's stderr
        if done.code == 0:
            ok.append(args)
            continue
        # the only acceptable failure: waited for the lock too long, nothing changed
        assert done.code == 1 and BUSY.search(done.err), (args, done.err)
    assert len(ok) >= 2, results

    data = (repo / CHANGELOG).read_bytes()
    assert verify(data) is None
    entries = parse_entries(data)
    logged_reasons = [e.reason for e in entries]
    for args in ok:  # every run that said so is in the changelog
        if args[0] == "rotate":
            assert logged_reasons.count(args[-1]) == 1, args
        elif args[0] == "encrypt":
            rel = Path(args[-1]).relative_to(repo).as_posix()
            assert any(e.action == "encrypt" and e.files[0].path == rel for e in entries), args
        else:
            logged = [e for e in entries if e.action == "set" and args[-1] in e.files[0].key_paths]
            assert len(logged) == 1, args
    # ... and the last entry naming each file holds the bytes on disk: no success was undone
    last: dict[str, str] = {}
    for entry in entries:
        for f in entry.files:
            last[f.path] = f.sha256_after
    current = snapshot(repo)
    for path, digest in last.items():
        assert hashlib.sha256(current[path]).hexdigest() == digest, path
    run_process(["log", "--verify"], repo=repo, env=env(), expect=0)
    encrypted = [Path(a[-1]) for a in ok if a[0] == "encrypt"]
    for path in [*(repo / f for f in DEMO_SOPS_FILES), *encrypted]:
        sops_decrypt(path, key_file=DEMO_KEY)  # the real sops reads every file
    pg = sops_json(repo / PG, DEMO_KEY)["stringData"]
    assert isinstance(pg, dict)
    for args in ok:  # every value a successful set wrote survived every later rotation
        if args[0] == "set":
            assert pg[args[-1].split(".", 1)[1]] == f"value-{args[-1]}-{salt}", args
    assert litter(repo) == []
    print(f"{len(ok)} of {len(jobs)} writers succeeded, the others waited too long")


def test_a_changelog_append_waits_for_a_rotation(tmp_path: Path) -> None:
    from secretsmgr.errors import RefusedError
    from secretsmgr.rotate.record import record_write

    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    text = (repo / DEMO_SOPS_FILES[-1]).read_text()
    log_before = (repo / CHANGELOG).read_bytes()
    started = time.monotonic()
    with pytest.raises(RefusedError) as info:
        record_write(repo, repo / DEMO_SOPS_FILES[-1], "edit", text, text, b"k" * 32)
    assert time.monotonic() - started >= DEFAULT_WAIT - 0.5
    assert info.value.message == f"another secretsmgr is writing in this repository (pid {a.pid})"
    assert (repo / CHANGELOG).read_bytes() == log_before
    marker.unlink()
    finish_process(a, expect=0, timeout=60)


def test_a_busy_repository_is_never_blamed_on_the_file(tmp_path: Path) -> None:
    # `encrypt -i FILE` that waits out the lock: the error is about the repository, as for
    # every other writer, not "FILE: another secretsmgr ...".
    from secretsmgr.cli.files import about_file
    from secretsmgr.errors import BusyError

    with pytest.raises(BusyError) as info, about_file(tmp_path / "a.enc.yaml", None):
        raise BusyError("another secretsmgr is writing in this repository (pid 1)")
    assert info.value.message.startswith("another secretsmgr")


def test_ctrl_c_during_a_rotation_says_so_and_restores_every_file(tmp_path: Path) -> None:
    # the attack review: typer turned Ctrl-C into exit 130 with nothing said; the files were
    # restored, and the user was not told
    import signal

    repo = git_copy(DEMO, tmp_path / "repo")
    before = snapshot(repo)
    a, _marker = paused_rotation(repo, tmp_path, "interrupted", preamble=INTERRUPTIBLE)
    a.send_signal(signal.SIGINT)
    _out, err = a.communicate(timeout=60)
    assert a.returncode == 130, err
    assert err.splitlines()[-1] == "secretsmgr: interrupted", err
    assert "Traceback" not in err
    assert snapshot(repo) == before and litter(repo) == []


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_target_made_a_fifo_or_folder_mid_run_is_refused_and_the_rest_restored(
    tmp_path: Path, kind: str
) -> None:
    # the attack review: a FIFO in a target's place hung the rotation and every recovery after
    # it; a folder there was an internal error that each later write command repeated
    repo = git_copy(DEMO, tmp_path / "repo")
    before = snapshot(repo)
    marker = tmp_path / "paused"
    proc = start_process(
        [*ROTATE, "--reason", "swap"],
        repo=repo,
        env=env(SECRETSMGR_FAULT_INJECT=f"stage:0:pause={marker}"),
    )
    wait_for(marker, proc)
    victim = repo / DATABASES[1]
    victim.unlink()
    if kind == "fifo":
        os.mkfifo(victim)
    else:
        victim.mkdir()
    marker.unlink()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert f"/{DATABASES[1]}: no longer a regular file" in err and "Traceback" not in err, err
    names = [n for _d, _s, files in os.walk(repo / "gitops") for n in files]
    assert not [n for n in names if n.endswith(".new")] and not journal_path(repo).exists()
    again = run_process(["recover"], repo=repo, env=env(), expect=0, timeout=30)
    assert again.err == ""
    if kind == "fifo":  # left alone (never read: snapshot would block on it too)
        victim.unlink()
    else:
        victim.rmdir()
    now = snapshot(repo)
    assert {p: b for p, b in now.items() if p != DATABASES[1]} == {
        p: b for p, b in before.items() if p != DATABASES[1]
    }


def test_a_running_rotation_is_never_called_interrupted(tmp_path: Path) -> None:
    # the attack review: a dry run said "an interrupted rotation needs recovery first", and
    # audit listed each temp file of the running rotation as left by an interrupted write
    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    dry = run_process([*ROTATE, "--dry-run"], repo=repo, env=env(), expect=1)
    assert f"secretsmgr: error: a rotation by pid {a.pid} is writing right now" in dry.err
    audit = run_process(["audit", "--format", "json"], repo=repo, env=env(), expect=1)
    import json

    sm022 = [f for f in json.loads(audit.out)["findings"] if f["rule"] == "SM022"]
    assert len(sm022) == 1 and "is writing right now" in sm022[0]["message"], sm022
    marker.unlink()
    finish_process(a, expect=0, timeout=60)
