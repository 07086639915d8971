"""SM008 stale-data-key: the data key is older than ``max_age_days``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.changelog.chain import covered, datakey_id
from secretsmgr.repo.sopsconfig import sops_rotate_hint
from secretsmgr.shellword import sh_path
from secretsmgr.sops.values import parse_rfc3339


def _parse(text: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (fractions beyond microseconds dropped)."""
    ts = parse_rfc3339(text)
    if ts is None:
        return None
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", ts.text).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).astimezone(UTC)


def _first_use(ctx: AuditContext) -> dict[str, datetime]:
    """The earliest evidence of every datakey_id: the earliest changelog line naming it, the
    commit that added that line, or the earliest committed version of the changelog naming it
    (a line rewritten since still dates the key). Any line that names a data key (an ``adopt``
    too) proves the key existed by then; a later line cannot make it younger.
    """
    history = ctx.changelog_history
    anchoring = history.anchoring() if history is not None else None
    anchors = anchoring.anchored if anchoring is not None else {}
    first: dict[str, datetime] = dict(anchoring.key_commits) if anchoring is not None else {}
    for entry in ctx.changelog:
        at = anchors.get(entry.seq)  # (commit, committer time) of the commit that added it
        times = [t for t in (_parse(entry.time), at[1] if at else None) if t is not None]
        if not times:
            continue
        when = min(times)
        for record in entry.files:
            if record.datakey_id is not None:
                known = first.get(record.datakey_id)
                first[record.datakey_id] = when if known is None else min(known, when)
    return first


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Files whose data key is older than the threshold, dated by the earliest evidence: the
    changelog's first line naming the key, the commit that added that line, ``lastmodified``.
    """
    first = _first_use(ctx) if ctx.changelog else {}
    states = covered(ctx.changelog)
    limit = ctx.max_age_days
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None:
            continue
        since = _parse(sf.metadata.lastmodified)
        source = "from lastmodified, which only bounds it"
        key = ctx.data_keys.get(entry.path)
        if key is not None:
            key_ids = {datakey_id(key)}
        else:  # every key id recorded for these bytes: an appended forgery cannot hide the first
            records = states.get((entry.path, sf.metadata.lastmodified, entry.sha256), [])
            key_ids = {r.datakey_id for r in records if r.datakey_id is not None}
        dates = [first[k] for k in key_ids if k in first]
        logged = min(dates) if dates else None
        if logged is not None:  # the changelog knows this key: the earliest evidence dates it
            since = logged if since is None else min(since, logged)
            source = "from the changelog, its git history and lastmodified"
        if since is None:
            continue
        days = (ctx.now - since).days
        if days > limit:
            yield RULE.finding(
                entry.path,
                f"data key is {days} days old (max {limit}; {source})",
                # a file on PGP/KMS/Vault keys only (or key groups): secretsmgr refuses it
                fix=sops_rotate_hint(entry.path, sf.metadata)
                or f"secretsmgr rotate {sh_path(entry.path)} "
                f"--reason 'data key older than {limit} days'",
            )


RULE = Rule(
    id=RuleId("SM008"),
    name="stale-data-key",
    severity=Severity.WARNING,
    needs=frozenset({Need.HISTORY}),
    summary="The data key is older than max_age_days",
    check=check,
)
