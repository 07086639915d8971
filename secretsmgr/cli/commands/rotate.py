"""``rotate``: new data keys, recipients synced to policy, all files or none, logged."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from secretsmgr.cli.context import load_identities, out, repo_root


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\rrotating [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\r" + " " * (width + 30) + "\r")
    sys.stderr.flush()


def _notify(message: str) -> None:
    sys.stderr.write(f"secretsmgr: {message}\n")


def rotate_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="SOPS files to rotate.")] = None,
    layer: Annotated[
        list[str] | None, typer.Option("--layer", help="Rotate every SOPS file of layer L.")
    ] = None,
    all_files: Annotated[bool, typer.Option("--all", help="Rotate every SOPS file.")] = False,
    add_recipient: Annotated[
        list[str] | None, typer.Option("--add-recipient", help="Also encrypt to this key.")
    ] = None,
    remove_recipient: Annotated[
        list[str] | None, typer.Option("--remove-recipient", help="Drop this recipient.")
    ] = None,
    regenerate: Annotated[
        list[str] | None,
        typer.Option(
            "--regenerate", help="Put a new random value at KEY_PATH.", metavar="KEY_PATH"
        ),
    ] = None,
    linked: Annotated[
        bool, typer.Option("--linked", help="Also rewrite the old value wherever else it appears.")
    ] = False,
    unlinked: Annotated[
        bool,
        typer.Option(
            "--unlinked", help="Regenerate only the named key paths, even if the value is shared."
        ),
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded in the changelog.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan, write nothing.")
    ] = False,
    commit: Annotated[bool, typer.Option("--commit", help="Commit files and changelog.")] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Rotate targets with uncommitted changes.")
    ] = False,
    cluster_key: Annotated[
        str | None, typer.Option("--cluster-key", help="The cluster's age public key.")
    ] = None,
) -> int:
    """Rotate data keys of a layer, all files or named files, as one transaction."""
    from secretsmgr.rotate.faults import fault_hook
    from secretsmgr.rotate.plan import RotationRequest, render_plan, render_regenerated
    from secretsmgr.rotate.transaction import rotate

    request = RotationRequest(
        layers=tuple(layer or ()),
        all_files=all_files,
        files=tuple(str(f) for f in files or ()),
        add=tuple(add_recipient or ()),
        remove=tuple(remove_recipient or ()),
        regenerate=tuple(regenerate or ()),
        linked=linked,
        unlinked=unlinked,
        reason=reason,
        dry_run=dry_run,
        commit=commit,
        allow_dirty=allow_dirty,
        cluster_key=cluster_key,
    )
    result = rotate(
        repo_root(ctx),
        request,
        [load_identities()],
        env=os.environ,
        fault=fault_hook(),
        progress=_progress if sys.stderr.isatty() else None,
        notify=_notify,
    )
    if dry_run:
        out(render_plan(result.plan, dry_run=True))
        return 0
    tail = f"; committed {result.commit[:7]}" if result.commit else ""
    out(
        f"rotated {len(result.plan.files)} files in {result.seconds:.1f} s; "
        f"changelog seq {result.seq}{tail}\n" + render_regenerated(result.plan)
    )
    return 0
