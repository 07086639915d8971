"""``edit`` as a real process: signals while the editor is open, a rotation while it is open."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secretsmgr.fsutil import scratch_file, sweep_scratch
from tests.cli.runner import finish_process, run, run_process, start_process
from tests.conftest import FIXTURES, TEST_KEY, run_sops
from tests.rotate.helpers import (
    DEMO,
    DEMO_KEY,
    REDIS,
    age_recipients,
    data_key,
    git_copy,
    identity_from,
    subprocess_env,
)

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
ADMIN_KEY = FIXTURES / "keys" / "demo-only-admin.agekey"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
SECRET_VALUE = "s3cr3t-Value-42"


def _wait_for(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path.name} never appeared")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _edit_with_a_sleeping_editor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Path, subprocess.Popen[bytes]]:
    """An encrypted file, and ``edit`` of it running with an editor that writes ``marker``
    (the scratch file's path and its pid) and then sleeps: (file, marker, edit process)."""
    target = tmp_path / "db.enc.yaml"
    target.write_text(f"stringData:\n    password: {SECRET_VALUE}\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    run(["--repo", str(tmp_path), "encrypt", "--age", PUB1, "-i", str(target)], capsys, expect=0)
    marker = tmp_path / "editor-started"
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text(
        "import os, sys, time\n"
        f"open({str(marker)!r}, 'w').write(f'{{sys.argv[1]}} {{os.getpid()}}\\n')\n"
        "time.sleep(120)\n"
    )
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY), EDITOR=f"{sys.executable} {sleeper}")
    return target, marker, start_process(["--repo", str(tmp_path), "edit", str(target)], env=env)


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_a_signal_while_the_editor_is_open_removes_the_plaintext(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sig: signal.Signals,
) -> None:
    target, marker, proc = _edit_with_a_sleeping_editor(tmp_path, monkeypatch, capsys)
    before = target.read_bytes()
    try:
        scratch_name, editor_pid = _wait_for(marker).split()
        scratch = Path(scratch_name)
        assert scratch.exists() and SECRET_VALUE in scratch.read_text()
        assert scratch.parent.parent == Path("/dev/shm")
        proc.send_signal(sig)
    except BaseException:
        proc.kill()
        raise
    # typer turns the interrupt into Exit(130); no traceback, no value on either stream
    finish_process(proc, expect=130, secrets=[SECRET_VALUE], timeout=60)
    assert not scratch.parent.exists()
    assert _gone(int(editor_pid))
    assert target.read_bytes() == before


def test_what_a_killed_edit_left_in_memory_is_removed_by_recover_and_the_next_edit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGKILL leaves no chance to clean up: the plaintext box stays until its process is
    gone, then ``recover`` (or the next ``edit``) removes it."""
    _, marker, proc = _edit_with_a_sleeping_editor(tmp_path, monkeypatch, capsys)
    try:
        scratch_name, editor_pid = _wait_for(marker).split()
        box = Path(scratch_name).parent
        proc.send_signal(signal.SIGSTOP)  # alive: no edit in a parallel test sweeps its box
        time.sleep(0.2)
        assert SECRET_VALUE in Path(scratch_name).read_text()
    finally:
        proc.kill()
        proc.wait(timeout=60)
    os.kill(int(editor_pid), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not _gone(int(editor_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    # SIGKILL left the plaintext: nothing sweeps a folder left for less than a minute, so no
    # parallel test takes this one; a sweep that does not wait takes it (its process is gone)
    assert SECRET_VALUE in Path(scratch_name).read_text()
    assert box.name in sweep_scratch(Path("/dev/shm"), min_age=0)
    assert not box.exists()
    # recover sweeps the memory folder (a private one here, so no other run can interfere)
    private = tmp_path / "shm"
    (private / box.name).mkdir(parents=True)
    (private / box.name / "db.enc.yaml").write_text("plaintext\n")
    os.utime(private / box.name, (time.time() - 120, time.time() - 120))
    monkeypatch.setattr("secretsmgr.fsutil.memory_dir", lambda env: private)
    code, out, err = run(["--repo", str(tmp_path), "recover"], capsys)
    assert (code, err) == (0, "")
    assert f"removed 1 scratch folder a killed edit left in {private} (plaintext)" in out
    assert not (private / box.name).exists()
    # the next edit sweeps a dead edit's folder left for a minute, never a live one
    old = Path("/dev/shm") / box.name
    old.mkdir()
    os.utime(old, (time.time() - 120, time.time() - 120))
    with scratch_file(Path("/dev/shm"), "x.yaml", "y: z\n") as mine:
        assert not old.exists() and mine.exists()
        assert mine.parent.name not in sweep_scratch(Path("/dev/shm"), min_age=0)
        assert mine.exists()


EDITOR_SCRIPT = """
import pathlib, sys, time
path = pathlib.Path(sys.argv[1])
state = pathlib.Path({state!r})
run = int(state.read_text()) if state.exists() else 0
state.write_text(str(run + 1))
text = path.read_text()
if run == 0:
    # the user changes the password and adds a key; meanwhile (the test) a rotation lands
    path.write_text(text.replace("redis-password: ", "redis-password: edited-").rstrip("\\n")
                    + "\\n    redis-user: default\\n")
    editing = pathlib.Path({editing!r})
    editing.write_text("open\\n")
    deadline = time.monotonic() + 120
    while editing.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
else:
    pathlib.Path({second!r}).write_text(text)  # the re-opened buffer, saved as it is
"""


def test_an_edit_left_open_cannot_undo_a_rotation(tmp_path: Path) -> None:
    """A rotate that removes a recipient lands while the editor is open: the save keeps the
    rotation (new data key, recipient gone) and carries the user's change onto it."""
    repo = git_copy(DEMO, tmp_path / "repo")
    target = repo / REDIS
    identity = identity_from(DEMO_KEY)
    old_key = data_key(target, identity)
    paths = {name: str(tmp_path / name) for name in ("state", "editing", "after", "second")}
    script = tmp_path / "editor.py"
    script.write_text(
        EDITOR_SCRIPT.format(state=paths["state"], editing=paths["editing"], second=paths["second"])
    )
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(DEMO_KEY), EDITOR=f"{sys.executable} {script}")
    edit = start_process(["--repo", str(repo), "edit", str(target)], env=env)
    try:
        _wait_for(Path(paths["editing"]), timeout=120)
        rotate = ["rotate", "--remove-recipient", ADMIN, "--reason", "offboarding", str(target)]
        run_process(["--repo", str(repo), *rotate], env=env, expect=0)
        shutil.copy(target, paths["after"])
    finally:
        Path(paths["editing"]).unlink(missing_ok=True)  # the user saves and closes the editor
    finish_process(edit, expect=0, warnings=["changed while the editor was open"], timeout=300)
    assert Path(paths["state"]).read_text() == "2"  # the editor was re-opened once
    second = Path(paths["second"]).read_text()
    assert "redis-password: edited-F7EX6qq1JSrd4pkAW9XMllocJ0rIhOMU" in second
    assert "redis-user: default" in second
    # The rotation stands: its data key and recipients, the removed admin locked out.
    rotated = Path(paths["after"])
    assert data_key(target, identity) == data_key(rotated, identity) != old_key
    assert age_recipients(target) == age_recipients(rotated)
    assert ADMIN not in age_recipients(target)
    assert run_sops(["decrypt", str(target)], key_file=ADMIN_KEY).returncode != 0
    plain = run_sops(["decrypt", str(target)], key_file=DEMO_KEY)
    assert plain.returncode == 0
    assert "redis-password: edited-F7EX6qq1JSrd4pkAW9XMllocJ0rIhOMU" in plain.stdout
    assert "redis-user: default" in plain.stdout
    # Both writes are in the changelog, in order, and the chain verifies.
    entries = [
        json.loads(line) for line in (repo / "secrets-changelog.jsonl").read_text().splitlines()
    ]
    assert [e["action"] for e in entries[-2:]] == ["rotate", "edit"]
    assert entries[-1]["files"][0]["key_paths"] == [
        "stringData.redis-password",
        "stringData.redis-user",
    ]
    run_process(["--repo", str(repo), "log", "--verify"], env=env, expect=0)


def test_an_edit_refuses_when_the_file_is_removed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "db.enc.yaml"
    target.write_text(f"stringData:\n    password: {SECRET_VALUE}\n    user: u\n")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(TEST_KEY))
    run(["--repo", str(tmp_path), "encrypt", "--age", PUB1, "-i", str(target)], capsys, expect=0)
    script = tmp_path / "editor.py"
    script.write_text(
        "import os, sys\n"
        "text = open(sys.argv[1]).read().replace('user: u', 'user: v')\n"
        "open(sys.argv[1], 'w').write(text)\n"
        f"os.unlink({str(target)!r})\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    err = run(["--repo", str(tmp_path), "edit", str(target)], capsys, expect=1).err
    assert "was removed while the editor was open; your changes were not saved" in err
    assert f"secretsmgr edit {target} again and redo your changes to: stringData.user" in err
    assert SECRET_VALUE not in err and not target.exists()


def test_a_scratch_folder_whose_pid_was_reused_is_swept(tmp_path: Path) -> None:
    """The folder names its process by pid and start time: the same pid with another start
    time is a later process, so the folder's own is gone."""
    from secretsmgr.fsutil import _BOX, _pid_space, process_start

    me = os.getpid()
    start = process_start(me)
    assert start is not None
    reused = tmp_path / f"{_BOX}{_pid_space()}-{me}.{int(start) + 1}-x"
    live = tmp_path / f"{_BOX}{_pid_space()}-{me}.{start}-y"
    for box in (reused, live):
        box.mkdir()
        os.utime(box, (time.time() - 120, time.time() - 120))
    assert sweep_scratch(tmp_path) == [reused.name]
    assert live.exists()
