"""What every command gets from the global options."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from secretsmgr.keys.sources import LayeredIdentity


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


def load_identities() -> LayeredIdentity:
    """Every identity from the contract's sources; ``KeyNotFoundError`` when there is none.

    The OS keyring is opened only when the other sources cannot open a file (or hold nothing).
    """
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.oskeyring import keyring_source
    from secretsmgr.keys.sources import layered_identities

    identities = layered_identities(os.environ, keyring_source())
    if not identities.early_publics() and not identities.publics:
        raise KeyNotFoundError(
            "no age identity found",
            hints=(
                "set SOPS_AGE_KEY_FILE to your key file, or SOPS_AGE_KEY to the key itself",
                "or store it in the OS keyring: secretsmgr key import FILE",
                "or put the key in $XDG_CONFIG_HOME/sops/age/keys.txt",
            ),
        )
    return identities


def out(text: str) -> None:
    """Write a result to stdout."""
    sys.stdout.write(text)
    sys.stdout.flush()
