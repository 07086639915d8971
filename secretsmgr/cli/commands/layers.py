"""``layers``: the Flux layers in dependsOn order, their SOPS files and status."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from secretsmgr.cli.context import emit, repo_root
from secretsmgr.cli.options import OutputOpt, VerboseOpt
from secretsmgr.report.layers import LayersFormat


def layers_cmd(
    ctx: typer.Context,
    fmt: Annotated[
        LayersFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = LayersFormat.TEXT,
    output: OutputOpt = None,
    verbose: VerboseOpt = False,
) -> int:
    """Show the layers in dependsOn order with their SOPS files and status."""
    from secretsmgr.audit.engine import run_audit
    from secretsmgr.report.layers import render

    report = run_audit(repo_root(ctx), env=os.environ, keyless_only=True)
    emit(render(report, fmt, verbose=verbose), output)
    return 0
