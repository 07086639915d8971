"""``rotate``: new data keys, recipients synced to policy, all files or none, logged."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from secretsmgr.cli.context import (
    fault_hook,
    load_identities,
    out,
    progress_bar,
    repo_root,
    warn,
)
from secretsmgr.cli.options import (
    AllowDirtyOpt,
    ClusterKeyOpt,
    CommitOpt,
    DryRunOpt,
    ExcludeOpt,
    LayerOpt,
    ReasonOpt,
)
from secretsmgr.plural import plural


def rotate_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="SOPS files to rotate.")] = None,
    layer: LayerOpt = None,
    all_files: Annotated[bool, typer.Option("--all", help="Rotate every SOPS file.")] = False,
    exclude: ExcludeOpt = None,
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
    reason: ReasonOpt = "",
    dry_run: DryRunOpt = False,
    commit: CommitOpt = False,
    allow_dirty: AllowDirtyOpt = False,
    cluster_key: ClusterKeyOpt = None,
) -> int:
    """Rotate data keys of a layer, all files or named files, as one transaction."""
    from secretsmgr.cli.files import with_key_hints
    from secretsmgr.errors import DecryptionError, UserError
    from secretsmgr.keys.age import canonical_recipient
    from secretsmgr.repo.root import is_git_work_tree
    from secretsmgr.rotate.plan import render_changes, render_plan, render_uncommitted
    from secretsmgr.rotate.transaction import RotationRequest, keyless_error, rotate

    request = RotationRequest(
        layers=tuple(layer or ()),
        all_files=all_files,
        files=tuple(str(f) for f in files or ()),
        exclude=tuple(str(f) for f in exclude or ()),
        add=tuple(canonical_recipient(k) for k in add_recipient or ()),
        remove=tuple(canonical_recipient(k) for k in remove_recipient or ()),
        regenerate=tuple(regenerate or ()),
        linked=linked,
        unlinked=unlinked,
        reason=reason,
        dry_run=dry_run,
        commit=commit,
        allow_dirty=allow_dirty,
        cluster_key=cluster_key,
    )
    root = repo_root(ctx)
    try:
        identities = load_identities()
    except UserError as exc:  # no key: a refusal that needs none says more (a pgp-only file)
        err = keyless_error(root, request, os.environ, exc)
        raise err from (None if err is exc else exc)
    run = partial(rotate, root, request, [identities], env=os.environ, recovered_hook=warn)
    try:
        result = run(fault=fault_hook(), progress=progress_bar("rotating"))
    except DecryptionError as exc:
        raise with_key_hints(exc, identities) from None
    if dry_run:
        out(render_plan(result.plan, dry_run=True))
        return 0
    tail = f"; committed {result.commit[:7]}" if result.commit else ""
    later = render_uncommitted(bool(result.commit), is_git_work_tree(root))
    out(
        f"rotated {plural(len(result.plan.files), 'file')} in {result.seconds:.1f} s; "
        f"changelog seq {result.seq}{tail}\n" + render_changes(result.plan) + later
    )
    return 0
