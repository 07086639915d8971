"""SM006 malformed-sops: metadata or values sops (and Flux) cannot read."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.errors import FormatError
from secretsmgr.sops.encvalue import parse_enc

AGE_ARMOR = "-----BEGIN AGE ENCRYPTED FILE-----"


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Unreadable metadata, broken ``ENC[…]`` values, a broken MAC field or age stanza, and
    files with no age recipient at all (only pgp/kms/…: not manageable with age keys)."""
    for entry in ctx.repo.sops_files:
        fix = f"git checkout -- {entry.path}"
        if entry.error is not None:
            what = "SOPS metadata" if entry.has_metadata else "SOPS file"
            yield RULE.finding(entry.path, f"malformed {what}: {entry.error}", fix=fix)
            continue
        sf = entry.sops_file
        if sf is None:
            continue
        for key_path in entry.malformed_leaves:
            yield RULE.finding(
                entry.path,
                f"{key_path} starts with ENC[ but is not a well-formed sops value",
                key_path=key_path,
                fix=fix,
            )
        meta = sf.metadata
        try:
            parse_enc(meta.mac)
        except FormatError:
            yield RULE.finding(
                entry.path, "sops.mac is not a well-formed ENC[…] value", key_path="sops.mac"
            )
        bad = [
            number
            for number, recipient in enumerate(meta.age_recipients, start=1)
            if not recipient.strip()
        ]
        bad += [
            number
            for number, stanza in enumerate((s for g in meta.key_groups for s in g.age), start=1)
            if AGE_ARMOR not in stanza.enc
        ]
        if bad:
            numbers = ", ".join(str(n) for n in sorted(set(bad)))
            yield RULE.finding(
                entry.path,
                f"age entry {numbers} has no recipient or no armored age file",
                key_path="sops.age",
                fix=fix,
            )
        if not meta.age_recipients:
            kinds = sorted({name for g in meta.key_groups for name, _ in g.foreign})
            held = ", ".join(kinds) if kinds else "no key at all"
            yield RULE.finding(
                entry.path,
                f"unsupported recipient type: no age recipient ({held})",
                key_path="sops",
                fix=f"decrypt it with its current key, then secretsmgr encrypt -i {entry.path}",
            )


RULE = Rule(
    id=RuleId("SM006"),
    name="malformed-sops",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="Malformed metadata or ENC[…] value, unsupported recipient type",
    check=check,
)
