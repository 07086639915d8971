"""SM004 cluster-key-missing: Flux's key cannot open the file."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext, abbreviate
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Files none of whose age recipients is a cluster key (or, with several key groups,
    whose groups holding a cluster key are fewer than the Shamir threshold)."""
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        keys = ctx.repo.cluster_keys_for(entry)
        if sf is None or not keys or not sf.metadata.age_recipients:
            continue  # unreadable or non-age files are SM006's
        shown = ", ".join(abbreviate(k) for k in keys)
        fix = f"secretsmgr rotate {entry.path}"
        groups = sf.metadata.key_groups
        if not set(keys) & set(sf.metadata.age_recipients):
            yield RULE.finding(
                entry.path,
                f"not encrypted to the cluster key ({shown}): Flux cannot decrypt it",
                fix=fix,
            )
        elif len(groups) > 1:
            threshold = sf.metadata.shamir_threshold or len(groups)
            opened = sum(1 for g in groups if set(keys) & set(g.recipients))
            if opened < threshold:
                yield RULE.finding(
                    entry.path,
                    f"the cluster key ({shown}) opens {opened} of the {threshold} key groups "
                    "needed: Flux cannot decrypt it",
                    fix=fix,
                )


RULE = Rule(
    id=RuleId("SM004"),
    name="cluster-key-missing",
    severity=Severity.ERROR,
    needs=frozenset({Need.CLUSTER_KEY}),
    summary="The cluster key is not among the file's age recipients",
    check=check,
)
