"""``audit``: every rule over the repository, rendered as text, JSON, SARIF or annotations."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.cluster_opts import (
    ContextOpt,
    FromClusterOpt,
    NamespaceOpt,
    SecretOpt,
    live_cluster,
)
from secretsmgr.cli.context import load_identities, out, repo_root
from secretsmgr.report import OutputFormat

if TYPE_CHECKING:
    from secretsmgr.audit.finding import Severity
    from secretsmgr.keys.protocols import Identity


class FailOn(StrEnum):
    """``--fail-on``: the lowest severity that makes the run exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
]
NewSinceOpt = Annotated[
    str | None,
    typer.Option(
        "--new-since",
        help="Fail only on findings that are new since commit REV (older ones are counted).",
        metavar="REV",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to FILE (atomically).", metavar="FILE"),
]


def threshold(fail_on: FailOn) -> Severity | None:
    """The severity ``--fail-on`` names; None for ``never``."""
    from secretsmgr.audit.finding import Severity

    return None if fail_on is FailOn.NEVER else Severity(fail_on.value)


def wants_color(fmt: str, output: Path | None) -> bool:
    """ANSI colour only for text on a terminal, and never with ``NO_COLOR`` set."""
    return (
        fmt == "text" and output is None and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
    )


def emit(text: str, output: Path | None) -> None:
    """Write a rendered report to stdout, or atomically to ``output``."""
    if output is None:
        out(text)
        return
    from secretsmgr.fsutil import write_atomic

    write_atomic(output, text)


def audit_cmd(
    ctx: typer.Context,
    layer: Annotated[
        list[str] | None,
        typer.Option("--layer", "-l", help="Only this layer (repeatable).", metavar="L"),
    ] = None,
    fmt: FormatOpt = OutputFormat.TEXT,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 on findings at or above this severity."),
    ] = FailOn.ERROR,
    max_age: Annotated[
        int | None,
        typer.Option("--max-age", min=0, help="SM008 threshold in days.", metavar="DAYS"),
    ] = None,
    cluster_key: Annotated[
        str | None,
        typer.Option("--cluster-key", help="The cluster's age public key.", metavar="K"),
    ] = None,
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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list layers without SOPS files.")
    ] = False,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
) -> int:
    """Audit every SOPS file against the rules; exit 1 on findings at or above --fail-on."""
    from secretsmgr.errors import KeyNotFoundError

    root = repo_root(ctx)
    cluster = live_cluster(from_cluster, context, namespace, secret)
    identities: list[Identity] = []
    if verify_mac:
        try:
            identities = [load_identities()]
        except KeyNotFoundError as exc:
            raise KeyNotFoundError(
                "--verify-mac needs an age identity and none was found", hints=exc.hints
            ) from exc
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.report import render

    facts = None
    if history:
        from secretsmgr.gate.history import walk_repository

        facts = walk_repository(root)

    report = run_audit(
        root,
        cluster_key=cluster_key,
        env=os.environ,
        identities=identities,
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
    text = render(report, fmt, color=wants_color(fmt, output), fail_on=limit, verbose=verbose)
    emit(text, output)
    return 1 if report.fails(limit) else 0
