"""SM023 edited-outside-sops: what a SOPS file's MAC covers changed while the MAC stayed.

Every sops write renews the stored MAC (a fresh IV) and ``lastmodified``. A version that keeps
both from the version before while a value the MAC covers changed (a value in clear edited, an
``ENC[…]`` value moved or replaced, keys reordered) was edited by hand: its MAC cannot verify,
so ``sops decrypt``, ``sops edit`` and every rotation refuse it. Seen without a key: in
``check``, the staged file against HEAD; in ``audit --history``, each version against the last
one sops wrote. (SM007 verifies the MAC itself, with a key.)
"""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.shellword import sh_path
from secretsmgr.sops.mac import edited_outside_sops, mac_state

_REFUSED = "its MAC cannot verify: sops decrypt, sops edit and every rotation refuse it"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """The staged (or working) files against the last commit, and the hand edits HEAD holds."""
    reported: set[str] = set()
    for entry in ctx.repo.sops_files:
        earlier = ctx.earlier.get(entry.path)
        sf = entry.sops_file
        if earlier is None or sf is None or entry.plaintext_leaves or entry.malformed_leaves:
            continue  # a value added in clear is SM003's, a broken value SM006's
        if not edited_outside_sops(earlier, mac_state(sf.docs, sf.metadata)):
            continue
        reported.add(entry.path)
        where = sh_path(entry.path)
        yield RULE.finding(
            entry.path,
            "changed outside sops: values its MAC covers differ from HEAD's while the MAC and "
            f"lastmodified are HEAD's, so {_REFUSED}",
            fix=f"restore it (git checkout HEAD -- {where}) and make the change with "
            f"secretsmgr edit {where} (or sops edit), which writes a new MAC",
        )
    if ctx.history is None:
        return
    present = {entry.path for entry in ctx.repo.sops_files}
    for edit in ctx.history.hand_edits:
        if edit.path not in present or edit.path in reported:
            continue
        where = sh_path(edit.path)
        yield RULE.finding(
            edit.path,
            f"changed outside sops in commit {edit.commit[:12]} ({edit.date[:10]}): values its "
            f"MAC covers changed while the MAC and lastmodified stayed those of commit "
            f"{edit.since[:12]}, so {_REFUSED}",
            fix=f"a holder of its key rewrites it: sops edit --ignore-mac {where} (check the "
            f"values, then save: a new MAC); or restore what sops wrote (git checkout "
            f"{edit.since[:12]} -- {where}) and redo the change with secretsmgr edit {where}",
        )


RULE = Rule(
    id=RuleId("SM023"),
    name="edited-outside-sops",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file changed by hand under its old MAC: sops refuses to decrypt it",
    check=check,
)
