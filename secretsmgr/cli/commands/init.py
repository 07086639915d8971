"""``init``: set up an existing Flux repository (cluster key, .sops.yaml, settings, hook)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from secretsmgr.cli.context import identities_at_hand, out, repo_root
from secretsmgr.cli.options import (
    ClusterKeyOpt,
    ContextOpt,
    DryRunOpt,
    FromClusterOpt,
    NamespaceOpt,
    SecretOpt,
    live_cluster,
)


def init_cmd(
    ctx: typer.Context,
    cluster_key: ClusterKeyOpt = None,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
    keyring: Annotated[
        bool, typer.Option("--keyring", help="Keep a new cluster key in the OS keyring (default).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Keep a new cluster key in this new file (mode 0600) instead.",
            metavar="FILE",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rewrite .sops.yaml and .secretsmgr.yaml; add the hook to a config."
        ),
    ] = False,
) -> int:
    """Set up an existing Flux repository: cluster key, .sops.yaml, .secretsmgr.yaml, hook."""
    from secretsmgr.errors import UsageError
    from secretsmgr.init.report import render_init
    from secretsmgr.init.workflow import InitOptions, init

    if cluster_key is not None and from_cluster:
        raise UsageError("--cluster-key and --from-cluster cannot be used together")
    if keyring and output is not None:
        raise UsageError("--keyring and -o cannot be used together")
    root = repo_root(ctx)
    live = live_cluster(from_cluster, context, namespace, secret, root)
    lives = live if isinstance(live, tuple) else (live,) if live is not None else ()
    result = init(
        root,
        InitOptions(cluster_key, lives, output, force),
        identities_at_hand(),
        env=os.environ,
        dry_run=dry_run,
    )
    out(render_init(result, dry_run=dry_run, output=output))
    return 0
