"""What every command gets from the global options."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from secretsmgr.keys.sources import ResolvedIdentities


@dataclass(slots=True)
class Globals:
    """Global options shared by every command."""

    repo: Path | None = None
    debug: bool = False


def globals_of(ctx: typer.Context) -> Globals:
    """The ``Globals`` stored by the app callback."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Globals) else Globals()


def repo_root(ctx: typer.Context) -> Path:
    """The repository root per the contract (``--repo``, else git top-level, else cwd)."""
    from secretsmgr.repo.root import resolve_repo_root

    return resolve_repo_root(globals_of(ctx).repo, Path.cwd())


def load_identities() -> ResolvedIdentities:
    """Every identity from the contract's sources; ``KeyNotFoundError`` when there is none."""
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.sources import resolve_identities, standard_sources

    resolved = resolve_identities(standard_sources(os.environ))
    if resolved.is_empty:
        raise KeyNotFoundError(
            "no age identity found",
            hints=(
                "set SOPS_AGE_KEY_FILE to your key file, or SOPS_AGE_KEY to the key itself",
                "or put the key in $XDG_CONFIG_HOME/sops/age/keys.txt",
            ),
        )
    return resolved


def out(text: str) -> None:
    """Write a result to stdout."""
    sys.stdout.write(text)
    sys.stdout.flush()
