"""SM009 private-key-committed: an age identity in a file of the repository."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.errors import ConfigError
from secretsmgr.keys.age import parse_identities
from secretsmgr.keys.bech32 import short_key, split_bech32
from secretsmgr.repo.inventory import ScannedFile

_PRIVATE_KEY = re.compile(rb"AGE-SECRET-KEY-(?:PQ-)?1[0-9A-Z]{20,}")


@dataclass(frozen=True, slots=True)
class PrivateKeyHit:
    """An age private key found in a file; the key itself is never kept."""

    path: str
    line: int
    post_quantum: bool
    public: str | None


def _looks_like_key(token: str) -> bool:
    """A valid bech32 key, or a random-looking one (a damaged key); not a placeholder."""
    if split_bech32(token) is not None:
        return True
    body = token.rpartition("1")[2]
    return len(set(body)) >= 12


def _public_of(token: str) -> str | None:
    if token.startswith("AGE-SECRET-KEY-PQ-"):
        return None
    try:
        publics = parse_identities(token, "a committed file").publics
    except ConfigError:
        return None
    return publics[0] if publics else None


def find_private_keys(path: str, data: bytes) -> list[PrivateKeyHit]:
    """Every age private key in ``data``; placeholders such as ``AGE-SECRET-KEY-1XXXX…`` skipped."""
    if b"AGE-SECRET-KEY-" not in data:
        return []
    hits: list[PrivateKeyHit] = []
    for m in _PRIVATE_KEY.finditer(data):
        token = m.group().decode("ascii")
        if not _looks_like_key(token):
            continue
        line = data.count(b"\n", 0, m.start()) + 1
        pq = token.startswith("AGE-SECRET-KEY-PQ-")
        hits.append(PrivateKeyHit(path, line, pq, _public_of(token)))
    return hits


def detect(file: ScannedFile) -> list[PrivateKeyHit]:
    """Every age private key in the file."""
    return find_private_keys(file.path, file.data)


def _redacted(hit: PrivateKeyHit) -> str:
    return "AGE-SECRET-KEY-PQ-1…" if hit.post_quantum else "AGE-SECRET-KEY-1…"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """One finding per file naming the line(s) and a redacted form; never the key."""
    by_path: dict[str, list[PrivateKeyHit]] = {}
    for hit in ctx.repo.hits_of(RULE.id):
        assert isinstance(hit, PrivateKeyHit)
        by_path.setdefault(hit.path, []).append(hit)
    for path, hits in by_path.items():
        first = hits[0]
        owner = f" (public key {short_key(first.public)})" if first.public else ""
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
            line=first.line,
        )


RULE = Rule(
    id=RuleId("SM009"),
    name="private-key-committed",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="An age private key (AGE-SECRET-KEY-1…, AGE-SECRET-KEY-PQ-1…) in a file",
    check=check,
    detect=detect,
)
