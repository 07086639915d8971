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


def standard_sources(
    env: Mapping[str, str], keyring: KeyringFactory | None = None
) -> list[KeySource]:
    """The identity sources in contract order."""
    sources: list[KeySource] = [EnvKeySource(env)]
    if env.get("SOPS_AGE_KEY_FILE"):
        sources.append(
            FileKeySource(Path(env["SOPS_AGE_KEY_FILE"]), "SOPS_AGE_KEY_FILE", required=True)
        )
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
