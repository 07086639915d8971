"""Devices and FIFOs where a command expects a file: a bounded read, a clear error, no hang.

The attack review of stop 50: ``decrypt /dev/zero`` (or a committed link to it) read without
end until the kernel killed the process, after it had taken the machine's memory; ``set``,
``edit``, ``rotate FILE`` and ``decrypt`` on a FIFO in place of a SOPS file waited for a
writer until killed. Each runs as a process here, under a memory cap and a timeout, so the
code before the fix fails these tests instead of taking the test run down.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli.runner import Result, run_process
from tests.conftest import GIT_ENV, TEST_KEY, git, run_sops

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: pw-1\n"


# 1 GiB of address space: the unbounded read dies at once, not the machine
CAP = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))"


def _run(
    args: list[str], cwd: Path, home: Path, stdin: str = "", key_file: str = str(TEST_KEY)
) -> Result:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "SOPS_AGE_KEY_FILE": key_file,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "EDITOR": "true",
        **GIT_ENV,
    }
    return run_process(args, env=env, cwd=cwd, stdin=stdin, preamble=CAP, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {PUB1}\n"
    )
    (root / "apps" / "db.enc.yaml").write_text(SECRET)
    git(root, "init", "-q", "-b", "main")
    done = _run(["encrypt", "-i", "apps/db.enc.yaml"], root, tmp_path)
    assert done.code == 0, done.err
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one secret")
    return root


def _one_error(done: Result) -> str:
    assert "Traceback" not in done.err and "internal error" not in done.err, done.err
    first = done.err.splitlines()[0]
    assert first.startswith("secretsmgr: error: "), done.err
    return first


@pytest.mark.parametrize(
    "args",
    [
        ["decrypt", "/dev/zero"],
        ["encrypt", "/dev/zero"],
        ["set", "--value-file", "/dev/zero", "apps/db.enc.yaml", "stringData.password"],
        ["decrypt", "apps/zero.enc.yaml"],  # a link to it, committed or not
    ],
    ids=["decrypt", "encrypt", "set-value-file", "decrypt-link"],
)
def test_an_endless_device_is_read_only_up_to_the_size_limit(
    repo: Path, tmp_path: Path, args: list[str]
) -> None:
    (repo / "apps" / "zero.enc.yaml").symlink_to("/dev/zero")
    before = (repo / "apps" / "db.enc.yaml").read_bytes()
    done = _run(["--max-file-size", "1M", *args], repo, tmp_path)
    assert done.code == 1, done.err
    assert "over the 1 MiB file-size limit (--max-file-size)" in _one_error(done)
    assert (repo / "apps" / "db.enc.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["set", "apps/db.enc.yaml", "stringData.password"], 2, "not a regular file"),
        (["edit", "apps/db.enc.yaml"], 2, "not a regular file"),
        (["decrypt", "-i", "apps/db.enc.yaml"], 2, "not a regular file"),
        (["rotate", "apps/db.enc.yaml", "--allow-dirty"], 2, "not a SOPS file"),
    ],
    ids=["set", "edit", "decrypt-in-place", "rotate-file"],
)
def test_a_fifo_in_place_of_a_sops_file_is_refused_without_waiting(
    repo: Path, tmp_path: Path, args: list[str], code: int, said: str
) -> None:
    fifo = repo / "apps" / "db.enc.yaml"
    fifo.unlink()
    os.mkfifo(fifo)
    done = _run(args, repo, tmp_path, stdin="new-value")
    assert done.code == code, done.err
    assert said in _one_error(done)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # left as it was


def test_a_name_with_a_line_break_keeps_each_message_and_command_on_one_line(
    repo: Path, tmp_path: Path
) -> None:
    """The attack review of stop 50: an error about `new<newline>line.enc.yaml` printed as two
    lines, and its hint's command broke in two at the newline."""
    import shlex

    from secretsmgr.shellword import sh_path

    odd = "apps/new\nline.enc.yaml"
    (repo / odd).write_text(SECRET)
    (repo / ".sops.yaml").write_text("creation_rules:\n  - path_regex: db\\.enc\\.yaml$\n")
    done = _run(["encrypt", "-i", odd], repo, tmp_path)
    assert done.code == 2, done.err
    assert all(line.startswith("secretsmgr: ") for line in done.err.splitlines()), done.err
    assert "apps/new\\nline.enc.yaml" in _one_error(done)
    # a printed command names the file in bash's $'…' form: one line, the same name
    word = sh_path(odd)
    assert word == "$'apps/new\\nline.enc.yaml'" and "\n" not in word
    assert shlex.quote(odd) != word  # what it was before: a quoted newline
    bash = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, text=True)
    assert bash.stdout == odd
    # an escape sequence in a name reaches the terminal shown, not sent (the review)
    sly = "apps/x\x1b[2K\rLOOKS-FINE.enc.yaml"
    (repo / sly).write_text(SECRET)
    done = _run(["encrypt", "-i", sly], repo, tmp_path)
    assert "\x1b" not in done.err and "\r" not in done.err, repr(done.err)
    assert "apps/x\\x1b[2K\\rLOOKS-FINE.enc.yaml" in _one_error(done)
    # C1 controls too (U+009B is a CSI on some terminals), and a pasted $'…' gives them back
    from secretsmgr.shellword import one_line, sh_word

    assert one_line("a\x9bb\x85c") == "a\\u009bb\\u0085c"
    word = sh_word("a\x9bb")
    bash = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, text=True)
    assert bash.stdout == "a\x9bb", word


@pytest.mark.parametrize("command", ["encrypt", "decrypt", "set"])
def test_a_fifo_named_as_input_waits_for_its_writer(
    repo: Path, tmp_path: Path, command: str
) -> None:
    """The review of the change above: a FIFO opened without waiting read as empty when its
    writer came a moment later; encrypt wrote an empty Secret and exited 0, set and decrypt
    blamed the content. Read as `cat` reads it, it gives what the writer sends."""
    import threading
    import time

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    sent = {
        "encrypt": SECRET,
        "decrypt": (repo / "apps" / "db.enc.yaml").read_text(),
        "set": "n3w-value",
    }[command]

    def writer() -> None:
        # well after secretsmgr has opened it; never waiting for a reader that went away
        time.sleep(1.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader (yet, or any more)
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
                continue
            os.set_blocking(fd, True)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(sent)
            return

    thread = threading.Thread(target=writer)
    thread.start()
    args = {
        "encrypt": ["encrypt", "--age", PUB1, "--filename-override", "x.enc.yaml", str(fifo)],
        "decrypt": ["decrypt", str(fifo)],
        "set": ["set", "--value-file", str(fifo), "apps/db.enc.yaml", "stringData.password"],
    }[command]
    done = _run(args, repo, tmp_path)
    thread.join()
    assert done.code == 0, done.err
    if command == "encrypt":
        assert "password: ENC[AES256_GCM,data:" in done.out and "pw-1" not in done.out
    elif command == "decrypt":
        assert "password: pw-1" in done.out and "name: db" in done.out, done.out
    else:
        shown = _run(
            ["decrypt", "--extract", '["stringData"]["password"]', "apps/db.enc.yaml"],
            repo,
            tmp_path,
        )
        assert shown.out == "n3w-value", shown


def test_an_endless_identity_file_is_refused_not_read_to_the_end(
    repo: Path, tmp_path: Path
) -> None:
    """The review of stop 50: SOPS_AGE_KEY_FILE=/dev/zero read until the memory ran out (an
    internal error under a memory cap)."""
    done = _run(["decrypt", "apps/db.enc.yaml"], repo, tmp_path, key_file="/dev/zero")
    assert done.code == 2, done.err
    assert "over 1 MiB, which no identity file is" in _one_error(done)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_sops_yaml_that_is_no_file_is_named_for_what_it_is(tmp_path: Path, kind: str) -> None:
    # the attack review of stop 50, left then: a folder or a FIFO named .sops.yaml read as no
    # .sops.yaml at all ("no .sops.yaml found"); sops finds it and cannot read it, and says so
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "s.enc.yaml").write_text(SECRET)
    config = root / ".sops.yaml"
    if kind == "folder":
        config.mkdir()
    else:
        os.mkfifo(config)
    done = _run(["encrypt", "-i", "s.enc.yaml"], root, tmp_path)
    first = _one_error(done)
    assert done.code == 2 and "cannot read" in first and ".sops.yaml" in first, done.err
    assert ("it is a folder" if kind == "folder" else "not a regular file") in first
    assert (root / "s.enc.yaml").read_text() == SECRET
    if kind == "folder":  # (sops waits on the FIFO for a writer, until killed)
        sops = run_sops(["encrypt", "s.enc.yaml"], cwd=root)
        assert sops.returncode != 0 and ".sops.yaml" in sops.stderr  # sops refuses it too
