"""SM003 unencrypted-value: a value the file's own rule encrypts that is not ``ENC[…]``."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Leaves selected by the metadata's encryption rule that hold a plain value.

    Empty strings, nulls and comments are not findings: sops leaves them as they are.
    """
    for entry in ctx.repo.sops_files:
        if entry.sops_file is None:
            continue
        rule = entry.sops_file.metadata.rule
        for key_path in entry.plaintext_leaves:
            yield RULE.finding(
                entry.path,
                f"{key_path} is not encrypted although the file's rule "
                f"({rule.kind.value}: {rule.value}) says it must be",
                key_path=key_path,
                fix=f"secretsmgr edit {entry.path}",
            )


RULE = Rule(
    id=RuleId("SM003"),
    name="unencrypted-value",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A value the file's own rule says must be encrypted is not ENC[…] at all",
    check=check,
)
