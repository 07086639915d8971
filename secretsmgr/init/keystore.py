"""Where ``init`` keeps the cluster identities it makes: the OS keyring, or one new 0600 file.

The one place init touches private keys at rest (``store_new_keys``, through ``keys/stores.py``);
everything else sees public keys only. Every identity is recorded as a cluster key where it is
kept, so that ``key export`` sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from secretsmgr.errors import InputFileError, UsageError
from secretsmgr.keys.oskeyring import KeyringAbsentError, keyring_source
from secretsmgr.keys.stores import (
    FileStore,
    KeyringStore,
    identity_file_text,
    key_file_exists,
    missing_folders,
    write_key_file,
)


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


# where a new cluster key goes when there is no OS keyring (the error's hint, a dry run's note)
KEY_FILE_COMMAND = "secretsmgr init -o ~/.config/sops/age/cluster.agekey"


def refuse_inside(root: Path, output: Path, example: str) -> None:
    """``UsageError`` when a new private key's file ``output`` would lie inside the repository
    at ``root`` (``example`` is the command that writes it outside)."""
    full = output.resolve()
    if full == root.resolve() or root.resolve() in full.parents:
        raise UsageError(
            f"-o {output}: the file would lie inside the repository, "
            "where a private key could be committed",
            hints=(f"write it outside: {example}",),
        )


def new_key_store(
    root: Path,
    output: Path | None,
    command: str = "secretsmgr key generate",
    absent_hint: str = "",
) -> FileStore | KeyringStore:
    """Where ``key generate`` or ``key rotate --begin`` keeps a new identity: the file
    ``output`` (refused inside the git repository at hand, as ``init`` refuses it: the
    write-side review of stop 53 found both writing one there), else the OS keyring."""
    from secretsmgr.repo.root import is_git_work_tree

    if output is None:
        return KeyringStore(absent_hint=absent_hint)
    if is_git_work_tree(root):
        refuse_inside(root, output, f"{command} -o ~/.config/sops/age/new.agekey")
    return FileStore(output)


def check_store(root: Path, output: Path | None) -> str:
    """Before anything is made: the place can take the identities; its name for messages.

    A file inside the repository is refused (a private key must never be committed), as is an
    existing one; the keyring must be there.
    """
    if output is not None:
        refuse_inside(root, output, KEY_FILE_COMMAND)
        if output.exists() or output.is_symlink():
            raise key_file_exists(output)
        missing = missing_folders(output.parent)  # made (0700) when the key is written
        folder = missing[-1].parent if missing else output.parent
        if not folder.is_dir():
            raise InputFileError(f"{output}: {folder} is not a folder")
        return f"{output} (mode 0600)"
    ring = keyring_source()
    if ring.backend() is None:
        raise KeyringAbsentError(
            "no OS keyring is available to keep the new cluster key in",
            hints=(f"keep it in a new file outside the repository instead: {KEY_FILE_COMMAND}",),
        )
    return ring.name


def store_new_keys(keys: Sequence[NewKey], output: Path | None) -> Stored:
    """Keep ``keys``: every one in the OS keyring, or all in one new file (mode 0600)."""
    if output is not None:
        created = datetime.now(UTC)
        text = "".join(
            (f"# cluster: {key.cluster}\n" if key.cluster is not None else "")
            + identity_file_text(key.secret, key.public, cluster=True, created=created)
            for key in keys
        )
        write_key_file(output, text)
        return Stored(f"{output} (mode 0600)", lambda: output.unlink(missing_ok=True))
    store = KeyringStore()
    done: list[str] = []
    where = keyring_source().name

    def discard() -> None:
        for public in done:
            store.discard(public)

    try:
        for key in keys:
            store.store(key.secret)
            done.append(key.public)
    except BaseException:
        discard()
        raise
    return Stored(where, discard)
