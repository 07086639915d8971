"""``--output`` of the reports never replaces a special file (as root, /dev/null included)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from secretsmgr.errors import InputFileError
from secretsmgr.fsutil import write_atomic

from .runner import run

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"


def _drain(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(fifo, "rb") as handle:
            into.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("command", [["audit"], ["check"], ["layers"]])
def test_a_report_is_written_into_a_fifo_which_stays_a_fifo(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _drain(fifo, got)
    args = ["--repo", str(DEMO), *command, "--format", "json", "--output", str(fifo)]
    assert run(args, capsys) == (0, "", "")  # nothing on stderr either
    reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and got[0].startswith(b"{")


def test_write_atomic_refuses_to_replace_a_special_file(tmp_path: Path) -> None:
    fifo = tmp_path / "x.fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="not a regular file"):
        write_atomic(fifo, "text")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert list(tmp_path.iterdir()) == [fifo]  # no temp file left behind


def test_write_atomic_says_the_file_was_written_when_only_its_folder_sync_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the attack review of stop 52: EIO from the folder's fsync after the rename was
    # "cannot write", while the file held the new content
    import errno

    import secretsmgr.fsutil as fsutil

    def failing(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    target = tmp_path / "x.yaml"
    target.write_text("old\n")
    monkeypatch.setattr(fsutil, "fsync_dirs", failing)
    with pytest.raises(InputFileError) as info:
        write_atomic(target, "new\n")
    assert "written, but its folder could not be synced to disk" in info.value.message
    assert target.read_text() == "new\n" and list(tmp_path.iterdir()) == [target]
