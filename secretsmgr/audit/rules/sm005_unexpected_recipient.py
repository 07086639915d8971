"""SM005 unexpected-recipient: someone who should not be able to decrypt the file can."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext, keys_of_its_clusters
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.keys.bech32 import is_post_quantum, short_key
from secretsmgr.repo.sopsconfig import all_age_recipients
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.shellword import sh_path
from secretsmgr.sops.tree import SeqNode

_RULE_FIELDS = {"pgp": "pgp", "kms": "kms", "gcp_kms": "gcp_kms", "azure_kv": "azure_keyvault"}


def _rule_key_types(entry: SopsEntry) -> set[str]:
    """The non-age key types the file's own `.sops.yaml` rule asks for (pgp, kms, …)."""
    rule = entry.creation_rule
    if rule is None:
        return set()
    kinds: set[str] = set()
    for group in rule.key_groups:
        if group.pgp:
            kinds.add("pgp")
        if group.other:
            kinds.update(_RULE_FIELDS)  # kms/gcp/azure/vault ids are kept without their type
    return kinds


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Recipients that are neither a cluster key, ``next_cluster_key`` nor allowed.

    A non-age key (pgp, kms, …) is expected only when the file's own `.sops.yaml` creation rule
    names that key type (a PGP break-glass key, a cloud KMS backup); otherwise it is unexpected.
    """
    per_cluster: dict[str | None, frozenset[str]] = {}  # each cluster's keys, read once
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or not ctx.repo.cluster_keys_for(entry):
            continue
        expected = ctx.repo.expected_recipients(entry)
        if any(r not in expected for r in sf.metadata.age_recipients):
            # a key of the cluster that applies the file (its other files' rules name it), which
            # this file's rule leaves out (Ramblurr/home-lab, sweep 14: a catch-all rule naming
            # the operator's key alone made the cluster key a stranger)
            expected |= keys_of_its_clusters(ctx, entry.path, per_cluster)
        rule = entry.creation_rule
        outside = bool(ctx.repo.layers.layers) and not ctx.repo.layers_of(entry.path)
        if outside and rule is None:
            # a file no Flux layer applies and no rule covers (Terraform's, Talos's, an
            # archive's) has no policy to judge its keys by: no cluster reads it (sweep 67,
            # yyewolf/infra after init: its PGP files outside Flux failed check; SM011 and SM012
            # name the missing rule and the missing layer)
            continue
        if rule is not None and outside:
            # a file no Flux layer applies (Talos, Ansible …) follows its own .sops.yaml rule
            expected |= set(all_age_recipients(rule))
        own = set(ctx.repo.cluster_keys_for(entry))
        if rule is not None and own <= set(sf.metadata.age_recipients):
            # beside its own cluster's key, another cluster's own key (clusters:) that the
            # file's rule names: a rule shared by the clusters puts every file on both, as the
            # repository chose; its fix (sync to the rule) changed nothing (the third review,
            # after SM005 ran under clusters: pins). On the other key alone it stays unexpected.
            pinned = {c.cluster_key for c in ctx.repo.settings.clusters if c.cluster_key}
            expected |= pinned & set(all_age_recipients(rule))
        keyed = {group.cluster for group in ctx.repo.expected_keys(entry)}
        if any(name not in keyed for name in ctx.repo.layers.clusters_of(entry.path)):
            # a cluster applying it has no known key: any of its age keys may be that one, and
            # rotate keeps them (its fix, pasted, changed nothing: the fifth attack review)
            expected |= set(sf.metadata.age_recipients)
        strangers = [
            short_key(r) for r in dict.fromkeys(sf.metadata.age_recipients) if r not in expected
        ]
        wanted_types = _rule_key_types(entry)
        for group in sf.metadata.key_groups:
            for name, value in group.foreign:
                if name in wanted_types or (name == "hc_vault" and wanted_types):
                    continue
                count = len(value.items) if isinstance(value, SeqNode) else 1
                strangers.append(f"{count} {name} key" + ("s" if count > 1 else ""))
        if strangers:
            noun = "recipient" if len(strangers) == 1 else "recipients"
            yield RULE.finding(
                entry.path,
                f"unexpected {noun} {', '.join(strangers)}: "
                "neither the cluster key nor in allowed_recipients",
                fix=_fix(ctx, entry),
            )


def _fix(ctx: AuditContext, entry: SopsEntry) -> str:
    """``secretsmgr rotate`` syncs the recipients to the rule; a file with PGP, KMS or Vault
    keys, or several key groups, it refuses: sops re-wraps it, run by a holder of those keys
    (sweep 18: the fix said `rotate` on PGP-only files, which refused)."""
    sf = entry.sops_file
    assert sf is not None
    post_quantum = any(is_post_quantum(k) for k in ctx.repo.expected_recipients(entry))
    if not sf.metadata.foreign_kinds and len(sf.metadata.key_groups) <= 1 and not post_quantum:
        return f"secretsmgr rotate {sh_path(entry.path)}"
    kinds = sf.metadata.foreign_kinds or ("age",)
    return ctx.repo.sops_configs.updatekeys_hint(
        entry.path, kinds, ctx.repo.cluster_keys_for(entry)
    )


RULE = Rule(
    id=RuleId("SM005"),
    name="unexpected-recipient",
    severity=Severity.WARNING,
    needs=frozenset({Need.CLUSTER_KEY}),
    summary="A recipient that is neither the cluster key nor allowed",
    check=check,
)
