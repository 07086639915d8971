"""``log``: the changelog as a table or JSON; ``--verify`` checks its chain, its anchoring in
git and its coverage."""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from secretsmgr.cli.context import identities_at_hand, out, repo_root
from secretsmgr.cli.options import LayerOpt, MergeOpt, ReasonOpt
from secretsmgr.plural import plural
from secretsmgr.shellword import json_text

if TYPE_CHECKING:
    from secretsmgr.changelog import Entry


class LogFormat(StrEnum):
    """Output formats of ``secretsmgr log``."""

    TEXT = "text"
    JSON = "json"


def _of_layers(root: Path, entries: list[Entry], layers: Sequence[str]) -> list[Entry]:
    """The entries touching ``layers``; a name neither the repository nor the log knows is
    a usage error, as everywhere else."""
    from secretsmgr.changelog.table import known_layers, touching
    from secretsmgr.repo.flux.graph import unknown_layer
    from secretsmgr.repo.inventory import load_inventory

    known = known_layers(entries, load_inventory(root).layers.names())
    unknown = [name for name in layers if name not in known]
    if unknown:
        raise unknown_layer(unknown[0], known)
    return touching(entries, layers)


def log_cmd(
    ctx: typer.Context,
    layer: LayerOpt = None,
    fmt: Annotated[
        LogFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = LogFormat.TEXT,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify", help="Check the hash chain and that every SOPS file has an entry."
        ),
    ] = False,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Record the current state of every SOPS file the changelog lacks "
            "(nothing is re-encrypted).",
        ),
    ] = False,
    merge: MergeOpt = False,
    reason: ReasonOpt = "",
) -> int:
    """Show the changelog; --verify checks its hash chain and that it covers every SOPS file."""
    from secretsmgr.changelog import changelog_path, load_changelog, to_dict
    from secretsmgr.changelog.table import render_table
    from secretsmgr.changelog.verify import anchoring_line, read_entries, verify_repo
    from secretsmgr.repo.settings import load_settings

    root = repo_root(ctx)
    if merge:
        from secretsmgr.changelog.resolve import merge_changelog

        out(merge_changelog(root, alone=not (adopt or reason or layer or verify)).describe())
        return 0
    if adopt or reason:
        from secretsmgr.changelog.adopt import adopt_files, adopt_summary
        from secretsmgr.errors import UsageError

        if not adopt or layer or verify:
            raise UsageError("--reason goes with --adopt, which takes no --layer or --verify")
        plan = adopt_files(root, reason, identities_at_hand(), env=os.environ)
        out(adopt_summary(plan, plan.entry.seq if plan.entry else None) + "\n")
        return 0
    name = load_settings(root).changelog
    data = load_changelog(changelog_path(root, name))  # inside the repository, no link
    verified = verify_repo(root, name, data) if verify else None
    # log --verify parsed them already
    entries = list(verified.entries) if verified else read_entries(data, name)
    if layer:
        entries = _of_layers(root, entries, layer)
    if fmt is LogFormat.JSON:
        doc = {"version": 1, "entries": [to_dict(e) for e in entries]}
        out(json_text(doc))
        return 0
    if not data:
        out(f"no changelog yet ({name})\n")
    elif entries:
        out(render_table(entries))
    else:
        out(f"no changelog entry touches layer {', '.join(layer or ())}\n")
    if verified is not None:
        chained = plural(len(verified.entries), "entry", "entries")
        out(f"chain ok ({chained}); every SOPS file's state has an entry\n")
        anchored = anchoring_line(verified.anchoring, name, len(verified.entries))
        if anchored is not None:
            out(anchored + "\n")
    return 0
