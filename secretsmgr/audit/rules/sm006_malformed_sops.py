"""SM006 malformed-sops: metadata or values sops (and Flux) cannot read.

Every sops key type (age, PGP, AWS/GCP KMS, Azure Key Vault, HashiCorp Vault, HuaweiCloud KMS),
alone or together, is valid metadata; whether the cluster can open the file is SM004's question.
"""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.errors import FormatError, SecretsmgrError
from secretsmgr.keys.age import check_age_file
from secretsmgr.repo.sopsentry import UTF16_ERROR
from secretsmgr.shellword import sh_path
from secretsmgr.sops.encvalue import parse_enc


def _committed(ctx: AuditContext, paths: list[str]) -> set[str]:
    """Which of ``paths`` HEAD holds (a copy ``git checkout`` can bring back)."""
    from secretsmgr.repo.gitlog import blobs_at
    from secretsmgr.repo.root import is_git_work_tree

    if not paths or not is_git_work_tree(ctx.repo.root):
        return set()
    try:
        held = blobs_at(ctx.repo.root, [("HEAD", p) for p in paths])
    except SecretsmgrError:  # no commit yet, or git unusable: nothing to check out
        return set()
    return {p for p, blob in zip(paths, held, strict=True) if blob is not None}


def _fixes(ctx: AuditContext) -> dict[str, str]:
    """The fix of each broken file: git's copy when HEAD has one, else a new file."""
    broken = [
        e.path
        for e in ctx.repo.sops_files
        if e.error is not None or (e.sops_file is not None and e.malformed_leaves)
    ]
    committed = _committed(ctx, broken)
    return {
        p: f"git checkout HEAD -- {sh_path(p)}"
        if p in committed
        else f"git has no copy: remove it and write it anew with secretsmgr edit {sh_path(p)}"
        for p in broken
    }


def _reencode_hint(path: str) -> str:
    """UTF-16 to UTF-8 with LF line ends: the MAC covers the values, not the bytes."""
    quoted = sh_path(path)
    return (
        "re-encode it as UTF-8 (the MAC covers the values, not the bytes), and write SOPS "
        "files with sops encrypt --output FILE rather than PowerShell's >: "
        f"iconv -f UTF-16 -t UTF-8 {quoted} | tr -d '\\r' > {quoted}.utf8 && "
        f"mv {quoted}.utf8 {quoted}"
    )


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Unreadable metadata, broken ``ENC[…]`` values, a broken MAC field or age entry (an
    armored age file outside the age format or its bounds: such a file is never decrypted)."""
    fixes = _fixes(ctx)  # runs git only when some file is broken
    for entry in ctx.repo.sops_files:
        fix = fixes.get(entry.path, f"git checkout HEAD -- {sh_path(entry.path)}")
        if entry.error == UTF16_ERROR:
            # git's copy holds the same bytes (DRSchlaubi/kbs610): re-encode it instead
            yield RULE.finding(
                entry.path,
                f"{entry.error}: sops reads it, but SOPS files are read here as UTF-8 only",
                fix=_reencode_hint(entry.path),
            )
            continue
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
        problems: list[str] = []
        stanzas = [s for g in meta.key_groups for s in g.age]
        for number, stanza in enumerate(stanzas, start=1):
            try:
                if not stanza.recipient.strip():
                    raise FormatError("it has no recipient")
                check_age_file(stanza.enc)
            except FormatError as exc:
                problems.append(f"age entry {number} cannot be used: {exc.message}")
        if problems:
            yield RULE.finding(entry.path, "; ".join(problems), key_path="sops.age", fix=fix)


RULE = Rule(
    id=RuleId("SM006"),
    name="malformed-sops",
    severity=Severity.ERROR,
    needs=frozenset(),
    summary="Malformed metadata, ENC[…] value or age entry",
    check=check,
)
