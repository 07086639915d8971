"""Where identities are kept: the OS keyring, or a new 0600 identity file.

``key generate``, ``key rotate --begin`` and ``init`` make cluster keys; each one is recorded
as such where it is kept (a ``# secretsmgr: cluster key`` line above it in a file, the mark in
its keyring entry), and ``key export`` sends only recorded identities to the cluster.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from secretsmgr.errors import InputFileError, KeyNotFoundError, RefusedError
from secretsmgr.keys.age import CLUSTER_MARK, AgeIdentity, generate_identity, parse_identities
from secretsmgr.keys.oskeyring import KeyringAbsentError, OsKeyring, keyring_source
from secretsmgr.keys.sources import FileKeySource
from secretsmgr.keys.terminal import PassphrasePrompt, read_passphrase


def identity_file_text(secret: str, public: str, *, cluster: bool, created: datetime) -> str:
    """A ``keys.txt``-style file for one identity, as ``age-keygen`` writes it."""
    lines = [f"# created: {created.strftime('%Y-%m-%dT%H:%M:%SZ')}", f"# public key: {public}"]
    if cluster:
        lines.append(CLUSTER_MARK)
    return "\n".join([*lines, secret.strip()]) + "\n"


def write_identity_file(path: Path, secret: str, *, cluster: bool = True) -> list[Path]:
    """A new identity file, mode 0600; an existing file is never overwritten. The folders its
    writing made (``write_key_file``)."""
    public = parse_identities(secret, "the new identity").publics[0]
    text = identity_file_text(secret, public, cluster=cluster, created=datetime.now(UTC))
    return write_key_file(path, text)


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents up to the first that exists, deepest first (none: [])."""
    missing: list[Path] = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and any missing parents, mode 0700 (``~/.config/sops/age`` on a new
    machine); the folders made, deepest first, so a failure can take them back."""
    missing = missing_folders(folder)
    folder = missing[-1].parent if missing else folder
    if not folder.is_dir():
        raise InputFileError(f"{folder}: not a folder")
    made: list[Path] = []
    try:
        for new in reversed(missing):
            new.mkdir(mode=0o700)
            made.insert(0, new)
    except OSError as exc:
        _remove_folders(made)
        raise InputFileError(f"{new}: cannot create the folder ({exc.strerror})") from exc
    return made


def _remove_folders(made: list[Path]) -> None:
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()


def key_file_exists(path: Path) -> RefusedError:
    """The refusal to write a key file over ``path``, with where to go instead."""
    return RefusedError(
        f"{path} exists; secretsmgr never overwrites a key file",
        hints=(
            "name a new file with -o; one that a run killed before its end left behind holds "
            "a key nothing uses yet (secretsmgr key show lists the keys the repository names)",
        ),
    )


def write_key_file(path: Path, text: str) -> list[Path]:
    """Create ``path`` with mode 0600 and write ``text`` (identities); never over a file.

    Missing folders on the way are created, mode 0700; returns them, deepest first.
    """
    if path.exists() or path.is_symlink():
        raise key_file_exists(path)
    made = _make_folders(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise key_file_exists(path) from exc
    except OSError as exc:
        _remove_folders(made)
        raise InputFileError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        _remove_folders(made)
        raise
    return made


class KeyringStore:
    """A new cluster key kept in the OS keyring (recorded as a cluster key)."""

    def __init__(self, keyring: OsKeyring | None = None, *, absent_hint: str = "") -> None:
        self._keyring = keyring or keyring_source()
        self._absent_hint = absent_hint  # what to do instead, when there is no keyring

    def check(self) -> None:
        """Before a key is made: there is a keyring to keep it in."""
        if self._absent_hint and self._keyring.backend() is None:
            raise KeyringAbsentError(
                "no OS keyring is available to keep the new cluster key in",
                hints=(self._absent_hint,),
            )

    def store(self, secret: str) -> str:
        """Keep it; the keyring's name."""
        self._keyring.store(secret, cluster=True)
        return self._keyring.name

    def discard(self, public: str) -> None:
        """Remove it again (the step that made it failed)."""
        self._keyring.delete(public)


class FileStore:
    """A new cluster key kept in a new file (``-o``), recorded as a cluster key."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._made: list[Path] = []  # folders store() made, deepest first

    def check(self) -> None:
        """Before a key is made: the file is new (its folders are made when it is written)."""
        if self._path.exists() or self._path.is_symlink():
            raise key_file_exists(self._path)

    def store(self, secret: str) -> str:
        """Write the file; its path."""
        self._made = write_identity_file(self._path, secret, cluster=True)
        return str(self._path)

    def discard(self, public: str) -> None:
        """Remove the file again, and the folders its writing made."""
        self._path.unlink(missing_ok=True)
        _remove_folders(self._made)


def generate_cluster_key(store: KeyringStore | FileStore) -> tuple[str, str]:
    """A new identity, recorded as a cluster key in ``store``: (public key, where it went)."""
    secret, public = generate_identity()
    return public, store.store(secret)


def read_identity_file(path: Path, prompt: PassphrasePrompt = read_passphrase) -> AgeIdentity:
    """The identities of a file named by the user (asking for its passphrase if it has one)."""
    found = FileKeySource(path, str(path), required=True, prompt=prompt).load()
    assert found is not None  # required: a missing file raised
    return found


@dataclass(frozen=True, slots=True)
class Imported:
    """What ``key import`` did with each identity of the file."""

    rows: tuple[tuple[str, bool], ...]  # (public key, whether the entry is new)
    keyring: str


def import_identities(
    path: Path, keyring: OsKeyring | None = None, prompt: PassphrasePrompt = read_passphrase
) -> Imported:
    """Copy every ``AGE-SECRET-KEY-1…`` identity of ``path`` into the OS keyring.

    An identity the file records as a cluster key stays recorded as one.
    """
    identity = read_identity_file(path, prompt)
    held = [p for p in identity.publics if identity.secret_for(p) is not None]
    if not held:
        raise KeyNotFoundError(f"{path}: holds no AGE-SECRET-KEY-1… identity")
    store = keyring or keyring_source()
    rows = []
    for public in held:
        secret = identity.secret_for(public)
        assert secret is not None
        _, new = store.store(secret, cluster=identity.is_cluster_key(public))
        rows.append((public, new))
    return Imported(tuple(rows), store.name)
