"""The sops MAC: SHA-512 over the plaintext leaves, stored encrypted under ``lastmodified``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from secretsmgr.sops.model import EncryptionRule, SopsMetadata
from secretsmgr.sops.rules import iter_leaves
from secretsmgr.sops.tree import Node
from secretsmgr.sops.values import Comment, mac_bytes, parse_rfc3339

_MAC_ONLY_SEED = hashlib.sha256(b"sops").digest()


def compute_mac(docs: Sequence[Node], rule: EncryptionRule, mac_only_encrypted: bool) -> str:
    """Uppercase hex SHA-512 over every non-comment, non-null plaintext leaf of all documents."""
    mac = MacAccumulator(mac_only_encrypted)
    for doc in docs:
        for _path, leaf, encrypted in iter_leaves(doc, rule):
            mac.feed(leaf, encrypted)
    return mac.hexdigest()


class MacAccumulator:
    """The MAC fed leaf by leaf, so a decrypt or encrypt walk computes it on the way."""

    __slots__ = ("_hash", "_mac_only")

    def __init__(self, mac_only_encrypted: bool) -> None:
        self._hash = hashlib.sha512()
        self._mac_only = mac_only_encrypted
        if mac_only_encrypted:
            self._hash.update(_MAC_ONLY_SEED)

    def feed(self, leaf: object, encrypted: bool) -> None:
        """Add one plaintext leaf (comments and nulls are skipped, as sops does)."""
        if leaf is None or isinstance(leaf, Comment) or (self._mac_only and not encrypted):
            return
        self._hash.update(mac_bytes(leaf))  # type: ignore[arg-type]  # a scalar, checked above

    def hexdigest(self) -> str:
        """The MAC string: uppercase hex."""
        return self._hash.hexdigest().upper()


def macs_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two MAC strings."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def mac_aad(lastmodified: str) -> bytes:
    """The AAD sops uses for the MAC: ``lastmodified`` normalized to whole seconds."""
    ts = parse_rfc3339(lastmodified)
    if ts is None:
        return lastmodified.encode("utf-8")
    text = ts.text
    zone_at = len(text) - 1 if text.endswith("Z") else len(text) - 6
    base, zone = text[:zone_at], text[zone_at:]
    return (base.split(".")[0] + zone).encode("ascii")


@dataclass(frozen=True, slots=True)
class MacState:
    """What every sops write renews together, read without a key: the stored MAC (``ENC[…]``
    with a fresh IV each time), ``lastmodified`` (the MAC's AAD), and a digest of what the MAC
    covers as the file holds it: each ``ENC[…]`` value with its key path (its AAD), and each
    value in clear the MAC covers, in walk order. Two versions with the same MAC and
    ``lastmodified`` but another ``covered`` were not both written by sops: the later one was
    edited by hand, and its MAC cannot verify (sops refuses to decrypt it)."""

    mac: str
    lastmodified: str
    covered: str


def mac_state(docs: Sequence[Node], metadata: SopsMetadata) -> MacState:
    """The key-less ``MacState`` of a SOPS file's documents and metadata."""
    digest = hashlib.sha256()
    for doc in docs:
        for path, leaf, encrypted in iter_leaves(doc, metadata.rule):
            if leaf is None or isinstance(leaf, Comment) or not mac_bytes(leaf):
                continue  # what adds no bytes to the MAC (an empty value) changes nothing
            if encrypted:
                where = "\0".join(str(part) for part in path)
                digest.update(b"E" + where.encode("utf-8", "replace") + b"\1")
                digest.update(mac_bytes(leaf) + b"\2")
            elif not metadata.mac_only_encrypted:
                digest.update(b"C" + mac_bytes(leaf) + b"\2")
    # lastmodified as sops reads it for the AAD (the attack review: the same instant written
    # as "…Z" and as "….000+00:00" was a hand edit)
    when = mac_aad(metadata.lastmodified).decode("utf-8", "replace")
    return MacState(metadata.mac, when, digest.hexdigest())


def edited_outside_sops(earlier: MacState, later: MacState) -> bool:
    """Whether ``later`` keeps ``earlier``'s MAC while what the MAC covers, or ``lastmodified``
    (the MAC's AAD), changed: a hand edit after sops wrote the file (every sops write renews
    the MAC; a MAC that is empty proves nothing)."""
    return (
        bool(later.mac)
        and later.mac == earlier.mac
        and (later.lastmodified != earlier.lastmodified or later.covered != earlier.covered)
    )
