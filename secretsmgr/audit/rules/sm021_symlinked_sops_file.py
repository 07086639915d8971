"""SM021 symlinked-sops-file: a SOPS file that is a symbolic link."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.shellword import sh_path


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Every SOPS file that is a link. Its target is never read when it lies outside."""
    for link in ctx.repo.symlinks:
        if link.target is None:
            where = "a file outside the repository (never read)"
            fix = (
                f"git rm {sh_path(link.path)}, and commit the file itself if this "
                "repository needs it"
            )
        else:
            where = link.target
            fix = f"git rm {sh_path(link.path)}, and reference {link.target} directly"
        yield RULE.finding(
            link.path,
            f"a symbolic link to {where}: Flux never deploys a link (source-controller leaves "
            "links out of the artifact) and secretsmgr writers refuse it",
            fix=fix,
        )


RULE = Rule(
    id=RuleId("SM021"),
    name="symlinked-sops-file",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file that is a symbolic link (Flux never deploys it; writers refuse it)",
    check=check,
)
