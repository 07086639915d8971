"""Files Flux decrypts with a cloud KMS key through kustomize-controller's own identity, where
the age cluster key is not the one they need: every layer that applies the file decrypts with
``decryption: {provider: sops}`` and no ``secretRef`` (the controller's workload identity, on
AWS, GCP or Azure), and the file's cloud KMS keys open enough of its key groups. SM004 leaves
them alone, ``init`` keeps their keys in the rules it writes, and neither ``rotate`` nor
``key rotate`` asks them for the age key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from secretsmgr.repo.flux import Layer
from secretsmgr.repo.inventory import Inventory
from secretsmgr.repo.pgpkeys import keys_on_every_file, on_flux_pgp
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.tree import MapNode, SeqNode

CLOUD_KMS = frozenset(("kms", "gcp_kms", "azure_kv"))
# the `.sops.yaml` field that names each kind (sops's metadata calls Azure's azure_kv)
RULE_FIELD = {"kms": "kms", "gcp_kms": "gcp_kms", "azure_kv": "azure_keyvault"}


def _controller_layers(layers: Sequence[Layer]) -> bool:
    """Whether every one of ``layers`` decrypts with the controller's own identity. A
    controller given ``--sops-age-secret`` still does: that Secret adds age keys only, and the
    cloud credentials stay the workload identity's (kustomize-controller's decryptor imports
    nothing else from it, so as not to break workload identity; the attack review of sweep 87:
    after init's step added the flag, every KMS file was SM004 again)."""
    return bool(layers) and all(
        x.decryption is not None and x.decryption.is_sops and x.decryption.secret_ref is None
        for x in layers
    )


def on_controller_kms(inv: Inventory, entry: SopsEntry) -> bool:
    """Whether Flux decrypts ``entry`` with a cloud KMS key through the controller's identity
    (see the module; sweep 84, nishioka-shinji/my_infra: after init named an age cluster key,
    eight GCP KMS files were SM004 "Flux cannot decrypt it")."""
    sf = entry.sops_file
    if sf is None or not set(sf.metadata.foreign_kinds) & CLOUD_KMS:
        return False
    groups = sf.metadata.key_groups
    threshold = sf.metadata.shamir_threshold or len(groups)
    opened = sum(1 for g in groups if any(name in CLOUD_KMS for name, _ in g.foreign))
    if opened < threshold:
        return False  # the KMS keys open too few key groups (the attack review of sweep 84)
    return _controller_layers(inv.layers.placements(entry.path))


def flux_needs_no_age(inv: Inventory, entry: SopsEntry, pgp_named: set[str] | None = None) -> bool:
    """Whether the Flux layers that apply ``entry`` decrypt it with another key than an age
    one: the repository's PGP key (``on_flux_pgp``; ``pgp_named`` as it takes) or a cloud KMS
    key through the controller's identity (``on_controller_kms``)."""
    return on_flux_pgp(inv, entry, pgp_named) or on_controller_kms(inv, entry)


def _bound(item: MapNode) -> bool:
    """Whether an AWS key's entry carries what a flat rule cannot: an encryption context or an
    AWS profile (a ``key_groups`` rule can; init writes flat ones)."""
    context, profile = item.get("context"), item.get("aws_profile")
    return (isinstance(context, MapNode) and bool(context.items)) or (
        isinstance(profile, str) and bool(profile)
    )


def _rule_ids(kind: str, entries: object) -> list[str]:
    """The keys of one metadata field as a `.sops.yaml` rule names them: an AWS key with its
    role as ``ARN+ROLE``; one with an encryption context or an AWS profile is left out (a flat
    rule cannot carry them: ``bound_kms_keys`` names them)."""
    out: list[str] = []
    for item in entries.items if isinstance(entries, SeqNode) else ():
        if not isinstance(item, MapNode):
            continue
        if kind == "kms":
            arn, role = item.get("arn"), item.get("role")
            if not isinstance(arn, str) or not arn or _bound(item):
                continue
            out.append(f"{arn}+{role}" if isinstance(role, str) and role else arn)
        elif kind == "gcp_kms":
            resource = item.get("resource_id")
            if isinstance(resource, str) and resource:
                out.append(resource)
        elif kind == "azure_kv":
            url, name, version = (item.get(f) for f in ("vault_url", "name", "version"))
            if isinstance(url, str) and url and isinstance(name, str) and name:
                tail = f"/{version}" if isinstance(version, str) and version else ""
                out.append(f"{url.rstrip('/')}/keys/{name}{tail}")
    return out


def _repository_kms(inv: Inventory) -> set[str]:
    """The cloud KMS keys any `.sops.yaml` rule of ``inv`` names (an AWS key without its
    role)."""
    return {
        k.split("+", 1)[0]
        for config in inv.sops_configs.all_loaded()
        for rule in config.rules
        for group in rule.key_groups
        for k in group.other
    }


def controller_kms_keys(inv: Inventory) -> dict[str | None, tuple[tuple[str, str], ...]]:
    """Per cluster, the cloud KMS keys (rule field, key) that a `.sops.yaml` init writes keeps
    beside the cluster's age key, so that files sops creates under it stay open to the
    controller's identity (sweep 84, nishioka-shinji/my_infra: init's root rule named the new
    age key alone, and every file made under it needed a Secret that Flux does not read).
    Only keys on every such file of the cluster, and, where the repository's rules name cloud
    KMS keys, one of those: a stranger's key on one file is never copied into the rule that
    every new secret is encrypted to."""
    named = _repository_kms(inv)
    found: list[tuple[Iterable[str | None], list[tuple[str, str]]]] = []
    for entry in inv.sops_files:
        sf = entry.sops_file
        if sf is None or not on_controller_kms(inv, entry):
            continue
        keys = [
            (RULE_FIELD[kind], key)
            for group in sf.metadata.key_groups
            for kind, value in group.foreign
            if kind in CLOUD_KMS
            for key in _rule_ids(kind, value)
        ]
        found.append((inv.layers.clusters_of(entry.path), keys))
    return keys_on_every_file(found, lambda k: not named or k[1].split("+", 1)[0] in named)


def bound_kms_keys(inv: Inventory) -> dict[str, int]:
    """The AWS keys of files the controller's identity decrypts that carry an encryption
    context or an AWS profile, each with how many files are on it: the rules init writes
    leave them out, and its note says so (the attack review of sweep 87: they went unsaid)."""
    found: dict[str, int] = {}
    for entry in inv.sops_files:
        sf = entry.sops_file
        if sf is None or not on_controller_kms(inv, entry):
            continue
        arns = {
            item.get("arn")
            for group in sf.metadata.key_groups
            for kind, value in group.foreign
            if kind == "kms"
            for item in (value.items if isinstance(value, SeqNode) else ())
            if isinstance(item, MapNode) and _bound(item)
        }
        for arn in arns:
            if isinstance(arn, str) and arn:
                found[arn] = found.get(arn, 0) + 1
    return found
