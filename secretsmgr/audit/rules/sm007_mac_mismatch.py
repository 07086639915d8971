"""SM007 mac-mismatch: the file was changed outside SOPS (needs a private identity)."""

from __future__ import annotations

from collections.abc import Iterator

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.finding import Finding, Need, Rule, RuleId, Severity
from secretsmgr.errors import FormatError, IntegrityError
from secretsmgr.repo.inventory import SopsEntry, dotted
from secretsmgr.sops import cipher
from secretsmgr.sops.document import stored_mac
from secretsmgr.sops.encvalue import is_enc, parse_enc
from secretsmgr.sops.mac import compute_mac, macs_equal
from secretsmgr.sops.rules import Leaf, map_with_rule
from secretsmgr.sops.tree import MapNode, aad_for
from secretsmgr.sops.tree import Path as KeyPath
from secretsmgr.sops.values import Comment, parse_typed


class _Unauthentic(Exception):
    """A value failed GCM authentication under its key path."""

    def __init__(self, path: KeyPath) -> None:
        super().__init__()
        self.path = path


def _verify(entry: SopsEntry, data_key: bytes) -> tuple[str | None, str] | None:
    """None when the file is intact, else (key path, message). Plaintext is never returned."""
    sf = entry.sops_file
    assert sf is not None

    def open_leaf(path: KeyPath, leaf: Leaf, encrypted: bool) -> Leaf:
        if not encrypted:
            return leaf
        if isinstance(leaf, Comment):
            if is_enc(leaf.text):
                _open(path, leaf.text)
            return leaf  # comments never enter the MAC
        if isinstance(leaf, str) and leaf.startswith("ENC["):
            return _open(path, leaf)
        return leaf  # a plain value where ENC[…] belongs (SM003) still feeds the MAC as is

    def _open(path: KeyPath, text: str) -> Leaf:
        enc = parse_enc(text)
        try:
            plain = cipher.open_enc(enc, data_key, aad_for(path))
        except IntegrityError as exc:
            raise _Unauthentic(path) from exc
        return parse_typed(plain, enc.type)

    try:
        docs = [map_with_rule(doc, sf.metadata.rule, open_leaf) for doc in sf.docs]
    except _Unauthentic as exc:
        where = dotted(exc.path) or "(top level)"
        return where, f"{where} fails to authenticate under its key path: changed outside SOPS"
    except FormatError:
        return None  # an authentic value of an unreadable type: not a tampering question
    try:
        expected = stored_mac(sf.metadata, data_key)
    except (IntegrityError, FormatError):
        return None, "the stored MAC fails to authenticate: changed outside SOPS"
    trees = [d for d in docs if isinstance(d, MapNode)]
    actual = compute_mac(trees, sf.metadata.rule, sf.metadata.mac_only_encrypted)
    if not macs_equal(expected, actual):
        return None, "MAC mismatch: the file was changed outside SOPS"
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
                fix=f"git checkout -- {entry.path}, or secretsmgr encrypt -i a trusted plaintext",
            )


RULE = Rule(
    id=RuleId("SM007"),
    name="mac-mismatch",
    severity=Severity.ERROR,
    needs=frozenset({Need.IDENTITY}),
    summary="The MAC does not match or a value fails to authenticate: changed outside SOPS",
    check=check,
)
