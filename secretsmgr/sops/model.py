"""Frozen models of the sops metadata block."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from secretsmgr.sops.tree import Node


class RuleKind(StrEnum):
    """The six mutually exclusive encryption-rule fields, in the order sops writes them."""

    UNENCRYPTED_SUFFIX = "unencrypted_suffix"
    ENCRYPTED_SUFFIX = "encrypted_suffix"
    UNENCRYPTED_REGEX = "unencrypted_regex"
    ENCRYPTED_REGEX = "encrypted_regex"
    UNENCRYPTED_COMMENT_REGEX = "unencrypted_comment_regex"
    ENCRYPTED_COMMENT_REGEX = "encrypted_comment_regex"


@dataclass(frozen=True, slots=True)
class EncryptionRule:
    """Which leaves a file encrypts; sops's default is ``unencrypted_suffix: _unencrypted``."""

    kind: RuleKind = RuleKind.UNENCRYPTED_SUFFIX
    value: str = "_unencrypted"


DEFAULT_RULE = EncryptionRule()


@dataclass(frozen=True, slots=True)
class AgeStanza:
    """One age recipient and the armored age file wrapping the data key (or a share) to it."""

    recipient: str
    enc: str = field(repr=False)


# Key types secretsmgr cannot use but must carry through unchanged, in sops's group order.
FOREIGN_KEY_FIELDS = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault")


@dataclass(frozen=True, slots=True)
class KeyGroup:
    """A key group: age stanzas plus any other key types, kept verbatim."""

    age: tuple[AgeStanza, ...] = ()
    foreign: tuple[tuple[str, Node], ...] = ()

    def foreign_field(self, name: str) -> Node:
        """The raw value of a non-age key field, or None."""
        for key, value in self.foreign:
            if key == name:
                return value
        return None

    @property
    def recipients(self) -> tuple[str, ...]:
        """The age recipients of this group, in file order."""
        return tuple(s.recipient for s in self.age)


@dataclass(frozen=True, slots=True)
class SopsMetadata:
    """The ``sops`` block of a file."""

    key_groups: tuple[KeyGroup, ...]
    lastmodified: str
    mac: str
    rule: EncryptionRule = DEFAULT_RULE
    mac_only_encrypted: bool = False
    shamir_threshold: int = 0
    version: str = "3.11.0"

    @property
    def age_recipients(self) -> tuple[str, ...]:
        """Every age recipient across all groups, in file order."""
        return tuple(r for g in self.key_groups for r in g.recipients)


@dataclass(frozen=True, slots=True)
class EncValue:
    """A parsed ``ENC[AES256_GCM,…]`` string."""

    data: bytes = field(repr=False)
    iv: bytes
    tag: bytes
    type: str
