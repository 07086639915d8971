"""SM023 edited-outside-sops: what a SOPS file's MAC covers changed while the MAC stayed.

Every sops write renews the stored MAC (a fresh IV), with ``lastmodified`` as its AAD. A version
that keeps the MAC of a version sops wrote while ``lastmodified`` or a value the MAC covers
changed (a value in clear edited, an ``ENC[…]`` value moved or replaced, keys reordered) was
edited by hand: its MAC cannot verify, so ``sops decrypt``, ``sops edit`` and every rotation
refuse it. Seen without a key: in ``check``, the staged file against HEAD (and MERGE_HEAD), a
new file against the one a move or copy took it from; in ``audit``, the working tree's; in
``audit --history``, each version against the last one sops wrote. (SM007 verifies the MAC
itself, with a key.)
"""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext, own_key_flags, reencrypt_hint
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.shellword import sh_path
from secretsmgr.sops.mac import MacState, edited_outside_sops, mac_state

_REFUSED = "its MAC cannot verify: sops decrypt, sops edit and every rotation refuse it"


def _source(ctx: AuditContext, path: str, now: MacState) -> str | None:
    """For a file the change adds: the file it was moved or copied from by hand, which holds
    the same MAC with other values: a removed file, or another file as the last commit holds
    it when the change touches it too (the attack review: an unchanged copy was blamed for its
    source's hand edit, and a copy edited by hand passed once sops rewrote its source), else
    as it is now."""
    if not now.mac:
        return None
    earlier = ctx.earlier
    candidates = list(earlier.removed)
    for other, states in earlier.by_path.items():
        candidates += [(other, state) for label, state in states if label == "HEAD"]
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if entry.path == path or sf is None or sf.metadata.mac != now.mac:
            continue
        if entry.path in earlier.by_path or entry.path in earlier.added:
            continue  # its last commit's state is above; a new file is no source
        if not (entry.plaintext_leaves or entry.malformed_leaves):
            candidates.append((entry.path, mac_state(sf.docs, sf.metadata)))
    return next(
        (other for other, state in candidates if other != path and edited_outside_sops(state, now)),
        None,
    )


def _changed(ctx: AuditContext, path: str, now: MacState) -> tuple[str, str] | None:
    """(message, fix) when the file the change touches keeps an earlier version's MAC with
    other values: the last commit's, the merged branch's, or the file a copy was made of."""
    where = sh_path(path)
    redo = f"secretsmgr edit {where} (or sops edit), which writes a new MAC"
    before = ctx.earlier.by_path.get(path, ())
    matched = next((label for label, state in before if edited_outside_sops(state, now)), None)
    if matched is not None and matched != "HEAD":
        # a conflict (merge, cherry-pick, revert, rebase) resolved by hand with the other
        # side's block (the attack review: MERGE_HEAD alone was compared)
        return (
            f"a conflict resolved by hand: it keeps the MAC of {matched} with other values (or "
            f"lastmodified), so {_REFUSED}",
            f"take one side whole (git checkout HEAD -- {where}, or git checkout {matched} -- "
            f"{where}) and redo the other side's change with {redo}",
        )
    if matched is not None:
        return (
            "changed outside sops: values its MAC covers (or its lastmodified) differ from the "
            f"last commit's while the MAC is that commit's, so {_REFUSED}",
            f"restore it (git checkout HEAD -- {where}) and make the change with {redo}",
        )
    source = _source(ctx, path, now) if path in ctx.earlier.added else None
    if source is None:
        return None
    return (
        f"a copy of {source} changed outside sops: it keeps that file's MAC with other values, "
        f"so {_REFUSED}",
        f"copy it again unchanged (git show HEAD:{sh_path(source)} > {where}, or cp) and make "
        f"the change with {redo}",
    )


def check(ctx: AuditContext) -> Iterator[Finding]:
    """The changed files against the last commit, and the hand edits HEAD holds."""
    reported: set[str] = set()
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or entry.plaintext_leaves or entry.malformed_leaves:
            continue  # a value added in clear is SM003's, a broken value SM006's
        if entry.path not in ctx.earlier.by_path and entry.path not in ctx.earlier.added:
            continue
        if entry.path in ctx.earlier.restored:
            continue  # the version sops wrote put back over HEAD's hand edit
        found = _changed(ctx, entry.path, mac_state(sf.docs, sf.metadata))
        if found is not None:
            reported.add(entry.path)
            yield RULE.finding(entry.path, found[0], fix=found[1])
    yield from _committed(ctx, reported)


def _committed(ctx: AuditContext, reported: set[str]) -> Iterator[Finding]:
    """The hand edits HEAD holds (``audit --history``)."""
    if ctx.history is None:
        return
    present = {entry.path: entry for entry in ctx.repo.sops_files}
    for edit in ctx.history.hand_edits:
        entry = present.get(edit.path)
        if entry is None or edit.path in reported:
            continue
        where = sh_path(edit.path)
        sf = entry.sops_file
        unruled = entry.creation_rule is None
        own = own_key_flags(sf.metadata) if sf is not None and unruled else None
        restore = (
            f"put back what sops wrote (git show {edit.since[:12]}:{sh_path(edit.since_path)} > "
            f"{where}) and redo the change with secretsmgr edit {where}"
        )
        if unruled and own is None:
            # no rule and no flags that say its keys and rule (key groups, mac_only_encrypted):
            # a sops line would fail, so only the restore is offered (the third attack review)
            fix = restore
        else:
            rewrite = reencrypt_hint(
                edit.path, config=entry.sops_config, ignore_mac=True, own_keys=own
            )
            fix = (
                "a holder of its key re-encrypts it, ignoring the old MAC (check the values "
                f"after): {rewrite}; or {restore}"
            )
        yield RULE.finding(
            edit.path,
            f"changed outside sops in commit {edit.commit[:12]} ({edit.date[:10]}): values its "
            f"MAC covers (or its lastmodified) changed while the MAC stayed that of commit "
            f"{edit.since[:12]}, so {_REFUSED}",
            fix=fix,
        )


RULE = Rule(
    id=RuleId("SM023"),
    name="edited-outside-sops",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="A SOPS file changed by hand under its old MAC: sops refuses to decrypt it",
    check=check,
)
