"""age recipients and identities through pyrage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyrage
from pyrage import ssh, x25519

from secretsmgr.errors import ConfigError
from secretsmgr.keys.bech32 import short_key

SECRET_PREFIX = "AGE-SECRET-KEY-1"
PQ_SECRET_PREFIX = "AGE-SECRET-KEY-PQ-1"
PLUGIN_PREFIX = "AGE-PLUGIN-"
# A comment line that records the identity on the next identity line as a cluster key (written
# by ``key generate``, ``key rotate --begin`` and ``init``); only such identities are exported.
CLUSTER_MARK = "# secretsmgr: cluster key"


class AgeRecipient:
    """An ``age1…`` (or ``ssh-ed25519``/``ssh-rsa``) public key that wraps data keys."""

    __slots__ = ("_public", "_recipient")

    def __init__(self, public: str) -> None:
        public = public.strip()
        if public.upper().startswith("AGE-SECRET-KEY-"):
            raise ConfigError(
                "an age private key was given where a public key (age1…) belongs",
                hints=("derive the public key with: age-keygen -y KEYFILE",),
            )
        try:
            if public.startswith(("ssh-ed25519 ", "ssh-rsa ")):
                self._recipient: object = ssh.Recipient.from_str(public)
            else:
                self._recipient = x25519.Recipient.from_str(public)
        except (pyrage.RecipientError, ValueError) as exc:
            raise ConfigError(f"invalid age recipient {short_key(public)!r}") from exc
        self._public = public

    @property
    def public(self) -> str:
        """The recipient string."""
        return self._public

    def wrap(self, data: bytes) -> str:
        """Encrypt ``data`` to this recipient, ASCII-armored."""
        return bytes(pyrage.encrypt(data, [self._recipient], armored=True)).decode("ascii")


def is_valid_recipient(public: str) -> bool:
    """Whether ``public`` parses as an age X25519 recipient."""
    try:
        x25519.Recipient.from_str(public.strip())
    except (pyrage.RecipientError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class AgeIdentity:
    """One or more age identities tried together; ``publics`` lists their recipients.

    ``cluster`` holds the publics whose identity is recorded as a cluster key (a
    ``# secretsmgr: cluster key`` line above it, or the keyring entry's mark).
    """

    publics: tuple[str, ...]
    _identities: tuple[object, ...] = field(repr=False)
    source: str = ""
    cluster: frozenset[str] = frozenset()

    def is_cluster_key(self, public: str) -> bool:
        """Whether the identity of ``public`` is held here and recorded as a cluster key."""
        return public in self.cluster and public in self.publics

    def secret_for(self, public: str) -> str | None:
        """The ``AGE-SECRET-KEY-1…`` text of the identity whose recipient is ``public``.

        Only ``key export`` and ``key rotate`` call this, to build the cluster's Secret; the
        text must go nowhere but that manifest.
        """
        for pub, ident in zip(self.publics, self._identities, strict=True):
            if pub == public and isinstance(ident, x25519.Identity):
                return str(ident)
        return None

    def only(self, publics: Sequence[str]) -> AgeIdentity:
        """The subset of these identities whose recipients are in ``publics``."""
        pairs = [
            (p, i) for p, i in zip(self.publics, self._identities, strict=True) if p in publics
        ]
        kept = tuple(p for p, _ in pairs)
        return AgeIdentity(
            kept, tuple(i for _, i in pairs), self.source, self.cluster.intersection(kept)
        )

    def unwrap(self, armored: str) -> bytes | None:
        """Open an armored age file with any of the identities, or None."""
        try:
            return bytes(pyrage.decrypt(armored.encode("ascii"), list(self._identities)))
        except (pyrage.DecryptError, ValueError, UnicodeEncodeError):
            return None


def parse_identities(text: str, source: str) -> AgeIdentity:
    """Parse identity text (``keys.txt`` style); errors name the line, never its content."""
    publics: list[str] = []
    identities: list[object] = []
    cluster: set[str] = set()
    marked = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line == CLUSTER_MARK:
            marked = True
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith(SECRET_PREFIX):
            try:
                ident = x25519.Identity.from_str(line)
            except (pyrage.IdentityError, ValueError) as exc:
                raise ConfigError(f"malformed identity on line {number} of {source}") from exc
            identities.append(ident)
            publics.append(str(ident.to_public()))
            if marked:
                cluster.add(publics[-1])
        elif line.startswith(PLUGIN_PREFIX):
            from secretsmgr.keys.plugin import plugin_identity

            public, ident = plugin_identity(line, f"line {number} of {source}")
            identities.append(ident)
            publics.append(public)
        elif line.startswith(PQ_SECRET_PREFIX):
            pass  # post-quantum identities are not supported in-process
        else:
            raise ConfigError(
                f"malformed identity on line {number} of {source}",
                hints=("identity files hold AGE-SECRET-KEY-1… lines; '#' starts a comment",),
            )
        marked = False
    return AgeIdentity(tuple(publics), tuple(identities), source, frozenset(cluster))


def merge_identities(parts: Iterable[AgeIdentity]) -> AgeIdentity:
    """One identity set holding every identity of ``parts``, duplicates dropped."""
    publics: list[str] = []
    identities: list[object] = []
    sources: list[str] = []
    cluster: set[str] = set()
    for part in parts:
        cluster |= part.cluster
        for public, ident in zip(part.publics, part._identities, strict=True):
            if public not in publics:
                publics.append(public)
                identities.append(ident)
        if part.source and part.source not in sources:
            sources.append(part.source)
    return AgeIdentity(tuple(publics), tuple(identities), ", ".join(sources), frozenset(cluster))


def generate_identity() -> tuple[str, str]:
    """A new X25519 identity: (secret ``AGE-SECRET-KEY-1…``, public ``age1…``)."""
    ident = x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def recipients(publics: Sequence[str]) -> list[AgeRecipient]:
    """Parse a list of public keys."""
    return [AgeRecipient(p) for p in publics]
