"""``rotate``: new data keys, recipients synced to policy, all files or none, logged."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.context import load_identities, out, repo_root

if TYPE_CHECKING:
    from secretsmgr.rotate.transaction import FaultHook


def fault_hook() -> FaultHook | None:
    """Test-only fault injection: SECRETSMGR_FAULT_INJECT=<step>:<index>[:kill]."""
    spec = os.environ.get("SECRETSMGR_FAULT_INJECT")
    if not spec:
        return None
    step, _, rest = spec.partition(":")
    index_text, _, mode = rest.partition(":")
    if not index_text.isdigit():
        from secretsmgr.errors import UsageError

        raise UsageError("SECRETSMGR_FAULT_INJECT must look like <step>:<index>[:kill]")
    index = int(index_text)

    def hook(at: str, i: int) -> None:
        if at == step and i == index:
            if mode == "kill":
                import signal

                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"injected fault at {at}:{i}")

    return hook


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\rrotating [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\r" + " " * (width + 30) + "\r")
    sys.stderr.flush()


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
    from secretsmgr.errors import UsageError
    from secretsmgr.rotate.plan import render_plan
    from secretsmgr.rotate.transaction import RotationRequest, recover, rotate

    if linked and not regenerate:
        raise UsageError("--linked needs --regenerate")
    request = RotationRequest(
        layers=tuple(layer or ()),
        all_files=all_files,
        files=tuple(str(f) for f in files or ()),
        add=tuple(add_recipient or ()),
        remove=tuple(remove_recipient or ()),
        regenerate=tuple(regenerate or ()),
        linked=linked,
        reason=reason,
        dry_run=dry_run,
        commit=commit,
        allow_dirty=allow_dirty,
        cluster_key=cluster_key,
    )
    root = repo_root(ctx)
    identities = load_identities()
    if not dry_run:
        # Said at once, so the message is not lost if this run then fails.
        recovered = recover(root)
        if recovered:
            sys.stderr.write(f"secretsmgr: {recovered}\n")
    progress = _progress if sys.stderr.isatty() else None
    result = rotate(
        root,
        request,
        [identities],
        env=os.environ,
        fault=fault_hook(),
        progress=progress,
    )
    if dry_run:
        out(render_plan(result.plan, dry_run=True))
        return 0
    tail = f"; committed {result.commit[:7]}" if result.commit else ""
    out(
        f"rotated {len(result.plan.files)} files in {result.seconds:.1f} s; "
        f"changelog seq {result.seq}{tail}\n"
    )
    return 0
