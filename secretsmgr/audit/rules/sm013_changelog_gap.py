"""SM013 changelog-gap: the file's current state has no changelog entry."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.changelog.chain import Coverage, RecordedStates, State, datakey_id
from secretsmgr.repo.sopsconfig import sops_rotate_hint
from secretsmgr.shellword import sh_path, sh_word


def check(ctx: AuditContext) -> Iterator[Finding]:
    """SOPS files whose current state is not the last one the changelog records for them, and
    changelog lines that rewrite what git already holds.

    A state is the file's path, its ``lastmodified`` and the sha256 of its bytes (the record's
    ``sha256_after``); it must be the *last* state recorded for the path (bytes rolled back to
    an earlier state bring back a rotated-away data key). Every record of that state must name
    one data key, and, when the audit opened the file's data key, that one. A line anyone could
    compute from the file alone (path, lastmodified, sha256) is caught by the data-key check
    with a key, and by its git history (``log --verify``) without one.
    """
    recorded = RecordedStates(ctx.changelog)
    present = frozenset(e.path for e in ctx.repo.sops_files)
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None or entry.path == ctx.repo.settings.changelog:
            continue
        lm = sf.metadata.lastmodified
        state = (entry.path, lm, entry.sha256)
        message = _problem(ctx, entry.path, state, recorded)
        if message is None:
            continue
        moved = recorded.moved_from(state, present)
        if moved is not None:
            # sweep 31 (nwarila-platform): a `git mv` was "changed outside secretsmgr", and the
            # fix offered a new data key for a file whose key nothing exposed
            yield RULE.finding(
                entry.path,
                f"lastmodified {lm} is recorded for {moved}, which is gone: the same bytes, "
                "moved or renamed",
                fix=f"secretsmgr log --adopt --reason {sh_word('moved from ' + moved)}   (records "
                "it under its new path, and the old one as removed)",
            )
            continue
        yield RULE.finding(
            entry.path,
            message,
            fix=(
                # rotate refuses such a file (sweep 22, FrederikS/homelab: its own hint, sops
                # rotate -i, brought SM013 straight back); adopt records it as it is
                # updatekeys keeps the data key (sweep 87, vhaudiquet/homeprod: "sops gave it
                # its new data key" after sops updatekeys)
                "secretsmgr log --adopt --reason '…'   (records it as it is: sops changed it, "
                "and sops writes no changelog)"
                if sops_rotate_hint(entry.path, sf.metadata) is not None
                else f"secretsmgr rotate {sh_path(entry.path)} --reason '…'   (records who and why)"
            ),
        )
    history = ctx.changelog_history
    if history is not None and ctx.changelog:
        for problem in history.anchoring().problems:
            yield RULE.finding(
                ctx.repo.settings.changelog,
                f"changelog not anchored in git: {problem}",
                fix=f"restore the committed lines of {ctx.repo.settings.changelog} from git",
            )


def _problem(
    ctx: AuditContext,
    path: str,
    state: State,
    recorded: RecordedStates,
) -> str | None:
    lm = state[1]
    found = recorded.coverage(state)
    if found is Coverage.CURRENT:
        ids = recorded.key_ids(state)
        key = ctx.data_keys.get(path)
        if key is not None and not ids <= {datakey_id(key)}:
            return (
                f"lastmodified {lm}: its changelog entry names another data key than the file "
                "holds (the entry does not describe this file)"
            )
        if len(ids) > 1:
            return (
                f"lastmodified {lm}: the changelog records this state with {len(ids)} different "
                "data keys (at most one of those entries describes the file)"
            )
        return None
    if found is Coverage.ROLLED_BACK:
        return (
            f"lastmodified {lm}: the file's bytes are an earlier recorded state; a later entry "
            "recorded other bytes (rolled back: a rotated-away data key may be back)"
        )
    if found is Coverage.OTHER_BYTES:
        return (
            f"lastmodified {lm} is recorded, but the file's bytes differ from the recorded "
            "state (sha256_after): it was changed outside secretsmgr"
        )
    return f"lastmodified {lm} has no changelog entry: it was changed outside secretsmgr"


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
