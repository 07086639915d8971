"""Files Flux decrypts with the repository's own PGP keys, where the age cluster key is not the
one they need: every layer that applies the file reads a Secret named for PGP keys (Flux's guide
names it ``sops-gpg``), and the file is on PGP keys only, each one a `.sops.yaml` rule of the
repository names. SM004 leaves them alone; ``rotate`` and ``init`` do not call them SM004."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

from secretsmgr.repo.flux import Layer
from secretsmgr.repo.flux.objects import pgp_secret_name
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.model import SopsMetadata, pgp_id


def repository_pgp_ids(inv: Inventory) -> set[str]:
    """The PGP keys (as ``pgp_id`` compares them) any `.sops.yaml` rule of ``inv`` names."""
    return {
        pgp_id(k)
        for config in inv.sops_configs.all_loaded()
        for rule in config.rules
        for group in rule.key_groups
        for k in group.pgp
    }


def _pgp_layers(layers: Sequence[Layer]) -> bool:
    """Whether every one of ``layers`` decrypts with a Secret named for PGP keys."""
    return bool(layers) and all(
        layer.decryption is not None
        and layer.decryption.secret_ref is not None
        and pgp_secret_name(layer.decryption.secret_ref)
        for layer in layers
    )


def _repository_pgp(metadata: SopsMetadata, named: set[str]) -> bool:
    """Whether the file is on PGP keys only, each one a `.sops.yaml` rule of the repository
    names (by fingerprint or the key id at its end): the keys the repository decrypts with,
    not a stranger's (the review: a file on an unrelated PGP key passed the gate)."""
    ids = [key for g in metadata.key_groups for field, key in g.foreign_ids() if field == "pgp"]
    kinds = set(metadata.foreign_kinds)
    return bool(ids) and kinds == {"pgp"} and all(_named(k, named) for k in ids)


def on_flux_pgp(inv: Inventory, entry: SopsEntry, named: set[str] | None = None) -> bool:
    """Whether Flux decrypts ``entry`` with the repository's PGP keys (see the module);
    ``named``: ``repository_pgp_ids(inv)``, when the caller asks about many files."""
    sf = entry.sops_file
    if sf is None or sf.metadata.age_recipients:
        return False
    ids = repository_pgp_ids(inv) if named is None else named
    return _pgp_layers(inv.layers.placements(entry.path)) and _repository_pgp(sf.metadata, ids)


def flux_pgp_keys(inv: Inventory) -> dict[str | None, tuple[str, ...]]:
    """Per cluster, the PGP keys a `.sops.yaml` that init writes keeps beside the cluster's age
    key, so that the PGP files its layers decrypt with a Secret named for PGP keys stay the
    repository's own (SM004) and sops goes on encrypting to what Flux decrypts with (sweep 19,
    larsdbr/k8s-platform: init's rules named the age key alone, and SM004 blocked init's own
    commit). Only keys on every such PGP file of the cluster, and, where the repository's
    rules name PGP keys, one of those: a stranger's key on one file is never copied into the
    rule that every new secret is encrypted to (the third review)."""
    named = repository_pgp_ids(inv)
    found: list[tuple[Iterable[str | None], list[str]]] = []
    for entry in inv.sops_files:
        sf = entry.sops_file
        layers = inv.layers.placements(entry.path)
        if sf is None or not _pgp_layers(layers):
            continue
        ids = [k for g in sf.metadata.key_groups for f, k in g.foreign_ids() if f == "pgp"]
        if ids:
            found.append(({layer.cluster for layer in layers}, ids))
    return keys_on_every_file(found, lambda k: not named or _named(k, named))


K = TypeVar("K", bound=Hashable)


def keys_on_every_file(
    found: Iterable[tuple[Iterable[str | None], Sequence[K]]], keep: Callable[[K], bool]
) -> dict[str | None, tuple[K, ...]]:
    """Per cluster, the keys every one of its files is on, in first-seen order, that ``keep``
    keeps: ``found`` holds each file's clusters and keys (a key on one file only is never
    copied into the rule every new secret is encrypted to). Clusters left with none are out."""
    common: dict[str | None, dict[K, None]] = {}
    for clusters, keys in found:
        for cluster in clusters:
            held = common.get(cluster)
            common[cluster] = (
                dict.fromkeys(keys) if held is None else {k: None for k in held if k in keys}
            )
    return {
        cluster: kept
        for cluster, keys in common.items()
        if (kept := tuple(k for k in keys if keep(k)))
    }


def _named(key: str, named: set[str]) -> bool:
    """Whether a rule of the repository names ``key`` (by fingerprint or its key id)."""
    return any(pgp_id(key).endswith(n) or n.endswith(pgp_id(key)) for n in named)
