"""``recover``: finish or undo an interrupted write, and remove its leftover temp files."""

from __future__ import annotations

import typer

from secretsmgr.cli.context import out, repo_root


def recover_cmd(ctx: typer.Context) -> int:
    """Complete or roll back an interrupted rotation; remove leftover temp files (SM022)."""
    from secretsmgr.rotate.journal import recover

    out(recover(repo_root(ctx)).describe() + "\n")
    return 0
