"""``check``: the key-less CI and pre-commit gate."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from secretsmgr.cli.context import emit, repo_root, run_from, wants_color, warn
from secretsmgr.cli.options import (
    ContextOpt,
    FormatOpt,
    FromClusterOpt,
    NamespaceOpt,
    NewSinceOpt,
    OutputOpt,
    SecretOpt,
    live_cluster,
)
from secretsmgr.plural import plural
from secretsmgr.report import OutputFormat
from secretsmgr.shellword import sh_path


def repo_relative(files: list[Path], root: Path, cwd: Path) -> list[str]:
    """Paths as pre-commit passes them (relative to cwd) -> repo-relative POSIX paths."""
    from secretsmgr.errors import UsageError

    rels: list[str] = []
    for file in files:
        full = file if file.is_absolute() else cwd / file
        # resolve the folder, not the file: a symlink is checked as the link git tracks
        try:
            rel = (full.parent.resolve() / full.name).relative_to(root)
        except ValueError:
            raise UsageError(f"{file}: not inside the repository {root}") from None
        rels.append(rel.as_posix())
    return list(dict.fromkeys(rels))


def git_add(root: Path, name: str) -> str:
    """``git add`` of the repository's ``name`` as it runs where check did: from a subfolder
    (the review of this stop: `git add .secretsmgr.yaml` there named no such file) or outside."""
    here = Path.cwd().resolve()
    if here == root.resolve() or root.resolve() in here.parents:
        return f"git add {sh_path(os.path.relpath(root / name, here))}"
    return f"git -C {sh_path(root)} add {sh_path(name)}"


def _at_terminal() -> bool:
    """A person reads stdout: a terminal, and not pre-commit (which gives hooks a pty for
    colour, sets PRE_COMMIT=1, and expects a passing hook to say nothing)."""
    return sys.stdout.isatty() and not os.environ.get("PRE_COMMIT")


def check_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Staged files to check (default: the whole index).", show_default=False
        ),
    ] = None,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    new_since: NewSinceOpt = None,
    from_cluster: FromClusterOpt = False,
    context: ContextOpt = None,
    namespace: NamespaceOpt = "flux-system",
    secret: SecretOpt = "sops-age",
) -> int:
    """Judge the staged change (the git index) with the key-less rules: the findings on FILES
    and those the staged change causes elsewhere (other staged files too: the commit holds
    them); no FILES: the whole index. Exit 1 on any error."""
    from secretsmgr.audit.finding import Severity
    from secretsmgr.gate.baseline import adopted
    from secretsmgr.gate.judge import judge_index, unstaged_config
    from secretsmgr.report import render

    root = repo_root(ctx)
    selected = repo_relative(files, root, Path.cwd()) if files else None
    cluster = live_cluster(from_cluster, context, namespace, secret, root)
    report = judge_index(root, selected, env=os.environ, live_cluster=cluster)
    report = adopted(root, report, new_since, env=os.environ, live_cluster=cluster, staged=True)
    for name, staged in unstaged_config(root):
        # the gate judges what is staged, its settings and baseline too: say so when they differ
        # (sweep 95: "not as staged" puzzled a user whose file was never staged, after init)
        state = (
            "on disk is not as staged, and check judges with the staged state"
            if staged
            else "is not staged, and check judges without it"
        )
        warn(f"{name} {state} ({git_add(root, name)} to judge with it)")
    report = replace(report, run_from=run_from(root))
    text = render(report, fmt, color=wants_color(fmt, output), short=True)
    if not text and fmt is OutputFormat.TEXT and output is None and _at_terminal():
        text = f"ok: {plural(report.files, 'file')} checked, no findings\n"
    if text or output is not None:
        emit(text, output)
    return 1 if report.fails(Severity.ERROR) else 0
