"""Frozen models of the sops metadata block."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from secretsmgr.sops.tree import MapNode, Node, SeqNode


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


def _text(entry: MapNode, name: str) -> str:
    value = entry.get(name)
    return value.strip() if isinstance(value, str) else ""


def pgp_id(fingerprint: str) -> str:
    """A PGP fingerprint or key id as compared: no spaces, upper case, no ``0x`` before it."""
    key = fingerprint.replace(" ", "").upper()
    return key[2:] if key.startswith("0X") else key


def _foreign_id(field_name: str, entry: MapNode) -> str:
    if field_name == "pgp":
        return pgp_id(_text(entry, "fp"))
    if field_name in _ID_FIELD:
        return _text(entry, _ID_FIELD[field_name])
    if field_name == "azure_kv":
        url, key = _text(entry, "vault_url").rstrip("/"), _text(entry, "name")
        return f"{url}/keys/{key}/{_text(entry, 'version')}".rstrip("/") if url and key else ""
    if field_name == "hc_vault":
        address, engine = _text(entry, "vault_address").rstrip("/"), _text(entry, "engine_path")
        key = _text(entry, "key_name")
        return f"{address}/v1/{engine.strip('/')}/keys/{key}" if address and key else ""
    return ""


_ID_FIELD = {"kms": "arn", "gcp_kms": "resource_id", "hckms": "key_id"}


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

    def foreign_ids(self) -> tuple[tuple[str, str], ...]:
        """(field, key id) of every non-age key, the id as a ``.sops.yaml`` rule names it: a PGP
        fingerprint, a KMS ARN, a GCP or HCKMS key id, an Azure ``URL/keys/NAME/VERSION``, a
        Vault ``ADDRESS/v1/ENGINE/keys/NAME``. Entries missing their id fields are left out."""
        found: list[tuple[str, str]] = []
        for name, value in self.foreign:
            for item in value.items if isinstance(value, SeqNode) else ():
                key = _foreign_id(name, item) if isinstance(item, MapNode) else ""
                if key:
                    found.append((name, key))
        return tuple(found)


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

    @property
    def foreign_kinds(self) -> tuple[str, ...]:
        """The kinds of the key entries that are not age (``pgp``, ``kms``, …), sorted."""
        return tuple(sorted({name for g in self.key_groups for name, _ in g.foreign}))


@dataclass(frozen=True, slots=True)
class EncValue:
    """A parsed ``ENC[AES256_GCM,…]`` string."""

    data: bytes = field(repr=False)
    iv: bytes
    tag: bytes
    type: str
