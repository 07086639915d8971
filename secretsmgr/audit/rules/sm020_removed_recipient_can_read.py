"""SM020 removed-recipient-can-read: a recipient removed while the data key stayed the same.

``sops updatekeys`` (or deleting a recipient's stanza by hand) takes a key off a file but keeps
its data key: whoever held the removed identity kept the data key from an earlier version and
can decrypt this file, and every later edit of it, until the data key changes. Key-less, this
shows as every ``ENC[…]`` value byte-identical across the commit that removed the recipient.
"""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.keys.bech32 import short_key
from secretsmgr.shellword import sh_path

ROTATING_ACTIONS = ("rotate", "key-rotate-begin", "key-rotate-finish")


def _rotated_since(ctx: AuditContext, path: str, date: str) -> bool:
    from secretsmgr.audit.rules.sm019_exposed_in_history import _later

    return any(
        entry.action in ROTATING_ACTIONS
        and _later(entry.time, date)
        and any(record.path == path for record in entry.files)
        for entry in ctx.changelog
    )


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per (file, removed recipient) whose data key never changed since."""
    assert ctx.history is not None
    present = {e.path for e in ctx.repo.sops_files if e.sops_file is not None}
    seen: set[tuple[str, str]] = set()
    for removal in ctx.history.removals:
        key = (removal.path, removal.recipient)
        if removal.resolved_by is not None or removal.path not in present or key in seen:
            continue
        if _rotated_since(ctx, removal.path, removal.date):
            continue
        seen.add(key)
        yield RULE.finding(
            removal.path,
            f"{short_key(removal.recipient)} removed on {removal.date[:10]} "
            f"({removal.commit[:12]}) still decrypts this file: its data key did not change, "
            "rotate it",
            key_path=f"sops.age.{removal.recipient}",
            fix=f"secretsmgr rotate {sh_path(removal.path)}",
        )


RULE = Rule(
    id=RuleId("SM020"),
    name="removed-recipient-can-read",
    severity=Severity.ERROR,
    needs=frozenset({Need.GIT_HISTORY}),
    summary="A recipient removed while the data key stayed the same (it can still decrypt)",
    check=check,
)
