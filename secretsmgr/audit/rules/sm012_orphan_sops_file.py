"""SM012 orphan-sops-file: no Flux layer reaches the file."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files outside every layer's kustomize tree."""
    for entry in ctx.repo.sops_files:
        if not ctx.repo.layers_of(entry.path):
            yield RULE.finding(
                entry.path,
                "no Flux Kustomization reaches this SOPS file: it is never applied",
                fix=f"list it in a kustomization.yaml, or git rm {entry.path}",
            )


def precondition(ctx: AuditContext) -> str | None:
    """Without any Flux Kustomization every file would be an orphan: say so once instead."""
    return None if ctx.repo.layers.layers else "no Flux Kustomization found"


RULE = Rule(
    id=RuleId("SM012"),
    name="orphan-sops-file",
    severity=Severity.INFO,
    needs=frozenset(),
    summary="A SOPS file no layer reaches",
    check=check,
    precondition=precondition,
)
