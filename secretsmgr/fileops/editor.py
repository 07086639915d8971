"""Run the user's editor on plaintext held in a memory-backed scratch folder.

The scratch folder lives only while the editor runs. SIGTERM, SIGHUP and SIGINT stop the
editor and remove the folder before secretsmgr exits (``EditInterrupted``, exit 130). Whatever
goes wrong with the editor is the user's to fix and is reported as such: a command line that
does not parse, a program that is missing or is a folder, an editor that fails, removes the
file or writes something other than UTF-8.
"""

from __future__ import annotations

import contextlib
import errno
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType

from secretsmgr.errors import RefusedError, UsageError
from secretsmgr.fsutil import memory_dir, scratch_file

EditorFn = Callable[[str], str]
STOP_GRACE = 3.0  # seconds an editor gets to exit after being asked to, before it is killed
_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class EditInterrupted(KeyboardInterrupt):
    """A signal stopped the edit; the scratch folder is already gone."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def editor_command(env: Mapping[str, str]) -> list[str]:
    """``$SOPS_EDITOR``, else ``$EDITOR``, else ``vi``, split as a shell would."""
    name = "SOPS_EDITOR" if env.get("SOPS_EDITOR") else "EDITOR"
    raw = env.get(name) or "vi"
    try:
        parts = shlex.split(raw)
    except ValueError as exc:
        raise UsageError(
            f"${name} is not a valid command line ({str(exc).lower()})",
            hints=(f"fix the quoting in ${name}, e.g. {name}='code --wait'",),
        ) from None
    if not parts:
        raise UsageError(f"${name} is empty", hints=(f"set {name} to an editor command",))
    return parts


@contextlib.contextmanager
def _signals_stop_edit() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP/SIGINT into ``EditInterrupted`` (once) for the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:  # a second signal must not cut the clean-up short
            raised = True
            raise EditInterrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stop(process: subprocess.Popen[bytes], signum: int) -> None:
    """Ask the editor to exit (SIGHUP stays SIGHUP, the rest become SIGTERM), then kill it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(OSError):
        process.send_signal(signal.SIGHUP if signum == signal.SIGHUP else signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            process.kill()
        process.wait()


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    program = command[0]
    try:
        return subprocess.Popen(command)
    except FileNotFoundError:
        raise UsageError(
            f"editor not found: {program}",
            hints=("set SOPS_EDITOR or EDITOR to an editor command",),
        ) from None
    except OSError as exc:
        reason = "it is a folder" if exc.errno == errno.EISDIR else exc.strerror or "error"
        if exc.errno == errno.EACCES and Path(program).is_dir():
            reason = "it is a folder"
        raise UsageError(
            f"cannot run the editor {program}: {reason.lower()}",
            hints=("set SOPS_EDITOR or EDITOR to an editor command",),
        ) from None


def _read_back(temp: Path) -> str:
    try:
        data = temp.read_bytes()
    except FileNotFoundError:
        raise RefusedError("the editor removed the file; nothing was changed") from None
    except OSError as exc:
        raise RefusedError(
            f"cannot read the edited file ({exc.strerror}); nothing was changed"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedError("the edited text is not UTF-8; nothing was changed") from None


def make_editor(env: Mapping[str, str], name: str) -> EditorFn:
    """An ``EditorFn``: write the text to a scratch file called ``name``, edit, read it back."""
    command = editor_command(env)
    folder = memory_dir(env)

    def run(text: str) -> str:
        with _signals_stop_edit(), scratch_file(folder, name, text) as temp:
            process = _start([*command, str(temp)])
            try:
                code = process.wait()
            except EditInterrupted as stop:
                _stop(process, stop.signum)
                raise
            except BaseException:
                _stop(process, signal.SIGTERM)
                raise
            if code != 0:
                status = f"status {code}" if code > 0 else f"signal {-code}"
                raise RefusedError(f"the editor exited with {status}; nothing was changed")
            return _read_back(temp)

    return run
