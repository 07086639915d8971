"""SM006 malformed-sops: metadata or values sops (and Flux) cannot read.

Every sops key type (age, PGP, AWS/GCP KMS, Azure Key Vault, HashiCorp Vault, HuaweiCloud KMS),
alone or together, is valid metadata; whether the cluster can open the file is SM004's question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Rule, RuleId, Severity
from secretsmgr.errors import FormatError, SecretsmgrError
from secretsmgr.keys.age import check_age_file
from secretsmgr.repo.sopsentry import UTF16_ERROR
from secretsmgr.shellword import sh_path
from secretsmgr.sops.encvalue import parse_enc


def _committed(ctx: AuditContext, paths: list[str]) -> dict[str, str]:
    """The sha256 of HEAD's copy of each of ``paths`` that HEAD holds (a copy ``git checkout``
    can bring back)."""
    from secretsmgr.repo.gitlog import blobs_at, read_blobs
    from secretsmgr.repo.root import is_git_work_tree

    if not paths or not is_git_work_tree(ctx.repo.root):
        return {}
    try:
        held = blobs_at(ctx.repo.root, [("HEAD", p) for p in paths])
        data = read_blobs(ctx.repo.root, [b for b in held if b is not None])
    except SecretsmgrError:  # no commit yet, or git unusable: nothing to check out
        return {}
    return {
        p: hashlib.sha256(data[blob]).hexdigest()
        for p, blob in zip(paths, held, strict=True)
        if blob is not None and blob in data
    }


def restore_fixes(ctx: AuditContext) -> dict[str, str]:
    """The fix of each broken file: git's copy when HEAD has another, else by hand or anew."""
    broken = [
        e
        for e in ctx.repo.sops_files
        if e.error is not None or (e.sops_file is not None and e.malformed_leaves)
    ]
    committed = _committed(ctx, [e.path for e in broken])
    fixes = {}
    for entry in broken:
        quoted = sh_path(entry.path)
        if entry.path not in committed:
            fix = f"git has no copy: remove it and write it anew with secretsmgr edit {quoted}"
        elif committed[entry.path] != entry.sha256:
            fix = f"git checkout HEAD -- {quoted}"
        elif entry.error is not None and entry.error.endswith("a misspelling?)"):
            # sweep 93, hmcts/sds-flux-config: HEAD held the same broken bytes
            fix = (
                f"correct the misspelled key of the sops block in {quoted} by hand (the MAC "
                "covers the values, not the block's keys); git's copy is the same"
            )
        elif _only_version(ctx, entry.path):
            # the attack review of stop 49: "restore an earlier one" where git holds none
            fix = (
                "git holds it only as it is now: remove it and write it anew with "
                f"secretsmgr edit {quoted}"
            )
        else:
            fix = (
                "git's last copy is the same: restore an earlier one (git log --oneline "
                f"--follow --name-only -- {quoted} names each commit and the file's name then; "
                f"git show COMMIT:THAT_NAME > {quoted}) and make the change again with "
                f"secretsmgr edit {quoted}"
            )
        fixes[entry.path] = fix
    return fixes


def _only_version(ctx: AuditContext, path: str) -> bool:
    """Whether every commit git holds of ``path``, under its former names too, gave it the one
    content it has at HEAD (the second attack review of stop 49: a file renamed in the commit
    that broke it had a good copy under its old name, and the fix said to write it anew)."""
    from secretsmgr.repo.gitlog import blobs_followed

    try:
        versions = blobs_followed(ctx.repo.root, path)
    except SecretsmgrError:
        return False
    return len(set(versions)) <= 1


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
    fixes = restore_fixes(ctx)  # runs git only when some file is broken
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
