"""What every command gets: the global options, identities, and the ways to write output.

``out`` writes results (stdout); ``warn`` is the one way a command warns (stderr);
``note`` talks to a person at a terminal and says nothing otherwise.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from secretsmgr.shellword import bytes_shown, one_line

if TYPE_CHECKING:
    from secretsmgr.keys.protocols import Identity
    from secretsmgr.keys.sources import LayeredIdentity
    from secretsmgr.rotate.faults import FaultHook, ProgressHook


@dataclass(slots=True)
class Globals:
    """Global options shared by every command."""

    repo: Path | None = None
    debug: bool = False


def globals_of(ctx: typer.Context) -> Globals:
    """The ``Globals`` stored by the app callback."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


def repo_root(ctx: typer.Context) -> Path:
    """The repository root per the contract (``--repo``, else git top-level, else cwd)."""
    from secretsmgr.repo.root import resolve_repo_root

    return resolve_repo_root(globals_of(ctx).repo, Path.cwd())


def run_from(root: Path) -> str | None:
    """``root`` when the command runs elsewhere (fixes are written from the root), else None."""
    try:
        here = Path.cwd().resolve()
    except OSError:  # the folder was removed under the shell
        return str(root)
    return None if here == root.resolve() else str(root)


def load_identities() -> LayeredIdentity:
    """Every identity from the contract's sources; ``KeyNotFoundError`` when there is none.

    The OS keyring is opened only when the other sources cannot open a file (or hold nothing).
    """
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.oskeyring import keyring_source
    from secretsmgr.keys.sources import default_keys_file, layered_identities

    identities = layered_identities(os.environ, keyring_source())
    if not identities.early_publics() and not identities.publics:
        raise KeyNotFoundError(
            "no age identity found",
            hints=(
                "set SOPS_AGE_KEY_FILE to your key file, or SOPS_AGE_KEY to the key itself",
                "or store it in the OS keyring: secretsmgr key import FILE",
                f"or put the key in {default_keys_file(os.environ)}",
            ),
        )
    return identities


def identities_at_hand() -> list[Identity]:
    """The identities of the contract's sources, or none when there is none: for commands that
    only profit from a key (``init``, ``log --adopt`` record ``datakey_id`` where one opens a
    file). The keyring is still opened only when the other sources cannot open a file."""
    from secretsmgr.errors import UserError

    try:
        return [load_identities()]
    except UserError:
        return []


def out(text: str, *, exact: bool = False) -> None:
    """Write a result to stdout; a name's bytes that are no UTF-8 as ``\\xNN``. ``exact``: a
    file's content (``decrypt``), its bytes as they are."""
    if not exact:
        text = bytes_shown(text)
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:  # surrogate-escaped bytes: not text, written as bytes
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()


def warn(message: str) -> None:
    """``secretsmgr: warning: <message>`` on stderr: the one way a command warns."""
    sys.stderr.write(f"secretsmgr: warning: {one_line(message)}\n")
    sys.stderr.flush()


def note(message: str) -> None:
    """``secretsmgr: <message>`` on stderr, only when stderr is a terminal (a person reads it)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"secretsmgr: {message}\n")
        sys.stderr.flush()


def wants_color(fmt: str, output: Path | None) -> bool:
    """ANSI colour only for text on a terminal, and never with ``NO_COLOR`` set."""
    return (
        fmt == "text" and output is None and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
    )


def emit(text: str, output: Path | None) -> None:
    """Write a rendered report to stdout, or to ``output``: into a FIFO, a device or
    ``/dev/stdout`` as it is, any other path atomically."""
    if output is None:
        out(text)
        return
    text = bytes_shown(text)
    from secretsmgr.fileops.target import is_special_output, write_special
    from secretsmgr.fsutil import write_atomic

    if is_special_output(output):
        write_special(output, text)
    else:
        write_atomic(output, text)


def fault_hook() -> FaultHook | None:
    """Test-only fault injection (``SECRETSMGR_FAULT_INJECT``; see ``rotate/faults.py``)."""
    from secretsmgr.rotate.faults import fault_hook as from_env

    return from_env(os.environ)


def recover_interrupted(root: Path) -> None:
    """Finish or roll back a rotation a crash interrupted, and say so at once (a warning, so
    the message is not lost if this run then fails)."""
    from secretsmgr.rotate.journal import recover

    done = recover(root)
    for said in (done.message, done.appended):
        if said:
            warn(said)


def progress_bar(label: str) -> ProgressHook | None:
    """A ``label [####      ] 3/10`` bar on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        return None
    width = 30

    def show(done: int, total: int) -> None:
        filled = width * done // total
        sys.stderr.write(f"\r{label} [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\r" + " " * (width + len(label) + 24) + "\r")
        sys.stderr.flush()

    return show
