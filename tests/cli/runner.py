"""The one way tests run the CLI: in-process through ``main([...])``, or as a real process.

Whatever a run does, its stderr never holds a ``Traceback``; a run that exits 0 writes nothing
to stderr (the contract), unless the test says which warnings (or relayed messages) it expects.
Use ``run`` for speed and the process forms where the test needs a fresh interpreter (start-up,
signals, kill -9, fault hooks read from the environment, concurrency, a keyring backend chosen
once per process, a real terminal or none):

- ``run_process``: start, wait, check;
- ``start_process`` + ``finish_process``: the same in two halves, for a test that acts while the
  process runs (signals, a second writer, a pause marker);
- ``run_terminal``: on a pseudo-terminal (pexpect), answering a prompt as a person would.

``tests/cli/test_one_runner.py`` keeps every other test module from running the CLI itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, NamedTuple

import pytest

from secretsmgr.cli.app import main

ERROR = "secretsmgr: error: "
HINT = "secretsmgr: hint: "
WARNING = "secretsmgr: warning: "

Secret = str | re.Pattern[str]


class Result(NamedTuple):
    """What one CLI run gave: exit code, stdout, stderr (unpacks as a 3-tuple)."""

    code: int
    out: str
    err: str


def check_streams(
    code: int,
    out: str,
    err: str,
    *,
    expect: int | None,
    warnings: Sequence[str],
    secrets: Sequence[Secret],
    notes: Sequence[str] = (),
    may_warn: Sequence[str] = (),
    debug: bool = False,
) -> None:
    """The checks every run gets (see the module docstring).

    On a success stderr holds only ``secretsmgr: warning:`` lines, each needle of ``warnings``
    in one of them, and the exact lines of ``notes`` (messages relayed from elsewhere, such as
    an age plugin's); with neither it is empty. ``may_warn``: needles of warnings a success may
    print or not (a race decides); no other warning is allowed then. ``secrets`` (strings or
    patterns) appear in neither stream, whatever the exit code.
    """
    assert "Traceback" not in err, err
    if expect is not None:
        assert code == expect, (code, out, err)
    for secret in secrets:
        if isinstance(secret, re.Pattern):
            assert secret.search(out + err) is None, "a secret reached the output"
        else:
            assert secret not in out + err, "a secret reached the output"
    if code == 0 and not debug:
        lines = err.splitlines()
        assert all(line.startswith(WARNING) or line in notes for line in lines), err
        for needle in warnings:
            assert any(needle in line for line in lines if line.startswith(WARNING)), (needle, err)
        for note in notes:
            assert note in lines, (note, err)
        if not warnings:
            for line in lines:
                assert line in notes or any(n in line for n in may_warn), (line, err)


def run(
    args: Sequence[str],
    capsys: pytest.CaptureFixture[str],
    *,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
    may_warn: Sequence[str] = (),
    secrets: Sequence[Secret] = (),
    stdin: bytes | str | None = None,
) -> Result:
    """Run ``secretsmgr ARGS`` in this process; ``warnings`` are expected on a success.

    ``stdin`` (when given) is what the command reads from a stdin that is not a terminal.
    With ``--debug`` in ``args`` stderr may hold what a developer asked for (library
    warnings); it still never holds a traceback of a user error.
    """
    capsys.readouterr()  # whatever the test printed before is not this run's output
    saved = sys.stdin
    if stdin is not None:
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        code = main(list(args))
    finally:
        sys.stdin = saved
    captured = capsys.readouterr()
    check_streams(
        code,
        captured.out,
        captured.err,
        expect=expect,
        warnings=warnings,
        notes=notes,
        may_warn=may_warn,
        secrets=secrets,
        debug="--debug" in args,
    )
    return Result(code, captured.out, captured.err)


def _argv(args: Sequence[str], repo: Path | None, preamble: str | None) -> list[str]:
    """``python -m secretsmgr [--repo REPO] ARGS``, or with ``preamble`` run first in place of
    ``-m``: a test's own fault hook (code that patches a function, then the CLI runs as usual)."""
    full = [*(["--repo", str(repo)] if repo is not None else []), *args]
    if preamble is None:
        return [sys.executable, "-m", "secretsmgr", *full]
    script = f"{preamble}\nfrom secretsmgr.cli.app import run as _run\n_run()\n"
    return [sys.executable, "-c", script, *full]


def run_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    repo: Path | None = None,
    cwd: Path | None = None,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
    may_warn: Sequence[str] = (),
    secrets: Sequence[Secret] = (),
    stdin: str | None = None,
    stdout: IO[bytes] | None = None,
    no_terminal: bool = False,
    preamble: str | None = None,
    timeout: float = 120,
) -> Result:
    """Run ``python -m secretsmgr ARGS`` as a process with exactly ``env``.

    ``repo``: ``--repo REPO`` goes first and the process runs in REPO (unless ``cwd`` is given).
    ``stdout``: a file the process writes its stdout to instead of a pipe (``out`` is then
    empty). ``no_terminal``: a new session (no controlling terminal) and stdin from /dev/null
    unless ``stdin`` is given, as a script or CI job runs it.
    """
    proc = subprocess.run(
        _argv(args, repo, preamble),
        env=dict(env),
        cwd=cwd if cwd is not None else repo,
        input=stdin,
        stdin=subprocess.DEVNULL if no_terminal and stdin is None else None,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        start_new_session=no_terminal,
        text=True,
        check=False,
        timeout=timeout,
    )
    out = proc.stdout if stdout is None else ""
    checks = {"warnings": warnings, "notes": notes, "may_warn": may_warn, "secrets": secrets}
    return _checked(proc.returncode, out, proc.stderr, args, expect, checks)


def _checked(
    code: int,
    out: str,
    err: str,
    args: Sequence[str],
    expect: int | None,
    checks: Mapping[str, Sequence[str] | Sequence[Secret]],
) -> Result:
    """``check_streams`` on one run's streams (``checks``: its warnings, notes, may_warn and
    secrets), then the run as a ``Result``."""
    check_streams(code, out, err, expect=expect, debug="--debug" in args, **checks)  # type: ignore[arg-type]
    return Result(code, out, err)


def run_inline(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    repo: Path | None = None,
    cwd: Path | None = None,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
    may_warn: Sequence[str] = (),
    secrets: Sequence[Secret] = (),
    stdin: str | None = None,
) -> Result:
    """``run_process`` without a new interpreter: the same arguments, exactly ``env`` as the
    environment and the same working directory, for the length of one ``main`` call in this
    process (about half a second less a run). For runs that need nothing a process gives:
    no signals, no kill, no fault hook, no keyring backend, no terminal."""
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd if cwd is not None else repo if repo is not None else saved_cwd)
        sys.stdin = io.StringIO(stdin if stdin is not None else "")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(_argv(args, repo, None)[3:])
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.stdin = saved_stdin
    checks = {"warnings": warnings, "notes": notes, "may_warn": may_warn, "secrets": secrets}
    return _checked(code, out.getvalue(), err.getvalue(), args, expect, checks)


def start_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    repo: Path | None = None,
    cwd: Path | None = None,
    stdin: bool = False,
    preamble: str | None = None,
) -> subprocess.Popen[str]:
    """Start ``python -m secretsmgr ARGS`` and return at once; end it with ``finish_process``.

    stdout and stderr are pipes; ``stdin``: a pipe too (its text goes to ``finish_process``).
    ``repo`` and ``preamble`` as for ``run_process``.
    """
    return subprocess.Popen(
        _argv(args, repo, preamble),
        env=dict(env),
        cwd=cwd if cwd is not None else repo,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_process(
    proc: subprocess.Popen[str],
    *,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
    may_warn: Sequence[str] = (),
    secrets: Sequence[Secret] = (),
    stdin: str | None = None,
    timeout: float = 120,
) -> Result:
    """Wait for a process ``start_process`` started (feeding it ``stdin``), then check it."""
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    args = [str(a) for a in proc.args] if isinstance(proc.args, list) else []
    check_streams(
        proc.returncode,
        out,
        err,
        expect=expect,
        warnings=warnings,
        notes=notes,
        may_warn=may_warn,
        secrets=secrets,
        debug="--debug" in args,
    )
    return Result(proc.returncode, out, err)


def run_shell(
    command: str,
    *,
    env: Mapping[str, str],
    cwd: Path,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    secrets: Sequence[Secret] = (),
    timeout: float = 120,
) -> Result:
    """Run a command line as a user pastes it into a shell (a hint's fix, such as
    ``mv a.yaml a.enc.yaml && secretsmgr encrypt -i a.enc.yaml``): ``bash -c COMMAND`` with
    this interpreter's ``secretsmgr`` console script first on PATH. The checks cover the
    whole command's output."""
    full = dict(env)
    full["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '/usr/bin:/bin')}"
    proc = subprocess.run(
        ["bash", "-c", command],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    check_streams(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        expect=expect,
        warnings=warnings,
        secrets=secrets,
        debug="--debug" in command.split(),
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_terminal(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    answer: tuple[str, str] | None = None,
    expect: int | None = None,
    secrets: Sequence[Secret] = (),
    timeout: float = 120,
) -> Result:
    """Run ``python -m secretsmgr ARGS`` on a pseudo-terminal; ``answer`` = (prompt regex, line
    typed at it). ``out`` is all the terminal showed (stdout and stderr are one stream there,
    with ``\\n`` line ends), ``err`` is empty: the checks look for a traceback and secrets in it.
    """
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "secretsmgr", *args],
        env=dict(env),
        cwd=str(cwd),
        encoding="utf-8",
        timeout=timeout,
    )
    try:
        if answer is not None:
            child.expect(answer[0])
            child.sendline(answer[1])
        child.expect(pexpect.EOF)
    finally:
        child.close()
    text = str(child.before or "").replace("\r\n", "\n")
    code = child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 1)
    assert "Traceback" not in text, text
    check_streams(code, text, "", expect=expect, warnings=(), secrets=secrets)
    return Result(code, text, "")


def assert_user_error(err: str, *needles: str) -> None:
    """Exactly one ``secretsmgr: error:`` line first, then only hints; the first names needles."""
    lines = err.strip().splitlines()
    assert lines and lines[0].startswith(ERROR), err
    assert all(line.startswith(HINT) for line in lines[1:]), err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def hints_of(err: str) -> list[str]:
    """The hint lines of ``err``, without their prefix."""
    return [line[len(HINT) :] for line in err.splitlines() if line.startswith(HINT)]
