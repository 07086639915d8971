"""The repository's own copies of the cluster key: SOPS-encrypted Secrets Flux applies that hold
the age identity its layers decrypt with (``sops-age``'s ``age.agekey``).

A repository may ship the key Secret itself, encrypted (a Flux component that puts ``sops-age``
in every namespace, a bootstrap folder): Flux then applies that copy over whatever the operator
sent. A cluster-key rotation that left it alone would have Flux put the retired key back after
``--finish``, and nothing would decrypt (sweep 89, rust84/k8s-gitops). So ``key rotate`` changes
the identity lines inside such a file in the same transaction as the rest: ``--begin`` puts the
new key's line beside the old one's, ``--finish`` leaves the new key's alone.

A manifest is a ``Secret`` document whose name is one Flux reads keys from (a layer's
``decryption.secretRef``, kustomize-controller's ``--sops-age-secret``, or ``sops-age``) with a
``data`` or ``stringData`` entry named ``*.agekey``, as Flux reads them. Only the old key's line
is replaced: another identity the entry holds (a second cluster's) stays as it is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence

from secretsmgr.errors import ConfigError, UsageError
from secretsmgr.fileops.keypath import set_at
from secretsmgr.keys.age import parse_identities
from secretsmgr.keys.manifest import entry_text
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.rotate.regenerate import Regeneration
from secretsmgr.sops.encvalue import is_enc
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment

DEFAULT_NAME = "sops-age"
_SECTIONS = ("stringData", "data")
_IDENTITY_START = "AGE-SECRET-KEY-1"


def key_secret_names(ctx: Inventory) -> frozenset[str]:
    """The names of the Secrets Flux reads age keys from in this repository."""
    names = {DEFAULT_NAME, *ctx.layers.controller_age_secrets}
    for pairs in ctx.layers.decryption_secrets(local=True).values():
        names.update(name for _namespace, name in pairs)
    return frozenset(names)


def _kind_and_name(doc: MapNode) -> tuple[object, object]:
    """The document's ``kind`` and ``metadata.name`` as they stand (ENC strings in a file sops
    encrypted whole)."""
    metadata = doc.get("metadata")
    return doc.get("kind"), metadata.get("name") if isinstance(metadata, MapNode) else None


def _key_entries(doc: MapNode, names: frozenset[str]) -> list[tuple[str, str]]:
    """(section, entry) of each ``*.agekey`` entry of ``doc`` (plaintext), when it is a key
    Secret."""
    kind, name = _kind_and_name(doc)
    if kind != "Secret" or not isinstance(name, str) or name not in names:
        return []
    return _agekey_entries(doc)


def _agekey_entries(doc: MapNode) -> list[tuple[str, str]]:
    """(section, entry) of each ``*.agekey`` entry of ``doc``: the keys of a SOPS file are in
    clear, even where sops encrypted every value (``kind`` and ``name`` too)."""
    found = []
    for section in _SECTIONS:
        held = doc.get(section)
        if isinstance(held, MapNode):
            keys = [item[0] for item in held.items if not isinstance(item, Comment)]
            found += [(section, key) for key in keys if key.endswith(".agekey")]
    return found


def is_key_manifest(entry: SopsEntry, names: frozenset[str]) -> bool:
    """Whether ``entry`` may hold a Secret Flux reads age keys from, key-less: a ``*.agekey``
    entry under ``data`` or ``stringData``, in a Secret of one of ``names`` where ``kind`` and
    the name are in clear (sops leaves them so under an ``encrypted_regex``); where they are
    encrypted too (the attack review of stop 48: a file encrypted whole kept the retired key),
    ``rekey`` judges them once the file is open."""
    sf = entry.sops_file
    if sf is None:
        return False
    for doc in sf.docs:
        if _key_entries(doc, names):
            return True
        hidden = any(isinstance(v, str) and is_enc(v) for v in _kind_and_name(doc))
        if hidden and _agekey_entries(doc):
            return True
    return False


def _public_of(line: str) -> str | None:
    try:
        publics = parse_identities(line, "a key Secret's entry").publics
    except ConfigError:  # no identity line this reads: left as it is
        return None
    return publics[0] if publics else None


def swap_identity(text: str, old: str, replacement: str) -> str | None:
    """``text`` (an identity file's content) with the identity of public key ``old`` replaced by
    ``replacement`` (identity-file text); a comment naming ``old`` goes with it. None when
    ``text`` holds no identity of ``old``."""
    publics = [_public_of(line.strip()) for line in text.splitlines()]
    if old not in publics:
        return None
    # what the replacement holds goes once: a second begin, or finish after begin, finds the
    # new key's line beside the old one's already
    going = {old, *parse_identities(replacement, "the replacement").publics}
    out: list[str] = []
    swapped = False
    for line, public in zip(text.splitlines(), publics, strict=True):
        stripped = line.strip()
        if stripped.startswith("#") and any(key in stripped for key in going):
            continue  # "# public key: <key>": it described a line replaced below
        if public in going:
            if public == old and not swapped:
                out += replacement.rstrip("\n").splitlines()
                swapped = True
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _decoded(value: str, where: str) -> str:
    # base64 wrapped over lines (`base64`'s default, which Kubernetes reads) is base64 still
    # (the second attack review of stop 48: such a Secret blocked the whole rotation)
    try:
        return base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where} is no base64 of an identity file") from exc


def rekey(
    targets: Iterable[SopsEntry],
    opened: Mapping[str, list[MapNode]],
    names: frozenset[str],
    old: str,
    replacement: str,
) -> tuple[dict[str, list[MapNode]], list[Regeneration]]:
    """The plaintext of every key manifest among ``targets`` (opened in ``opened``) whose
    ``*.agekey`` entries hold the identity of ``old``, with that identity replaced by
    ``replacement``; and what changed where."""
    changed: dict[str, list[MapNode]] = {}
    done: list[Regeneration] = []
    for entry in targets:
        docs = opened.get(entry.path)
        if docs is None:
            continue
        new_docs = list(docs)
        for number, doc in enumerate(docs):
            for section, key in _key_entries(doc, names):
                held = doc.get(section)
                assert isinstance(held, MapNode)
                value = held.get(key)
                if not isinstance(value, str):
                    continue
                where = f"{entry.path}: {section}.{key}"
                text = _decoded(value, where) if section == "data" else value
                swapped = swap_identity(text, old, replacement)
                if swapped is None:
                    continue
                written = (
                    base64.b64encode(swapped.encode("utf-8")).decode("ascii")
                    if section == "data"
                    else swapped
                )
                current = new_docs[number]
                updated = set_at(current, (section, key), written)
                assert isinstance(updated, MapNode)
                new_docs[number] = updated
                # dotted, as the detectors and --regenerate name it (a key may hold dots)
                done.append(Regeneration(entry.path, f"{section}.{key}", cluster_key=True))
        if new_docs != docs:
            changed[entry.path] = new_docs
    return changed, done


def both_keys(old_secret: str, old: str, new_secret: str, new: str) -> str:
    """The identity lines a key Secret holds during the overlap: the old key's, then the new's."""
    return entry_text(old_secret, old) + entry_text(new_secret, new)


def new_key_alone(new_secret: str, new: str) -> str:
    """The identity lines a key Secret holds after ``--finish``."""
    return entry_text(new_secret, new)


def key_secrets_left_alone(ctx: Inventory, entries: Sequence[SopsEntry]) -> tuple[str, ...]:
    """The key manifests among ``entries``, the files a cluster-key rotation leaves alone (not
    on the cluster key, outside Flux): a bootstrap copy encrypted to an admin key keeps the
    retired key unless someone changes it (the second attack review of stop 48)."""
    names = key_secret_names(ctx)
    return tuple(e.path for e in entries if e.has_metadata and is_key_manifest(e, names))
