"""SM008 stale-data-key: the data key is older than ``max_age_days``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.changelog.chain import datakey_id
from secretsmgr.sops.values import parse_rfc3339


def _parse(text: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (fractions beyond microseconds dropped)."""
    ts = parse_rfc3339(text)
    if ts is None:
        return None
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", ts.text).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).astimezone(UTC)


def _first_use(ctx: AuditContext) -> dict[str, datetime | None]:
    """Earliest changelog time of every datakey_id. A data key first seen in an ``adopt`` entry
    already existed then: the changelog cannot date it (``lastmodified`` still bounds it)."""
    first: dict[str, datetime | None] = {}
    for entry in ctx.changelog:
        when = _parse(entry.time)
        if when is None:
            continue
        for record in entry.files:
            if record.datakey_id is None:
                continue
            known = first.get(record.datakey_id, when)
            if record.datakey_id not in first and entry.action == "adopt":
                first[record.datakey_id] = None
            elif known is not None and when <= known:
                first[record.datakey_id] = when
    return first


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Files whose data key is older than the threshold (changelog first, else lastmodified)."""
    first = _first_use(ctx) if ctx.changelog else {}
    limit = ctx.max_age_days
    for entry in ctx.repo.sops_files:
        sf = entry.sops_file
        if sf is None:
            continue
        since: datetime | None = None
        source = "from lastmodified, which only bounds it"
        key = ctx.data_keys.get(entry.path)
        if key is not None and (when := first.get(datakey_id(key))) is not None:
            since, source = when, "from the changelog"
        if since is None:
            since = _parse(sf.metadata.lastmodified)
        if since is None:
            continue
        days = (ctx.now - since).days
        if days > limit:
            yield RULE.finding(
                entry.path,
                f"data key is {days} days old (max {limit}; {source})",
                fix=f"secretsmgr rotate {entry.path} --reason 'data key older than {limit} days'",
            )


RULE = Rule(
    id=RuleId("SM008"),
    name="stale-data-key",
    severity=Severity.WARNING,
    needs=frozenset({Need.HISTORY}),
    summary="The data key is older than max_age_days",
    check=check,
)
