"""SM007 mac-mismatch: the file was changed outside SOPS (needs a private identity)."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.errors import FormatError, IntegrityError
from secretsmgr.repo.sopsentry import SopsEntry, dotted
from secretsmgr.shellword import sh_path
from secretsmgr.sops.document import decrypt_docs


def _verify(entry: SopsEntry, data_key: bytes) -> tuple[str | None, str] | None:
    """None when the file is intact, else (key path, message). Plaintext is never returned.

    The same decrypt-and-verify as ``secretsmgr decrypt``, read as an auditor: a plain value
    where ``ENC[…]`` belongs (SM003) is fed to the MAC as it stands.
    """
    assert entry.sops_file is not None
    try:
        decrypt_docs(entry.sops_file, data_key, audit=True)
    except IntegrityError as exc:
        if exc.key_path is None:
            return None, exc.message
        where = dotted(exc.key_path) or "(top level)"
        return where, f"{where} fails to authenticate under its key path: changed outside SOPS"
    except FormatError:
        return None  # an unreadable value or MAC field: SM006's finding, not a tampering one
    return None


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Decrypt in memory with the data keys the context unwrapped and verify every value and
    the MAC. Files with broken metadata or ENC values are SM006's and are skipped here."""
    for entry in ctx.repo.sops_files:
        data_key = ctx.data_keys.get(entry.path)
        if data_key is None or entry.sops_file is None or entry.malformed_leaves:
            continue
        result = _verify(entry, data_key)
        if result is not None:
            key_path, message = result
            yield RULE.finding(
                entry.path,
                message,
                key_path=key_path,
                fix=f"git checkout HEAD -- {sh_path(entry.path)}, "
                "or secretsmgr encrypt -i a trusted plaintext",
            )


RULE = Rule(
    id=RuleId("SM007"),
    name="mac-mismatch",
    severity=Severity.ERROR,
    needs=frozenset({Need.IDENTITY}),
    summary="The MAC does not match or a value fails to authenticate: changed outside SOPS",
    check=check,
)
