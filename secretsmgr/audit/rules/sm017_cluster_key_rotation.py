"""SM017 cluster-key-rotation: where each file stands while the cluster key is being replaced."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import OLD_KEY_ONLY, AuditContext, rotation_cure
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.keys.bech32 import short_key


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One info per SOPS file and rotation under way (``next_cluster_key``, or a cluster's own
    under ``clusters:``): old+new, old only, new only."""
    for cluster, old, new in ctx.repo.rotations:
        whose = "" if cluster is None else f" of cluster {cluster}"
        pair = f"{short_key(old)} -> {short_key(new)}"
        for entry in ctx.repo.sops_files:
            sf = entry.sops_file
            if sf is None:
                continue
            have = set(sf.metadata.age_recipients)
            if old in have and new in have:
                state, fix = (
                    "on the old and the new key (this file is ready; finishing also needs the "
                    "cluster to hold the new key)",
                    None,
                )
            elif old in have:
                # SM011 reports it too, with the same cure
                state, fix = OLD_KEY_ONLY, rotation_cure(cluster)
            elif new in have:
                state, fix = "on the new key only", None
            else:
                continue  # neither key: SM004 reports it
            yield RULE.finding(
                entry.path, f"cluster-key rotation{whose} {pair} under way: {state}", fix=fix
            )


def precondition(ctx: AuditContext) -> str | None:
    """Only while a rotation is under way."""
    return None if ctx.repo.rotations else "no cluster-key rotation under way"


RULE = Rule(
    id=RuleId("SM017"),
    name="cluster-key-rotation",
    severity=Severity.INFO,
    # A report on a process under way, not a defect: audit shows it, the commit gate does not.
    needs=frozenset({Need.HISTORY}),
    summary="A cluster-key rotation is under way: which files are on which key",
    check=check,
    precondition=precondition,
)
