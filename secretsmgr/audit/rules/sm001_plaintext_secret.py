"""SM001 plaintext-secret: a Kubernetes Secret with values and no SOPS metadata."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per plaintext ``data``/``stringData`` key; the value is never shown."""
    for hit in ctx.secret_candidates:
        yield RULE.finding(
            hit.path,
            f"Secret {hit.secret} holds a plaintext value at {hit.key_path} "
            "and the file has no SOPS metadata",
            key_path=hit.key_path,
            fix=f"secretsmgr encrypt -i {hit.path}",
        )


RULE = Rule(
    id=RuleId("SM001"),
    name="plaintext-secret",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A Kubernetes Secret with data/stringData and no SOPS metadata",
    check=check,
)
