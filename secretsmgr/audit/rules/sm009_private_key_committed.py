"""SM009 private-key-committed: an age identity in a file of the repository."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext, PrivateKeyHit, abbreviate
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity


def _redacted(hit: PrivateKeyHit) -> str:
    return "AGE-SECRET-KEY-PQ-1…" if hit.post_quantum else "AGE-SECRET-KEY-1…"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per file naming the line(s) and a redacted form; never the key."""
    by_path: dict[str, list[PrivateKeyHit]] = {}
    for hit in ctx.private_keys:
        by_path.setdefault(hit.path, []).append(hit)
    for path, hits in by_path.items():
        first = hits[0]
        owner = f" (public key {abbreviate(first.public)})" if first.public else ""
        if len(hits) == 1:
            message = f"age private key {_redacted(first)}{owner} on line {first.line}"
        else:
            lines = ", ".join(str(h.line) for h in hits[:5]) + (", …" if len(hits) > 5 else "")
            message = f"{len(hits)} age private keys ({_redacted(first)}) on lines {lines}"
        yield RULE.finding(
            path,
            message,
            fix="remove it, purge it from git history, and rotate away from it: "
            "secretsmgr rotate --all --remove-recipient <its public key>",
        )


RULE = Rule(
    id=RuleId("SM009"),
    name="private-key-committed",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="An age private key (AGE-SECRET-KEY-1…, AGE-SECRET-KEY-PQ-1…) in a file",
    check=check,
)
