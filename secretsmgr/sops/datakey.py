"""The data key: generated, wrapped per recipient (Shamir across groups), and recovered."""

from __future__ import annotations

import os
from collections.abc import Sequence

from secretsmgr.errors import DecryptionError
from secretsmgr.keys.protocols import Identity, Recipient
from secretsmgr.sops import shamir
from secretsmgr.sops.model import AgeStanza, KeyGroup, SopsMetadata

DATA_KEY_SIZE = 32


def new_data_key() -> bytes:
    """32 random bytes from the OS CSPRNG."""
    return os.urandom(DATA_KEY_SIZE)


def wrap_data_key(
    data_key: bytes, groups: Sequence[Sequence[Recipient]], threshold: int = 0
) -> tuple[tuple[KeyGroup, ...], int]:
    """Wrap ``data_key`` for every recipient; returns the key groups and the stored threshold."""
    groups = [g for g in groups if g]
    if len(groups) <= 1:
        recipients = groups[0] if groups else []
        stanzas = tuple(AgeStanza(r.public, r.wrap(data_key)) for r in recipients)
        return (KeyGroup(age=stanzas),), 0
    stored = threshold if threshold else len(groups)
    stored = max(2, min(stored, len(groups)))
    shares = shamir.split(data_key, len(groups), stored)
    out = tuple(
        KeyGroup(age=tuple(AgeStanza(r.public, r.wrap(share)) for r in group))
        for group, share in zip(groups, shares, strict=True)
    )
    return out, stored


def _open_group(group: KeyGroup, identities: Sequence[Identity]) -> bytes | None:
    for stanza in group.age:
        for identity in identities:
            part = identity.unwrap(stanza.enc)
            if part is not None:
                return part
    return None


def unwrap_data_key(meta: SopsMetadata, identities: Sequence[Identity]) -> bytes:
    """Recover the data key by trying every identity on every stanza, group by group."""
    groups = meta.key_groups
    if len(groups) <= 1:
        key = _open_group(groups[0], identities) if groups else None
        if key is None or len(key) != DATA_KEY_SIZE:
            raise DecryptionError("could not recover the data key: no identity opens this file")
        return key
    parts = [p for g in groups if (p := _open_group(g, identities)) is not None]
    threshold = meta.shamir_threshold or len(groups)
    if len(parts) < threshold:
        raise DecryptionError(
            f"could not recover the data key: {len(parts)} of {threshold} key groups opened"
        )
    key = shamir.combine(parts[:threshold])
    if len(key) != DATA_KEY_SIZE:
        raise DecryptionError("could not recover the data key: bad Shamir shares")
    return key
