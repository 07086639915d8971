"""``init``: set up an existing Flux repository; ``log --adopt``: start the changelog late."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from secretsmgr.cli.context import out

if TYPE_CHECKING:
    from secretsmgr.changelog.adopt import AdoptPlan
    from secretsmgr.keys.protocols import Identity


def identities_at_hand() -> list[Identity]:
    """Every identity the contract's sources hold, or none: adopting never needs one, it only
    records ``datakey_id`` for the files they open. A locked keyring is passed over."""
    from secretsmgr.errors import KeyNotFoundError
    from secretsmgr.keys.oskeyring import keyring_source
    from secretsmgr.keys.sources import layered_identities

    layered = layered_identities(os.environ, keyring_source())
    try:
        return [layered.complete()]
    except KeyNotFoundError:
        return [layered_identities(os.environ, None).complete()]


def adopted_line(plan: AdoptPlan, seq: int | None, *, dry_run: bool = False) -> str:
    """``adopted 5 SOPS files (changelog seq 1) …`` or why nothing was recorded."""
    from secretsmgr.report._shared import plural

    if plan.entry is None:
        return "nothing to adopt: every SOPS file's state has a changelog entry"
    count = plural(len(plan.files), "SOPS file")
    where = f"changelog seq {seq}" if seq is not None else f"{plan.changelog}, seq {plan.entry.seq}"
    verb = "would adopt" if dry_run else "adopted"
    line = f"{verb} {count} as they are ({where}); nothing re-encrypted"
    if plan.unopened:
        line += (
            f"; {plural(len(plan.unopened), 'file')} without a datakey_id "
            "(no identity at hand opens them)"
        )
    return line


def adopt_cmd(root: Path, reason: str, *, adopt: bool, others: bool) -> int:
    """``log --adopt --reason TEXT``."""
    from secretsmgr.changelog.adopt import adopt as adopt_files
    from secretsmgr.errors import UsageError

    if not adopt:
        raise UsageError("--reason goes with --adopt")
    if others:
        raise UsageError("--adopt cannot be combined with --layer or --verify")
    plan = adopt_files(root, reason, identities_at_hand(), env=os.environ)
    seq = plan.entry.seq if plan.entry is not None else None
    out(adopted_line(plan, seq) + "\n")
    return 0
