"""``audit``: every rule over the repository, rendered as text, JSON, SARIF or annotations."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.context import (
    emit,
    load_identities,
    progress_bar,
    repo_root,
    run_from,
    wants_color,
)
from secretsmgr.cli.options import (
    ClusterKeyOpt,
    ContextOpt,
    FailOn,
    FailOnOpt,
    FormatOpt,
    FromClusterOpt,
    LayerOpt,
    NamespaceOpt,
    NewSinceOpt,
    OutputOpt,
    SecretOpt,
    VerboseOpt,
    live_cluster,
    threshold,
)
from secretsmgr.report import OutputFormat

if TYPE_CHECKING:
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.protocols import Identity


def _identities(verify_mac: bool) -> tuple[list[Identity], KeyNotFoundError | None]:
    """The identities ``--verify-mac`` needs (none without it), or why there are none: the
    audit raises that only when an age key could have opened some file (not on a repository
    whose files have PGP or KMS keys only)."""
    from secretsmgr.errors import KeyNotFoundError

    if not verify_mac:
        return [], None
    try:
        return [load_identities()], None
    except KeyNotFoundError as exc:
        return [], KeyNotFoundError(
            "--verify-mac needs an age identity and none was found", hints=exc.hints
        )


def audit_cmd(
    ctx: typer.Context,
    layer: LayerOpt = None,
    fmt: FormatOpt = OutputFormat.TEXT,
    fail_on: FailOnOpt = FailOn.ERROR,
    max_age: Annotated[
        int | None,
        typer.Option("--max-age", min=0, help="SM008 threshold in days.", metavar="DAYS"),
    ] = None,
    cluster_key: ClusterKeyOpt = None,
    verify_mac: Annotated[
        bool,
        typer.Option("--verify-mac", help="Decrypt to verify MACs (needs a private key)."),
    ] = False,
    output: OutputOpt = None,
    new_since: NewSinceOpt = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Also walk every commit reachable from HEAD (SM019, SM020, SM009 in the past).",
        ),
    ] = False,
    verbose: VerboseOpt = False,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
) -> int:
    """Audit every SOPS file against the rules; exit 1 on findings at or above --fail-on."""
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.report import render

    root = repo_root(ctx)
    cluster = live_cluster(from_cluster, context, namespace, secret, root)
    facts = None
    if history:
        from secretsmgr.gate.history import walk_repository

        facts = walk_repository(root, progress_bar("reading history"))
    identities, identity_error = _identities(verify_mac)
    report = run_audit(
        root,
        cluster_key=cluster_key,
        env=os.environ,
        identities=identities,
        identity_error=identity_error,
        max_age_days=max_age,
        layer_filter=tuple(layer or ()),
        verify_mac=verify_mac,
        live_cluster=cluster,
        history=facts,
    )
    from secretsmgr.gate.baseline import adopted

    report = adopted(
        root,
        report,
        new_since,
        keyless_only=False,
        env=os.environ,
        live_cluster=cluster,
        cluster_key=cluster_key,
        max_age_days=max_age,
    )
    limit = threshold(fail_on)
    report = replace(report, run_from=run_from(root))
    text = render(report, fmt, color=wants_color(fmt, output), fail_on=limit, verbose=verbose)
    emit(text, output)
    return 1 if report.fails(limit) else 0
