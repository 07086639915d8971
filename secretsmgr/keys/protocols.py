"""The two one-method seams between the format core and key material."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Recipient(Protocol):
    """Something that can wrap a data key (or a Shamir share) for one public key."""

    @property
    def public(self) -> str:
        """The recipient string written to the metadata (``age1…``)."""
        ...

    def wrap(self, data: bytes) -> str:
        """Encrypt ``data`` to this recipient as an armored age file."""
        ...


class Identity(Protocol):
    """Something that may be able to open an armored age file."""

    def unwrap(self, armored: str) -> bytes | None:
        """The plaintext, or None when this identity cannot open it."""
        ...


class IdentitySet(Identity, Protocol):
    """Several identities, searchable by public key (cluster-key rotation, ``key export``)."""

    def secret_for(self, public: str) -> str | None:
        """The ``AGE-SECRET-KEY-1…`` text for ``public``, or None when it is not held."""
        ...

    def only(self, publics: Sequence[str]) -> Identity:
        """The identities whose recipients are in ``publics``, and no other."""
        ...
