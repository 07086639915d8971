"""``encrypt``, ``decrypt`` and ``edit``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from secretsmgr.cli.context import out, repo_root, warn
from secretsmgr.cli.files import about_file, changelog_recorder, identities_for

FileArg = Annotated[Path, typer.Argument(help="The file to read.", show_default=False)]
InPlace = Annotated[bool, typer.Option("-i", "--in-place", help="Write the result over FILE.")]
Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the result to OUT.", metavar="OUT")
]


def encrypt_cmd(
    ctx: typer.Context,
    file: FileArg,
    in_place: InPlace = False,
    output: Output = None,
    age: Annotated[
        list[str] | None,
        typer.Option(
            "--age", help="A recipient replacing the .sops.yaml rule's keys (repeatable)."
        ),
    ] = None,
    filename_override: Annotated[
        Path | None,
        typer.Option(
            "--filename-override",
            help="Pick the creation rule and format as if FILE were at this path.",
            metavar="PATH",
        ),
    ] = None,
) -> int:
    """Encrypt FILE with the recipients and rule of its .sops.yaml creation rule."""
    from secretsmgr.fileops.files import encrypt_file

    root = repo_root(ctx)
    with about_file(file, None):
        result = encrypt_file(
            file,
            root=root,
            in_place=in_place,
            output=output,
            age=age or (),
            filename_override=filename_override,
            record=changelog_recorder(root, file if in_place else output),
        )
    if result is not None:
        out(result, exact=True)
    return 0


def decrypt_cmd(
    ctx: typer.Context,
    file: FileArg,
    in_place: InPlace = False,
    output: Output = None,
    extract: Annotated[
        str | None,
        typer.Option(
            "--extract",
            help='Print one value: dotted (data.password) or ["data"]["password"].',
            metavar="KEY_PATH",
        ),
    ] = None,
) -> int:
    """Decrypt FILE (MAC verified) to stdout, or to a file, FIFO or device you name."""
    from secretsmgr.fileops.files import decrypt_file

    root = repo_root(ctx)
    identities = identities_for(file, "decrypt")
    with about_file(file, identities, "decrypt"):
        result = decrypt_file(
            file,
            root=root,
            identities=[identities],
            in_place=in_place,
            output=output,
            extract=extract,
        )
    if result is not None:
        out(result, exact=True)
    return 0


def edit_cmd(ctx: typer.Context, file: FileArg) -> int:
    """Open FILE decrypted in $SOPS_EDITOR/$EDITOR; re-encrypt only when it changed.

    A FILE that does not exist is created with its .sops.yaml creation rule. If another writer
    saves FILE while the editor is open, your changes are applied to the new version and the
    editor opens again on the result.
    """
    from secretsmgr.fileops.editor import make_editor
    from secretsmgr.fileops.files import edit_file

    root = repo_root(ctx)
    identities = identities_for(file, "edit") if file.exists() else None
    with about_file(file, identities, "edit"):
        edit_file(
            file,
            root=root,
            identities=[identities] if identities is not None else [],
            editor=make_editor(os.environ, file.name),
            notify=warn,
            record=changelog_recorder(root, file),
        )
    return 0
