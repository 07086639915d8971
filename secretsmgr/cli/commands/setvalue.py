"""``set`` and ``unset``: change one value of an encrypted file from a script."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from secretsmgr.cli.context import repo_root
from secretsmgr.cli.files import about_file, changelog_recorder, identities_for
from secretsmgr.errors import InputFileError
from secretsmgr.shellword import sh_path

FileArg = Annotated[Path, typer.Argument(help="The encrypted file.", show_default=False)]
KeyPathArg = Annotated[
    str,
    typer.Argument(
        help='Dotted (data.password) or sops\'s ["data"]["password"].',
        metavar="KEY_PATH",
        show_default=False,
    ),
]


def _value_bytes(value_file: Path | None) -> bytes:
    """The value's bytes: from --value-file, from a terminal without echo, else from stdin."""
    from secretsmgr.fileops.files import read_value_file

    if value_file is not None:
        return read_value_file(value_file)
    if sys.stdin is None:
        return b""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("value (not echoed): ").encode("utf-8")
    return sys.stdin.buffer.read()


def _exists(file: Path, *, make: bool) -> None:
    """Refuse a FILE that is not there, before any key is looked for; ``make``: say how a new
    SOPS file is made (sweep 72: `set` on a new path said "no such file" alone)."""
    if file.exists() or file.is_symlink():
        return
    shown = sh_path(str(file))
    hints = (
        (
            f"to make it, write the plaintext there and encrypt it: secretsmgr encrypt -i "
            f"{shown}; or open it new in your editor: secretsmgr edit {shown}",
        )
        if make
        else ()
    )
    raise InputFileError(f"{file}: no such file", hints=hints)


def _text_key_path(key_path: str) -> str:
    """Refuse a KEY_PATH holding bytes that are no UTF-8 (an argument in another encoding):
    sops and kustomize read only UTF-8 YAML, and the changelog records the key path."""
    from secretsmgr.changelog.chain import is_utf8

    if not is_utf8(key_path):
        from secretsmgr.errors import UsageError
        from secretsmgr.shellword import one_line

        raise UsageError(f"KEY_PATH {one_line(key_path)} is not UTF-8 text")
    return key_path


def set_cmd(
    ctx: typer.Context,
    file: FileArg,
    key_path: KeyPathArg,
    value_file: Annotated[
        Path | None,
        typer.Option("--value-file", help="Read the value from F (default: stdin).", metavar="F"),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="The value is one JSON value, as sops set takes it."),
    ] = False,
) -> int:
    """Set the value at KEY_PATH from stdin or --value-file (never from the command line).

    The value is a string (a one-line value loses its final newline) unless --json is given.
    Keys on the way are created; only that value's ciphertext and the MAC change.
    """
    from secretsmgr.fileops.files import set_value
    from secretsmgr.fileops.keypath import parse_value

    root = repo_root(ctx)
    key_path = _text_key_path(key_path)
    _exists(file, make=True)  # before the value and the key: what is wrong first (sweep 72)
    value = parse_value(_value_bytes(value_file), as_json=as_json)
    identities = identities_for(file, "set", key_path)
    with about_file(file, identities, "set", key_path):
        set_value(
            file,
            key_path,
            value,
            root=root,
            identities=[identities],
            record=changelog_recorder(root, file),
        )
    return 0


def unset_cmd(ctx: typer.Context, file: FileArg, key_path: KeyPathArg) -> int:
    """Remove the key (or list item) at KEY_PATH; only the MAC changes besides."""
    from secretsmgr.fileops.files import unset_value

    root = repo_root(ctx)
    key_path = _text_key_path(key_path)
    _exists(file, make=False)
    identities = identities_for(file, "unset", key_path)
    with about_file(file, identities, "unset", key_path):
        unset_value(
            file,
            key_path,
            root=root,
            identities=[identities],
            record=changelog_recorder(root, file),
        )
    return 0
