"""SM013 changelog-gap: the file's current state has no changelog entry."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.changelog.chain import covered


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files whose (path, lastmodified) no changelog entry records."""
    seen = covered(ctx.changelog)
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or (entry.path, sf.metadata.lastmodified) in seen:
            continue
        yield RULE.finding(
            entry.path,
            f"lastmodified {sf.metadata.lastmodified} has no changelog entry: "
            "it was changed outside secretsmgr rotate",
            fix=f"secretsmgr rotate {entry.path} --reason '…'   (records who and why)",
        )


def precondition(ctx: AuditContext) -> str | None:
    """A repository that keeps no changelog yet gets one note, not a warning per file."""
    if ctx.changelog_error is not None:
        return f"changelog unreadable: {ctx.changelog_error}"
    if not ctx.changelog_present:
        return f"no changelog yet ({ctx.repo.settings.changelog})"
    return None


RULE = Rule(
    id=RuleId("SM013"),
    name="changelog-gap",
    severity=Severity.WARNING,
    needs=frozenset({Need.HISTORY}),
    summary="The file's current lastmodified has no changelog entry",
    check=check,
    precondition=precondition,
)
