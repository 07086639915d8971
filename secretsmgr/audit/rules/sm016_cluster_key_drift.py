"""SM016 cluster-key-drift: the repository encrypts to a key the live cluster does not hold."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.keys.bech32 import short_key
from secretsmgr.repo.inventory import LiveKeys
from secretsmgr.repo.settings import SETTINGS_NAME
from secretsmgr.repo.sopsconfig import SOPS_CONFIG_NAME, all_age_recipients
from secretsmgr.shellword import sh_word


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Compare the repository's own cluster key(s) with each live Secret's ``*.agekey`` keys.

    ``cluster_key`` and, during a rotation, ``next_cluster_key`` must each be held. When the
    key comes from `.sops.yaml` rules (which also name admin keys), a rule is in drift only
    when none of its recipients is held. A Secret read through one cluster's own context
    (``clusters.NAME.context``) is compared with that cluster's key.
    """
    for live in ctx.live_clusters:
        if live.cluster is None:
            yield from _every_cluster(ctx, live)
        else:
            yield from _one_cluster(ctx, live)


def _one_cluster(ctx: AuditContext, live: LiveKeys) -> Iterator[Finding]:
    assert live.cluster is not None
    cluster = ctx.repo.layers.cluster(live.cluster)
    key = cluster.cluster_key if cluster is not None else None
    if key is None:
        return
    spec = ctx.repo.settings.cluster(live.cluster)
    pending = spec.next_cluster_key if spec is not None and spec.cluster_key == key else None
    shown_held = ", ".join(short_key(k) for k in live.publics) or "none"
    for what, public, fix in (
        ("key", key, f"secretsmgr key export --apply --cluster {sh_word(live.cluster)}"),
        (
            "pending new key",
            pending,
            f"secretsmgr key rotate --begin --apply --cluster {sh_word(live.cluster)}",
        ),
    ):
        if public is None or public in live.publics:
            continue
        yield RULE.finding(
            SETTINGS_NAME,
            f"cluster {live.cluster}'s {what} {short_key(public)} ({SETTINGS_NAME} clusters."
            f"{live.cluster}) is not held by {live.label} (it holds {shown_held}): Flux cannot "
            "decrypt files encrypted only to it",
            fix=fix,
        )


def _every_cluster(ctx: AuditContext, live: LiveKeys) -> Iterator[Finding]:
    held = set(live.publics)
    source = ctx.repo.repo_cluster_key_source
    shown_held = ", ".join(short_key(k) for k in live.publics) or "none"
    if source == SOPS_CONFIG_NAME:
        seen: set[tuple[str, ...]] = set()
        for entry in ctx.repo.sops_files:
            rule = entry.creation_rule
            if rule is None:
                continue
            keys = all_age_recipients(rule)
            if not keys or keys in seen:
                continue
            seen.add(keys)
            if not held & set(keys):
                where = f"{entry.sops_config or SOPS_CONFIG_NAME}"
                yield RULE.finding(
                    where,
                    f"rule {entry.creation_rule_number} encrypts to "
                    f"{', '.join(short_key(k) for k in keys)}, none of which {live.label} "
                    f"holds ({shown_held}): Flux cannot decrypt its files",
                    fix="secretsmgr key export --apply",
                )
        return
    where = source or SETTINGS_NAME  # .secretsmgr.yaml, or SECRETSMGR_CLUSTER_KEY
    pending = ctx.repo.rotation_pending
    for key in ctx.repo.repo_cluster_keys:
        if key in held:
            continue
        if pending is not None and key == pending[1]:
            what, fix = "the pending new cluster key", "secretsmgr key rotate --begin --apply"
        else:
            what, fix = "the cluster key", "secretsmgr key export --apply"
        yield RULE.finding(
            where,
            f"{what} {short_key(key)} ({where}) is not held by {live.label} "
            f"(it holds {shown_held}): Flux cannot decrypt files encrypted only to it",
            fix=fix,
        )


def precondition(ctx: AuditContext) -> str | None:
    """Nothing to compare when the repository names no cluster key."""
    if ctx.repo.repo_cluster_keys or any(c.cluster_key for c in ctx.repo.layers.clusters):
        return None
    return "the repository names no cluster key"


RULE = Rule(
    id=RuleId("SM016"),
    name="cluster-key-drift",
    severity=Severity.ERROR,
    needs=frozenset({Need.CLUSTER}),
    summary="The repo's cluster key is not held by the live cluster's sops-age Secret",
    check=check,
    precondition=precondition,
)
