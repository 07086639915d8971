"""SM022 interrupted-write: a rotation journal awaits recovery, or a temp file of ours is left."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.plural import plural
from secretsmgr.repo.pending import temp_in_use

FIX = "secretsmgr recover   (every other write command finishes it first, too)"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """The pending journal of this repository root, and every leftover temp file."""
    journal = ctx.pending.journal
    if journal is not None:
        where = journal.files[0] if journal.files else ctx.repo.settings.changelog
        count = plural(len(journal.files), "file") if journal.readable else "an unreadable journal"
        if journal.owner_alive:
            message = (
                f"a rotation by pid {journal.owner_pid} is writing right now ({count}): "
                "the repository is between two states until it ends"
            )
            fix = "wait for it to finish, then run the audit again"
        else:
            message = (
                f"a rotation was interrupted ({count}; journal {journal.path.name}): files may "
                "hold a mix of old and new versions and the changelog may lack its entry"
            )
            fix = FIX
        yield RULE.finding(where, message, fix=fix)
    live = journal is not None and journal.owner_alive
    for temp in ctx.pending.temp_files:
        if temp_in_use(posixpath.basename(temp)):
            if live:
                continue  # the running rotation's own: said once, above (the attack review)
            yield RULE.finding(
                temp,
                "a temp file of a secretsmgr write that is running now (never the live file)",
                fix="wait for it to finish, then run the audit again",
            )
            continue
        yield RULE.finding(
            temp,
            "a temp file left by an interrupted secretsmgr write (never the live file)",
            fix=FIX,
        )


RULE = Rule(
    id=RuleId("SM022"),
    name="interrupted-write",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A secretsmgr write was interrupted: a pending journal or leftover temp files",
    check=check,
)
