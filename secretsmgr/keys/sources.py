"""Where private identities come from, in the contract's order.

``SOPS_AGE_KEY`` > ``SOPS_AGE_KEY_FILE`` > the OS keyring > ``$XDG_CONFIG_HOME/sops/age/keys.txt``.
Every source that yields identities is used, as sops does; the order only decides how ``key show``
and error hints list them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import AgeIdentity, merge_identities, parse_identities


class KeySource(Protocol):
    """A named place identities can come from."""

    @property
    def name(self) -> str:
        """How the source is called in messages and ``key show``."""
        ...

    def load(self) -> AgeIdentity | None:
        """The identities found there, or None when the source is absent."""
        ...


@dataclass(frozen=True, slots=True)
class EnvKeySource:
    """``SOPS_AGE_KEY``: the identities themselves."""

    env: Mapping[str, str]
    name: str = "SOPS_AGE_KEY"

    def load(self) -> AgeIdentity | None:
        """Parse the variable when set."""
        text = self.env.get("SOPS_AGE_KEY")
        return parse_identities(text, self.name) if text else None


@dataclass(frozen=True, slots=True)
class FileKeySource:
    """An identity file; ``required`` makes a missing file an error (``SOPS_AGE_KEY_FILE``)."""

    path: Path
    name: str
    required: bool = False

    def load(self) -> AgeIdentity | None:
        """Read and parse the file when it exists."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            if self.required:
                raise ConfigError(f"{self.name}: file not found: {self.path}") from exc
            return None
        except OSError as exc:
            raise ConfigError(f"{self.name}: cannot read {self.path}: {exc.strerror}") from exc
        return parse_identities(text, self.name)


def default_keys_file(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/sops/age/keys.txt``, else ``~/.config/sops/age/keys.txt``."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


# The OS keyring plugs in here (a factory so the keyring module is imported only when needed).
KeyringFactory = Callable[[], KeySource | None]


def cheap_sources(env: Mapping[str, str]) -> list[KeySource]:
    """The sources that are only a variable or a file away, in contract order."""
    sources: list[KeySource] = [EnvKeySource(env)]
    if env.get("SOPS_AGE_KEY_FILE"):
        sources.append(
            FileKeySource(Path(env["SOPS_AGE_KEY_FILE"]), "SOPS_AGE_KEY_FILE", required=True)
        )
    return sources


def standard_sources(
    env: Mapping[str, str], keyring: KeyringFactory | None = None
) -> list[KeySource]:
    """The identity sources in contract order."""
    sources = cheap_sources(env)
    if keyring is not None and (ks := keyring()) is not None:
        sources.append(ks)
    path = default_keys_file(env)
    sources.append(FileKeySource(path, str(path)))
    return sources


@dataclass(frozen=True, slots=True)
class ResolvedIdentities:
    """Every identity found, and which source gave which public keys."""

    identity: AgeIdentity
    by_source: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def is_empty(self) -> bool:
        """True when no source yielded an identity."""
        return not self.identity.publics


def resolve_identities(sources: Sequence[KeySource]) -> ResolvedIdentities:
    """Load every source; the union of all identities, with their provenance."""
    loaded = [(s.name, got) for s in sources if (got := s.load()) is not None]
    merged = merge_identities(got for _, got in loaded)
    return ResolvedIdentities(merged, tuple((name, got.publics) for name, got in loaded))


class LayeredIdentity:
    """The identities of every source, with the expensive one (the keyring) loaded late.

    Trying every identity, as sops does, gives the same answer in any order; so the variable
    and file sources are tried first and the keyring is opened only when they cannot open a
    file (or hold nothing). A locked keyring is then an error; an absent one adds nothing.
    """

    __slots__ = ("_early", "_late", "_late_identity", "_late_loaded")

    def __init__(self, early: AgeIdentity, late: KeySource | None) -> None:
        self._early = early
        self._late = late
        self._late_loaded = late is None
        self._late_identity: AgeIdentity | None = None

    def _load_late(self) -> AgeIdentity | None:
        if not self._late_loaded:
            assert self._late is not None
            self._late_identity = self._late.load()
            self._late_loaded = True
        return self._late_identity

    def unwrap(self, armored: str) -> bytes | None:
        """Open with the early identities, then with the late ones."""
        got = self._early.unwrap(armored)
        if got is not None:
            return got
        late = self._load_late()
        return late.unwrap(armored) if late is not None else None

    @property
    def publics(self) -> tuple[str, ...]:
        """Every public key (loads the late source)."""
        return self.complete().publics

    def complete(self) -> AgeIdentity:
        """Every identity of every source, loaded."""
        late = self._load_late()
        return merge_identities([self._early] + ([late] if late is not None else []))

    def early_publics(self) -> tuple[str, ...]:
        """The public keys found without opening the late source."""
        return self._early.publics

    def secret_for(self, public: str) -> str | None:
        """The identity text for ``public``; the late source is opened only when needed."""
        found = self._early.secret_for(public)
        if found is not None:
            return found
        late = self._load_late()
        return late.secret_for(public) if late is not None else None

    def only(self, publics: Sequence[str]) -> AgeIdentity:
        """The identities whose recipients are in ``publics`` (late source only if needed)."""
        early = self._early.only(publics)
        if set(publics) <= set(early.publics):
            return early
        late = self._load_late()
        parts = [early] + ([late.only(publics)] if late is not None else [])
        return merge_identities(parts)


def layered_identities(env: Mapping[str, str], late: KeySource | None) -> LayeredIdentity:
    """Early = ``SOPS_AGE_KEY``, ``SOPS_AGE_KEY_FILE``, ``keys.txt``; late = ``late``."""
    path = default_keys_file(env)
    early = [*cheap_sources(env), FileKeySource(path, str(path))]
    found = [got for s in early if (got := s.load()) is not None]
    return LayeredIdentity(merge_identities(found), late)
