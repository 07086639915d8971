"""The one way tests run the CLI: in-process through ``main([...])``, or as a real process.

Whatever a run does, its stderr never holds a ``Traceback``; a run that exits 0 writes nothing
to stderr (the contract), unless the test says which warnings it expects. Use ``run`` for
speed and ``run_process`` where the test needs a fresh interpreter (start-up, signals,
environment read at import time, a real terminal or none).
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

from secretsmgr.cli.app import main

ERROR = "secretsmgr: error: "
HINT = "secretsmgr: hint: "
WARNING = "secretsmgr: warning: "


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
    secrets: Sequence[str],
    debug: bool = False,
) -> None:
    """The checks every run gets (see the module docstring)."""
    assert "Traceback" not in err, err
    if expect is not None:
        assert code == expect, (code, out, err)
    for secret in secrets:
        assert secret not in out + err, "a secret reached the output"
    if code == 0 and not debug:
        lines = err.splitlines()
        assert all(line.startswith(WARNING) for line in lines), err
        for needle in warnings:
            assert any(needle in line for line in lines), (needle, err)
        if not warnings:
            assert err == "", err


def run(
    args: Sequence[str],
    capsys: pytest.CaptureFixture[str],
    *,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    secrets: Sequence[str] = (),
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
        secrets=secrets,
        debug="--debug" in args,
    )
    return Result(code, captured.out, captured.err)


def run_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    expect: int | None = None,
    warnings: Sequence[str] = (),
    secrets: Sequence[str] = (),
    stdin: str | None = None,
    timeout: float = 120,
) -> Result:
    """Run ``python -m secretsmgr ARGS`` as a process with exactly ``env``."""
    proc = subprocess.run(
        [sys.executable, "-m", "secretsmgr", *args],
        env=dict(env),
        cwd=cwd,
        input=stdin,
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
        debug="--debug" in args,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


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
