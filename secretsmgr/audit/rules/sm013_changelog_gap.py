"""SM013 changelog-gap: the file's current state has no changelog entry."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.changelog.chain import covered, datakey_id


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files whose current state no changelog entry records, and changelog lines that
    rewrite what git already holds.

    An entry covers a file only when it records the file's path, its ``lastmodified`` and the
    sha256 of its current bytes (``sha256_after``); when the audit opened the file's data key,
    the entry must name that data key too. A line anyone could compute from the file alone
    (path, lastmodified, sha256) is caught by the data-key check with a key, and by its git
    history (``log --verify``) without one.
    """
    seen = covered(ctx.changelog)
    stated = {(path, lm) for path, lm, _ in seen}
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or entry.path == ctx.repo.settings.changelog:
            continue
        state = (entry.path, sf.metadata.lastmodified, entry.sha256)
        record = seen.get(state)
        key = ctx.data_keys.get(entry.path)
        if record is not None:
            if key is None or record.datakey_id in (None, datakey_id(key)):
                continue
            message = (
                f"lastmodified {sf.metadata.lastmodified}: its changelog entry names another "
                "data key than the file holds (the entry does not describe this file)"
            )
        elif (entry.path, sf.metadata.lastmodified) in stated:
            message = (
                f"lastmodified {sf.metadata.lastmodified} is recorded, but the file's bytes "
                "differ from the recorded state (sha256_after): it was changed outside secretsmgr"
            )
        else:
            message = (
                f"lastmodified {sf.metadata.lastmodified} has no changelog entry: "
                "it was changed outside secretsmgr"
            )
        yield RULE.finding(
            entry.path,
            message,
            fix=f"secretsmgr rotate {entry.path} --reason '…'   (records who and why)",
        )
    history = ctx.changelog_history
    if history is not None and ctx.changelog:
        for problem in history.anchoring().problems:
            yield RULE.finding(
                ctx.repo.settings.changelog,
                f"changelog not anchored in git: {problem}",
                fix=f"restore the committed lines of {ctx.repo.settings.changelog} from git",
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
    summary="The file's current state has no changelog entry",
    check=check,
    precondition=precondition,
)
