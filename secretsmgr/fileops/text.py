"""encrypt / decrypt / edit of one file: policy from ``.sops.yaml``, text in, text out."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from secretsmgr.errors import ConfigError, FormatError, UsageError
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.keys.protocols import Identity
from secretsmgr.repo.sopsconfig import find_sops_config, load_sops_config, match_rule
from secretsmgr.sops import (
    EncryptionRule,
    FileFormat,
    RuleKind,
    decrypt,
    dump,
    dump_plain,
    encrypt,
    load,
    parse_plain,
    seal,
)
from secretsmgr.sops.datakey import new_data_key
from secretsmgr.sops.document import check_written, same_data
from secretsmgr.sops.metadata import WRITE_VERSION
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Timestamp, format_float_g


@dataclass(frozen=True, slots=True)
class EncryptPolicy:
    """Who a new file is encrypted to and which leaves get encrypted."""

    groups: tuple[tuple[str, ...], ...]
    rule: EncryptionRule
    mac_only_encrypted: bool = False
    shamir_threshold: int = 0
    indent: int = 4
    source: str = ""


def resolve_policy(path: Path, age_override: Sequence[str] = ()) -> EncryptPolicy:
    """The creation rule for ``path`` (first ``.sops.yaml`` found from its folder upwards).

    ``--age`` recipients replace the rule's keys. No rule and no ``--age`` is a ``ConfigError``.
    """
    config_path = find_sops_config(path.resolve().parent)
    config = load_sops_config(config_path) if config_path is not None else None
    rule = match_rule(config, path.resolve()) if config is not None else None
    enc_rule = EncryptionRule()
    mac_only = False
    threshold = 0
    groups: tuple[tuple[str, ...], ...] = ()
    if rule is not None:
        if rule.encryption_rule is not None:
            enc_rule = EncryptionRule(
                RuleKind(rule.encryption_rule.kind), rule.encryption_rule.value
            )
        mac_only = rule.mac_only_encrypted
        threshold = rule.shamir_threshold
        groups = tuple(g.age for g in rule.key_groups if g.age)
    if age_override:
        keys = tuple(k.strip() for a in age_override for k in a.split(",") if k.strip())
        groups = (keys,)
    if not groups:
        where = f"{config_path}" if config_path else "no .sops.yaml found"
        raise ConfigError(
            f"{path}: no age recipients to encrypt to ({where})",
            hints=("add a creation rule whose path_regex matches the file, or pass --age age1…",),
        )
    indent = config.yaml_indent if config is not None else 4
    return EncryptPolicy(groups, enc_rule, mac_only, threshold, indent, str(config_path or ""))


def with_pending_key(policy: EncryptPolicy, current: str, pending: str) -> EncryptPolicy:
    """During a cluster-key rotation, every group naming the current key also gets the new one.

    A file created mid-rotation from a ``.sops.yaml`` that still names only the old key would
    otherwise be the one file ``key rotate --finish`` has to refuse.
    """
    groups = tuple((*g, pending) if current in g and pending not in g else g for g in policy.groups)
    return replace(policy, groups=groups)


@dataclass(frozen=True, slots=True)
class Written:
    """New encrypted file text, and the data key under which it was written (for the log)."""

    text: str
    data_key: bytes = field(repr=False)


def encrypt_text(text: str, fmt: FileFormat, policy: EncryptPolicy) -> Written:
    """Encrypt a plaintext file; refuses a file that already has sops metadata."""
    docs = parse_plain(text, fmt)
    groups = [[AgeRecipient(k) for k in group] for group in policy.groups]
    key = new_data_key()
    sf = encrypt(
        docs,
        fmt=fmt,
        groups=groups,
        rule=policy.rule,
        mac_only_encrypted=policy.mac_only_encrypted,
        shamir_threshold=policy.shamir_threshold,
        data_key=key,
    )
    out = dump(sf, policy.indent)
    check_written(out, fmt, key)
    return Written(out, key)


_BRACKETS = re.compile(r'\[\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(-?\d+))\s*\]')


def parse_key_path(spec: str) -> list[str | int] | None:
    """``["data"]["password"]`` → components; dotted paths return None (resolved on the tree)."""
    spec = spec.strip()
    if not spec.startswith("["):
        return None
    parts: list[str | int] = []
    pos = 0
    while pos < len(spec):
        m = _BRACKETS.match(spec, pos)
        if m is None:
            raise UsageError(f"malformed key path {spec!r}")
        if m[3] is not None:
            parts.append(int(m[3]))
        else:
            parts.append(m[1] if m[1] is not None else m[2])
        pos = m.end()
    return parts


def _child(node: Node, key: str | int) -> Node | _Missing:
    if isinstance(node, MapNode) and isinstance(key, str) and node.has(key):
        return node.get(key)
    if isinstance(node, SeqNode) and isinstance(key, int):
        items = [e for e in node.items if not isinstance(e, Comment)]
        if -len(items) <= key < len(items):
            return items[key]
    return MISSING


class _Missing:
    pass


MISSING = _Missing()


def _dotted(node: Node, parts: list[str]) -> Node | _Missing:
    """Resolve dotted components, letting a key itself contain dots (``config.yaml``)."""
    if not parts:
        return node
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        key: str | int = int(name) if isinstance(node, SeqNode) and name.isdigit() else name
        child = _child(node, key)
        if not isinstance(child, _Missing):
            found = _dotted(child, parts[cut:])
            if not isinstance(found, _Missing):
                return found
    return MISSING


def extract(docs: Sequence[MapNode], spec: str, fmt: FileFormat) -> str:
    """The value at a key path, printed as sops ``--extract`` prints it."""
    root: Node = docs[0] if docs else MapNode()
    parts = parse_key_path(spec)
    if parts is None:
        found = _dotted(root, spec.split("."))
    else:
        found = root
        for part in parts:
            found = _child(found, part) if not isinstance(found, _Missing) else found
    if isinstance(found, _Missing):
        raise UsageError(f"key path {spec} not found")
    if isinstance(found, MapNode):
        return dump_plain([found], fmt if fmt is not FileFormat.DOTENV else FileFormat.YAML)
    if isinstance(found, SeqNode):
        return dump_plain([MapNode([("_", found)])], FileFormat.YAML).split("\n", 1)[1]
    return _scalar_text(found)


def _scalar_text(value: Node) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, Timestamp):
        return value.text
    return str(value)


def decrypt_text(
    text: str, fmt: FileFormat, identities: Sequence[Identity], key_path: str | None = None
) -> str:
    """Decrypt a file (MAC verified) to what ``sops -d`` prints, or one extracted value."""
    decrypted = decrypt(load(text, fmt), identities)
    if key_path is not None:
        return extract(decrypted.docs, key_path, fmt)
    return dump_plain(decrypted.docs, fmt)


EditorFn = Callable[[str], str]


def edit_text(
    text: str,
    fmt: FileFormat,
    identities: Sequence[Identity],
    run_editor: EditorFn,
    indent: int = 4,
) -> Written | None:
    """Decrypt, let ``run_editor`` change the plaintext, re-encrypt under the same data key.

    Returns the new file text, or None when the plaintext did not change. Unchanged values keep
    their ciphertext (their IVs are reused), so the diff shows only what was edited.
    """
    decrypted = decrypt(load(text, fmt), identities)
    before = dump_plain(decrypted.docs, fmt, indent)
    after = run_editor(before)
    if after == before:
        return None
    try:
        docs = parse_plain(after, fmt)
    except FormatError as exc:
        raise FormatError(
            f"the edited text is not valid: {exc.message}; nothing was changed"
        ) from exc
    if same_data(docs, decrypted.docs):
        return None
    meta = decrypted.metadata
    template = SopsMetadata(
        key_groups=meta.key_groups,
        lastmodified="",
        mac="",
        rule=meta.rule,
        mac_only_encrypted=meta.mac_only_encrypted,
        shamir_threshold=meta.shamir_threshold,
        version=WRITE_VERSION,
    )
    sealed = seal(docs, fmt=fmt, data_key=decrypted.data_key, metadata=template, ivs=decrypted.ivs)
    out = dump(sealed, indent)
    check_written(out, fmt, decrypted.data_key)
    return Written(out, decrypted.data_key)
