"""``log --verify``: the hash chain holds, and every SOPS file's current state has an entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from secretsmgr.changelog.chain import covered, find_break, parse_entries
from secretsmgr.errors import ChainError


def sops_states(root: Path, skip: str) -> Iterator[tuple[str, str]]:
    """(path, lastmodified) of every SOPS file in the repo, in path order.

    The same discovery as the audit (and its SM013), so `log --verify` and `audit` agree;
    files with malformed metadata are audit's SM006, not a changelog question.
    """
    from secretsmgr.repo.inventory import load_inventory

    for entry in load_inventory(root).sops_files:
        if entry.sops_file is not None and entry.path != skip:
            yield entry.path, entry.sops_file.metadata.lastmodified


def verify_repo(root: Path, name: str, data: bytes) -> int:
    """Check the chain, then that every SOPS file's state has an entry; the entry count."""
    found = find_break(data)
    if found is not None:
        raise ChainError(
            f"changelog broken at seq {found.seq}: {found.reason}",
            hints=(f"restore {name} from git",),
        )
    entries = parse_entries(data)
    seen = covered(entries)
    missing = [(p, lm) for p, lm in sops_states(root, name) if (p, lm) not in seen]
    if missing:
        path, lastmodified = missing[0]
        more = len(missing) - 1
        hints = []
        if more:
            hints.append(f"{more} more SOPS {'file has' if more == 1 else 'files have'} no entry")
        hints += [
            "it was changed outside secretsmgr, or its changelog entry was removed",
            f"record its current state with: secretsmgr rotate {path} --reason '…'",
        ]
        raise ChainError(f"{path}: lastmodified {lastmodified} has no changelog entry", hints=hints)
    return len(entries)
