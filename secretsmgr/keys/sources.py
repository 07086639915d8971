"""Where private identities come from, in the contract's order.

``SOPS_AGE_KEY`` > ``SOPS_AGE_KEY_FILE`` > the OS keyring > ``$XDG_CONFIG_HOME/sops/age/keys.txt``
> ``SOPS_AGE_SSH_PRIVATE_KEY_FILE`` > ``~/.ssh/id_ed25519`` > ``~/.ssh/id_rsa``.
Every source that yields identities is used, as sops does; the order only decides how ``key show``
and error hints list them.

What each source may hold, as sops 3.11 reads it:

* ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``keys.txt``: identity text (``AGE-SECRET-KEY-1…``
  and ``AGE-PLUGIN-…`` lines), or that text encrypted with a passphrase (``age -p``); the
  passphrase is asked on the terminal, and only when no other identity opens the file.
* the ssh sources: one unencrypted ``ssh-ed25519`` or ``ssh-rsa`` private key each. One named
  by ``SOPS_AGE_SSH_PRIVATE_KEY_FILE`` must be usable; one that merely sits in ``~/.ssh`` is
  skipped when it is not (passphrase-protected, another type), and ``key show`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from secretsmgr.errors import ConfigError, SecretsmgrError
from secretsmgr.keys.age import AgeIdentity, merge_identities, parse_identities
from secretsmgr.keys.passphrase import is_protected, open_protected
from secretsmgr.keys.ssh import (
    DEFAULT_SSH_KEYS,
    SSH_KEY_FILE_ENV,
    SshKeyError,
    parse_ssh_identity,
)
from secretsmgr.keys.terminal import PassphrasePrompt, read_passphrase

PROTECTED_NOTE = "passphrase-protected: opened only when a file needs it"


class KeySource(Protocol):
    """A named place identities can come from."""

    @property
    def name(self) -> str:
        """How the source is called in messages and ``key show``."""
        ...

    def load(self) -> AgeIdentity | None:
        """The identities found there, or None when the source is absent."""
        ...


_MAX_IDENTITY_BYTES = 1 << 20  # no identity file is larger; /dev/zero would fill the memory


def _read(path: Path, name: str, required: bool) -> bytes | None:
    """The file's bytes; None when it is absent and not ``required``. Read no further than
    ``_MAX_IDENTITY_BYTES`` (the review of stop 50: ``SOPS_AGE_KEY_FILE=/dev/zero`` read until
    the memory ran out); a FIFO (``<(…)``) is read as ``cat`` reads it."""
    shown = str(path) if name == str(path) else f"{name}: {path}"
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_IDENTITY_BYTES + 1)
        if len(data) > _MAX_IDENTITY_BYTES:
            raise ConfigError(f"{shown}: over 1 MiB, which no identity file is")
        return data
    except FileNotFoundError as exc:
        if required:
            raise ConfigError(f"{shown}: no such file") from exc
        return None
    except IsADirectoryError as exc:
        raise ConfigError(f"{shown}: is a directory") from exc
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read ({exc.strerror})") from exc


def _identities(data: bytes, name: str, what: str, prompt: PassphrasePrompt) -> AgeIdentity:
    """Identity text, or a passphrase-protected identity file opened with ``prompt``."""
    if is_protected(data):
        return parse_identities(open_protected(data, what, prompt), name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not an identity file (not UTF-8 text)") from exc
    return parse_identities(text, name)


@dataclass(frozen=True, slots=True)
class EnvKeySource:
    """``SOPS_AGE_KEY``: the identities themselves (possibly an armored protected file)."""

    env: Mapping[str, str]
    name: str = "SOPS_AGE_KEY"
    prompt: PassphrasePrompt = field(default=read_passphrase, repr=False)

    def is_protected(self) -> bool:
        """Whether the value is a passphrase-protected identity file."""
        return is_protected(self.env.get("SOPS_AGE_KEY", "").encode("utf-8"))

    def load(self) -> AgeIdentity | None:
        """Parse the variable when set."""
        text = self.env.get("SOPS_AGE_KEY")
        if not text:
            return None
        return _identities(text.encode("utf-8"), self.name, self.name, self.prompt)


@dataclass(frozen=True, slots=True)
class FileKeySource:
    """An identity file; ``required`` makes a missing file an error (``SOPS_AGE_KEY_FILE``)."""

    path: Path
    name: str
    required: bool = False
    prompt: PassphrasePrompt = field(default=read_passphrase, repr=False)

    def is_protected(self) -> bool:
        """Whether the file is a passphrase-protected identity file."""
        data = _read(self.path, self.name, self.required)
        return data is not None and is_protected(data)

    def load(self) -> AgeIdentity | None:
        """Read and parse the file when it exists (asking for its passphrase if it has one)."""
        data = _read(self.path, self.name, self.required)
        if data is None:
            return None
        return _identities(data, self.name, f"the identity file {self.path}", self.prompt)


@dataclass(frozen=True, slots=True)
class SshKeySource:
    """An ssh private key; ``required`` for one named by ``SOPS_AGE_SSH_PRIVATE_KEY_FILE``."""

    path: Path
    name: str
    required: bool = False

    def note(self) -> str | None:
        """Why a key in ``~/.ssh`` is skipped, for ``key show``; None when it is usable."""
        if self.required:
            return None
        try:
            self.load_strict()
        except SshKeyError as exc:
            return exc.reason
        return None

    def load_strict(self) -> AgeIdentity | None:
        """The key, or an error saying why it cannot be used."""
        data = _read(self.path, self.name, self.required)
        return None if data is None else parse_ssh_identity(data, self.name)

    def load(self) -> AgeIdentity | None:
        """The key; one merely found in ``~/.ssh`` that cannot be used is skipped, as sops does."""
        try:
            return self.load_strict()
        except SshKeyError:
            if self.required:
                raise
            return None


def default_keys_file(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/sops/age/keys.txt``, else ``~/.config/sops/age/keys.txt``."""
    base = env.get("XDG_CONFIG_HOME") or str(_home(env) / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME", "~")).expanduser()


# The OS keyring plugs in here (a factory so the keyring module is imported only when needed).
KeyringFactory = Callable[[], KeySource | None]


def cheap_sources(
    env: Mapping[str, str], prompt: PassphrasePrompt = read_passphrase
) -> list[KeySource]:
    """The sources that are only a variable or a file away, in contract order."""
    sources: list[KeySource] = [EnvKeySource(env, prompt=prompt)]
    if env.get("SOPS_AGE_KEY_FILE"):
        sources.append(
            FileKeySource(
                Path(env["SOPS_AGE_KEY_FILE"]), "SOPS_AGE_KEY_FILE", required=True, prompt=prompt
            )
        )
    return sources


def ssh_sources(env: Mapping[str, str]) -> list[KeySource]:
    """The ssh keys sops reads: the variable's file (must be usable), then ``~/.ssh``."""
    sources: list[KeySource] = []
    if env.get(SSH_KEY_FILE_ENV):
        sources.append(SshKeySource(Path(env[SSH_KEY_FILE_ENV]), SSH_KEY_FILE_ENV, required=True))
    for name in DEFAULT_SSH_KEYS:
        path = _home(env) / ".ssh" / name
        sources.append(SshKeySource(path, str(path)))
    return sources


def standard_sources(
    env: Mapping[str, str],
    keyring: KeyringFactory | None = None,
    prompt: PassphrasePrompt = read_passphrase,
) -> list[KeySource]:
    """The identity sources in contract order."""
    sources = cheap_sources(env, prompt)
    if keyring is not None and (ks := keyring()) is not None:
        sources.append(ks)
    path = default_keys_file(env)
    sources.append(FileKeySource(path, str(path), prompt=prompt))
    sources.extend(ssh_sources(env))
    return sources


@dataclass(frozen=True, slots=True)
class ResolvedIdentities:
    """Every identity found, and which source gave which public keys."""

    identity: AgeIdentity
    by_source: tuple[tuple[str, tuple[str, ...]], ...]


def resolve_identities(sources: Sequence[KeySource]) -> ResolvedIdentities:
    """Load every source; the union of all identities, with their provenance."""
    loaded = [(s.name, got) for s in sources if (got := s.load()) is not None]
    merged = merge_identities(got for _, got in loaded)
    return ResolvedIdentities(merged, tuple((name, got.publics) for name, got in loaded))


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One line of ``key show``: a public key (or a note) and the source it came from."""

    public: str
    source: str
    is_note: bool = False
    is_cluster_key: bool = False


def describe_sources(
    sources: Iterable[KeySource],
) -> tuple[list[SourceRow], SecretsmgrError | None]:
    """Every public key each source holds, without asking for any passphrase.

    A passphrase-protected source and an unusable key in ``~/.ssh`` get a note instead; the
    first failing source's error is returned (the others are still listed).
    """
    rows: list[SourceRow] = []
    failure: SecretsmgrError | None = None
    for source in sources:
        try:
            if isinstance(source, EnvKeySource | FileKeySource) and source.is_protected():
                rows.append(SourceRow(PROTECTED_NOTE, source.name, is_note=True))
                continue
            if isinstance(source, SshKeySource) and (note := source.note()) is not None:
                rows.append(SourceRow(f"skipped: {note}", source.name, is_note=True))
                continue
            got = source.load()
        except SecretsmgrError as exc:
            failure = failure or exc
            continue
        if got is not None:
            rows.extend(
                SourceRow(public, source.name, is_cluster_key=got.is_cluster_key(public))
                for public in got.publics
            )
    return rows, failure


class LayeredIdentity:
    """The identities of every source, with the expensive ones loaded late, in order.

    Trying every identity, as sops does, gives the same answer in any order; so the variable
    and file sources are tried first, then the late ones one at a time, each opened only when
    the ones before cannot open a file (or hold nothing): the keyring (a locked one is then an
    error; an absent one adds nothing), then passphrase-protected identity files (the
    passphrase is asked for then, never before).
    """

    __slots__ = ("_early", "_late", "_loaded")

    def __init__(self, early: AgeIdentity, late: KeySource | Sequence[KeySource] | None) -> None:
        self._early = early
        if late is None:
            self._late: tuple[KeySource, ...] = ()
        elif isinstance(late, Sequence):
            self._late = tuple(late)
        else:
            self._late = (late,)
        self._loaded: list[AgeIdentity | None] = []

    def _each_late(self) -> Iterable[AgeIdentity]:
        """The late sources' identities, loading the next one only when asked for it."""
        for index, source in enumerate(self._late):
            if index == len(self._loaded):
                self._loaded.append(source.load())
            got = self._loaded[index]
            if got is not None:
                yield got

    def unwrap(self, armored: str) -> bytes | None:
        """Open with the early identities, then with each late source in turn."""
        got = self._early.unwrap(armored)
        if got is not None:
            return got
        for late in self._each_late():
            got = late.unwrap(armored)
            if got is not None:
                return got
        return None

    @property
    def publics(self) -> tuple[str, ...]:
        """Every public key (loads the late sources)."""
        return self.complete().publics

    def complete(self) -> AgeIdentity:
        """Every identity of every source, loaded."""
        return merge_identities([self._early, *self._each_late()])

    def early_publics(self) -> tuple[str, ...]:
        """The public keys found without opening a late source."""
        return self._early.publics

    def _holding(self, public: str) -> AgeIdentity | None:
        if public in self._early.publics:
            return self._early
        for late in self._each_late():
            if public in late.publics:
                return late
        return None

    def secret_for(self, public: str) -> str | None:
        """The identity text for ``public``; late sources are opened only when needed."""
        holder = self._holding(public)
        return holder.secret_for(public) if holder is not None else None

    def is_cluster_key(self, public: str) -> bool:
        """Whether the identity for ``public`` is recorded as a cluster key where it is held."""
        holder = self._holding(public)
        return holder is not None and holder.is_cluster_key(public)

    def only(self, publics: Sequence[str]) -> AgeIdentity:
        """The identities whose recipients are in ``publics`` (late sources only if needed)."""
        parts = [self._early.only(publics)]

        def covered() -> bool:
            return set(publics) <= {p for part in parts for p in part.publics}

        if not covered():
            for late in self._each_late():
                parts.append(late.only(publics))
                if covered():
                    break
        return merge_identities(parts)


def layered_identities(
    env: Mapping[str, str],
    late: KeySource | None,
    prompt: PassphrasePrompt = read_passphrase,
) -> LayeredIdentity:
    """Early: the variable, files and ssh keys; late: ``late``, then protected files."""
    path = default_keys_file(env)
    early = [*cheap_sources(env, prompt), FileKeySource(path, str(path), prompt=prompt)]
    early.extend(ssh_sources(env))
    found: list[AgeIdentity] = []
    deferred: list[KeySource] = [late] if late is not None else []
    for source in early:
        if isinstance(source, EnvKeySource | FileKeySource) and source.is_protected():
            deferred.append(source)
        elif (got := source.load()) is not None:
            found.append(got)
    return LayeredIdentity(merge_identities(found), deferred)
