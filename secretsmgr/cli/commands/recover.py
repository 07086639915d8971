"""``recover``: finish or undo an interrupted write, and remove its leftover temp files."""

from __future__ import annotations

import contextlib
import os

import typer

from secretsmgr.cli.context import out, repo_root


def recover_cmd(ctx: typer.Context) -> int:
    """Complete or roll back an interrupted rotation; remove leftover temp files (SM022)."""
    from secretsmgr.errors import UserError
    from secretsmgr.fsutil import memory_dir, sweep_scratch
    from secretsmgr.plural import plural
    from secretsmgr.rotate.journal import recover

    out(recover(repo_root(ctx)).describe() + "\n")
    swept: list[str] = []
    with contextlib.suppress(UserError):  # no memory-backed folder: no edit ever ran here
        folder = memory_dir(os.environ)
        swept = sweep_scratch(folder)
    if swept:
        out(
            f"removed {plural(len(swept), 'scratch folder')} a killed edit left in {folder} "
            "(plaintext)\n"
        )
    return 0
