"""One file of a rotation, in memory: open it, stage its new text, prove the text is right.

``open_file`` recovers the data key and decrypts (MAC verified). ``stage_file`` wraps a new data
key for the planned recipients, encrypts the intended plaintext under it and splices the new
``ENC[…]`` values and ``sops:`` block into the old text (the diff a reviewer expects), falling
back to the file written whole when a splice does not fit. Either way the staged text is parsed
back and decrypted under the new key: it must give exactly the intended plaintext and
recipients, or nothing is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from secretsmgr.errors import IntegrityError, SecretsmgrError, about
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.keys.protocols import Identity
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.datakey import new_data_key, unwrap_data_key, wrap_data_key
from secretsmgr.sops.document import FileFormat, decrypt_docs, dump, load, same_data, seal
from secretsmgr.sops.jsonio import indent_of
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.splice import block_indent, splice
from secretsmgr.sops.tree import MapNode


@dataclass(slots=True)
class Staged:
    """A file's new text, verified, with what the changelog records about it."""

    path: str
    old_text: str
    new_text: str
    data_key: bytes = field(repr=False)
    lastmodified: str
    recipients_before: tuple[str, ...]
    recipients_after: tuple[str, ...]
    regenerated: tuple[str, ...] = ()

    @property
    def sha_old(self) -> str:
        """The sha256 of the bytes it replaces."""
        return hashlib.sha256(self.old_text.encode("utf-8", "surrogateescape")).hexdigest()

    @property
    def sha_new(self) -> str:
        """The sha256 of the bytes it writes."""
        return hashlib.sha256(self.new_text.encode("utf-8", "surrogateescape")).hexdigest()


def open_file(entry: SopsEntry, identities: Sequence[Identity]) -> tuple[bytes, list[MapNode]]:
    """(data key, plaintext documents) of ``entry``, MAC verified; errors name the file."""
    sf = entry.sops_file
    assert sf is not None
    try:
        key = unwrap_data_key(sf.metadata, identities)
        docs, _ivs = decrypt_docs(sf, key)
    except SecretsmgrError as exc:
        raise about(entry.path, exc) from exc
    return key, docs


def _verify(
    fmt: FileFormat, text: str, key: bytes, intended: list[MapNode], staged: Staged
) -> None:
    sf = load(text, fmt)
    if sf.metadata.age_recipients != staged.recipients_after:
        raise IntegrityError(f"{staged.path}: staged recipients differ from the plan")
    docs, _ = decrypt_docs(sf, key)
    if not same_data(docs, intended):
        raise IntegrityError(f"{staged.path}: staged file does not decrypt to the plaintext")


def stage_file(
    entry: SopsEntry,
    docs: list[MapNode],
    recipients: tuple[str, ...],
    regenerated: tuple[str, ...] = (),
) -> Staged:
    """``entry`` re-encrypted to ``recipients`` under a new data key, holding ``docs``; verified."""
    sf = entry.sops_file
    assert sf is not None
    old_text = entry.text
    key = new_data_key()
    groups, threshold = wrap_data_key(key, [[AgeRecipient(r) for r in recipients]])
    meta = sf.metadata
    template = SopsMetadata(
        key_groups=groups,
        lastmodified="",
        mac="",
        rule=meta.rule,
        mac_only_encrypted=meta.mac_only_encrypted,
        shamir_threshold=threshold,
        version=meta.version,
    )
    sealed = seal(docs, fmt=sf.format, data_key=key, metadata=template)
    yaml = sf.format.value == "yaml"
    indent = (block_indent(old_text) if yaml else None) or 4  # as the file was written
    spliced = (
        splice(old_text, sealed.docs, sealed.metadata, indent, values=sealed.enc_values)
        if yaml
        else None
    )
    staged = Staged(
        entry.path,
        old_text,
        spliced or dump(sealed, indent, indent_of(old_text)),
        key,
        sealed.metadata.lastmodified,
        meta.age_recipients,
        recipients,
        regenerated,
    )
    try:
        _verify(sf.format, staged.new_text, key, docs, staged)
    except SecretsmgrError:
        whole = dump(sealed, indent, indent_of(old_text))
        if staged.new_text == whole:
            raise
        staged.new_text = whole  # the splice did not fit this file: write it whole
        _verify(sf.format, whole, key, docs, staged)
    return staged
