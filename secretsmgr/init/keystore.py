"""Where ``init`` keeps the cluster identities it makes: the OS keyring, or one new 0600 file.

The one place init touches private keys at rest (``store_new_keys``); everything else sees
public keys only. Each identity is marked ``# secretsmgr: cluster key`` in the file, so that
``key export`` knows it as one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from secretsmgr.errors import InputFileError, RefusedError, UsageError
from secretsmgr.keys.oskeyring import KeyringAbsentError, keyring_source

CLUSTER_MARK = "# secretsmgr: cluster key"


@dataclass(frozen=True, slots=True)
class NewKey:
    """An identity init made for one cluster (the secret is never printed)."""

    cluster: str | None
    public: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Stored:
    """Where the new identities went, and how to take them back (a later step failed)."""

    where: str
    discard: Callable[[], None] = field(repr=False)


def check_store(root: Path, output: Path | None) -> str:
    """Before anything is made: the place can take the identities; its name for messages.

    A file inside the repository is refused (a private key must never be committed), as is an
    existing one; the keyring must be there.
    """
    if output is not None:
        full = output.resolve()
        if full == root.resolve() or root.resolve() in full.parents:
            raise UsageError(
                f"-o {output}: the file would lie inside the repository, "
                "where a private key could be committed",
                hints=("write it outside: -o ~/.config/sops/age/cluster.agekey",),
            )
        if output.exists() or output.is_symlink():
            raise RefusedError(f"{output} exists; secretsmgr never overwrites a key file")
        if not output.parent.is_dir():
            raise InputFileError(f"{output}: no such folder {output.parent}")
        return f"{output} (mode 0600)"
    ring = keyring_source()
    if ring.backend() is None:
        raise KeyringAbsentError(
            "no OS keyring is available to keep the new cluster key in",
            hints=("write it to a new file outside the repository instead: -o FILE",),
        )
    return ring.name


def _file_text(keys: Sequence[NewKey]) -> str:
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"# created: {created} by secretsmgr init"]
    for key in keys:
        if key.cluster is not None:
            lines.append(f"# cluster: {key.cluster}")
        lines += [f"# public key: {key.public}", CLUSTER_MARK, key.secret.strip()]
    return "\n".join(lines) + "\n"


def store_new_keys(keys: Sequence[NewKey], output: Path | None) -> Stored:
    """Keep ``keys``: every one in the OS keyring, or all in one new file (mode 0600)."""
    if output is not None:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise RefusedError(f"{output} exists; secretsmgr never overwrites a key file") from exc
        except OSError as exc:
            raise InputFileError(f"{output}: cannot write ({exc.strerror})") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(_file_text(keys))
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            output.unlink(missing_ok=True)
            raise
        return Stored(f"{output} (mode 0600)", lambda: output.unlink(missing_ok=True))
    ring = keyring_source()
    done: list[str] = []

    def discard() -> None:
        for public in done:
            ring.delete(public)

    try:
        for key in keys:
            ring.store(key.secret)
            done.append(key.public)
    except BaseException:
        discard()
        raise
    return Stored(ring.name, discard)
