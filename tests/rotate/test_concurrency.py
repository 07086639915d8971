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
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import parse_entries, verify
from secretsmgr.repo.lock import DEFAULT_WAIT
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
    run_secretsmgr,
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


def start(repo: Path, args: list[str], environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "secretsmgr", "--repo", str(repo), *args],
        cwd=repo,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)


def paused_rotation(repo: Path, tmp_path: Path, reason: str) -> tuple[subprocess.Popen[str], Path]:
    """Run A, paused after replacing its first file (lock held, journal on disk)."""
    marker = tmp_path / "paused"
    proc = start(
        repo,
        [*ROTATE, "--reason", reason],
        env(SECRETSMGR_FAULT_INJECT=f"replace:1:pause={marker}"),
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
    b = run_secretsmgr(repo, [*ROTATE, "--reason", "run B"], env())
    waited = time.monotonic() - started
    assert b.returncode == 1
    found = BUSY.match(b.stderr)
    assert found is not None, b.stderr
    assert int(found.group(1)) == a.pid
    assert waited >= DEFAULT_WAIT - 0.5
    assert journal_path(repo).exists()  # B never took A's live journal for an interrupted run
    marker.unlink()
    _out, err = a.communicate(timeout=60)
    assert a.returncode == 0, err
    entries = parse_entries((repo / CHANGELOG).read_bytes())
    assert entries[-1].reason == "run A"
    assert {f.path: f.datakey_id for f in entries[-1].files} == datakey_ids(repo)
    assert litter(repo) == []


def test_a_rotation_started_during_another_runs_after_it(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    b = start(repo, [*ROTATE, "--reason", "run B"], env())
    time.sleep(1.0)  # B is waiting for the lock now
    assert b.poll() is None
    assert journal_path(repo).exists()
    marker.unlink()
    _out, err_a = a.communicate(timeout=60)
    _out_b, err_b = b.communicate(timeout=60)
    assert (a.returncode, b.returncode) == (0, 0), (err_a, err_b)
    assert err_b == ""  # B found nothing to recover: A's run was not interrupted
    data = (repo / CHANGELOG).read_bytes()
    assert verify(data) is None
    entries = parse_entries(data)
    assert [e.reason for e in entries[-2:]] == ["run A", "run B"]
    assert {f.path: f.datakey_id for f in entries[-1].files} == datakey_ids(repo)
    for f in entries[-1].files:  # what B logged is what is on disk
        assert f.sha256_after == hashlib.sha256((repo / f.path).read_bytes()).hexdigest()
    assert run_secretsmgr(repo, ["log", "--verify"], env()).returncode == 0


def test_a_key_rotation_waits_for_a_rotation(tmp_path: Path) -> None:
    repo = git_copy(DEMO, tmp_path / "repo")
    a, marker = paused_rotation(repo, tmp_path, "run A")
    begin = start(repo, ["key", "rotate", "--begin", "-o", str(tmp_path / "new.agekey")], env())
    time.sleep(1.0)
    assert begin.poll() is None  # waiting: it reads nothing while A writes
    marker.unlink()
    assert a.wait(timeout=60) == 0
    _out, err = begin.communicate(timeout=120)
    assert begin.returncode == 1  # A's rotation left the files dirty: begin refuses them
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

    def run(args: list[str]) -> tuple[list[str], subprocess.CompletedProcess[str]]:
        stdin = f"value-{args[-1]}-{salt}" if args[0] == "set" else None
        done = subprocess.run(
            [sys.executable, "-m", "secretsmgr", "--repo", str(repo), *args],
            cwd=repo,
            env=env(),
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        return args, done

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(run, jobs))

    ok = []
    for args, done in results:
        assert "Traceback" not in done.stderr
        if done.returncode == 0:
            ok.append(args)
            continue
        # the only acceptable failure: waited for the lock too long, nothing changed
        assert done.returncode == 1 and BUSY.search(done.stderr), (args, done.stderr)
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
    verified = run_secretsmgr(repo, ["log", "--verify"], env())
    assert verified.returncode == 0, verified.stderr
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
    assert a.wait(timeout=60) == 0


def test_a_busy_repository_is_never_blamed_on_the_file(tmp_path: Path) -> None:
    # `encrypt -i FILE` that waits out the lock: the error is about the repository, as for
    # every other writer, not "FILE: another secretsmgr ...".
    from secretsmgr.cli.files import about_file
    from secretsmgr.errors import BusyError

    with pytest.raises(BusyError) as info, about_file(tmp_path / "a.enc.yaml", None):
        raise BusyError("another secretsmgr is writing in this repository (pid 1)")
    assert info.value.message.startswith("another secretsmgr")
