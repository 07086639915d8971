"""The data key: generated, wrapped per recipient (Shamir across groups), and recovered."""

from __future__ import annotations

import os
from collections.abc import Sequence

from secretsmgr.errors import DecryptionError, FormatError
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


def _open_group(
    group: KeyGroup, identities: Sequence[Identity], refused: list[str], first: int
) -> bytes | None:
    """The key (or share) of the first stanza an identity opens. A stanza an identity refuses
    to read (``FormatError``: malformed, or over the age bounds) is skipped and noted in
    ``refused``, as sops skips a key that fails; ``first`` numbers the group's stanzas."""
    for number, stanza in enumerate(group.age, start=first):
        for identity in identities:
            try:
                part = identity.unwrap(stanza.enc)
            except FormatError as exc:
                refused.append(f"age entry {number} refused: {exc.message}")
                break
            if part is not None:
                return part
    return None


def _no_key(message: str, refused: list[str]) -> DecryptionError:
    return DecryptionError(f"{message} ({'; '.join(refused)})" if refused else message)


def unwrap_data_key(meta: SopsMetadata, identities: Sequence[Identity]) -> bytes:
    """Recover the data key by trying every identity on every stanza, group by group."""
    groups = meta.key_groups
    refused: list[str] = []
    if len(groups) <= 1:
        key = _open_group(groups[0], identities, refused, 1) if groups else None
        if key is None or len(key) != DATA_KEY_SIZE:
            raise _no_key("could not recover the data key: no identity opens this file", refused)
        return key
    parts: list[bytes] = []
    first = 1
    for g in groups:
        part = _open_group(g, identities, refused, first)
        first += len(g.age)
        if part is not None:
            parts.append(part)
    threshold = meta.shamir_threshold or len(groups)
    if len(parts) < threshold:
        err = _no_key(
            f"could not recover the data key: {len(parts)} of {threshold} key groups opened",
            refused,
        )
        if parts:
            # some keys at hand are recipients: the file wants more groups, not another key in
            # the same one (the attack review: the hint said none was a recipient)
            err.hints = (
                f"its data key is split across {len(groups)} key groups, {threshold} needed "
                "(shamir_threshold): add an identity of another group, as sops needs too",
            )
        raise err
    key = shamir.combine(parts[:threshold])
    if len(key) != DATA_KEY_SIZE:
        raise DecryptionError("could not recover the data key: bad Shamir shares")
    return key
