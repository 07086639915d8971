"""SM005 unexpected-recipient: someone who should not be able to decrypt the file can."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext, abbreviate
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.sops.tree import SeqNode


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Recipients that are neither a cluster key, ``next_cluster_key`` nor allowed.

    Non-age keys (pgp, kms, …) can never be allowed, so each one is unexpected too.
    """
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or not ctx.repo.cluster_keys_for(entry):
            continue
        expected = ctx.repo.expected_recipients(entry)
        strangers = [
            abbreviate(r) for r in dict.fromkeys(sf.metadata.age_recipients) if r not in expected
        ]
        for group in sf.metadata.key_groups:
            for name, value in group.foreign:
                count = len(value.items) if isinstance(value, SeqNode) else 1
                strangers.append(f"{count} {name} key" + ("s" if count > 1 else ""))
        if strangers:
            noun = "recipient" if len(strangers) == 1 else "recipients"
            yield RULE.finding(
                entry.path,
                f"unexpected {noun} {', '.join(strangers)}: "
                "neither the cluster key nor in allowed_recipients",
                fix=f"secretsmgr rotate {entry.path}",
            )


RULE = Rule(
    id=RuleId("SM005"),
    name="unexpected-recipient",
    severity=Severity.WARNING,
    needs=frozenset({Need.CLUSTER_KEY}),
    summary="A recipient that is neither the cluster key nor allowed",
    check=check,
)
