"""The ``sops`` block: read from a tree node, written in sops 3.11's field order and shape."""

from __future__ import annotations

import re

from secretsmgr.errors import FormatError
from secretsmgr.sops.model import (
    FOREIGN_KEY_FIELDS,
    AgeStanza,
    EncryptionRule,
    KeyGroup,
    RuleKind,
    SopsMetadata,
)
from secretsmgr.sops.rules import rule_regex
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Timestamp

SOPS_KEY = "sops"
WRITE_VERSION = "3.11.0"
_SEMVER = re.compile(r"v?\d+\.\d+\.\d+")
# Order sops writes the single-group key fields before ``lastmodified``.
_FLAT_BEFORE = ("kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
_GROUP_ORDER = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")


def _str(node: Node, what: str) -> str:
    if isinstance(node, Timestamp):
        return node.text
    if isinstance(node, str):
        return node
    if isinstance(node, int | float) and not isinstance(node, bool):
        return str(node)
    raise FormatError(f"sops metadata: {what} is not a string")


def _list(node: Node, what: str) -> list[Node]:
    if node is None:
        return []
    if isinstance(node, SeqNode):
        return [e for e in node.items if not isinstance(e, Comment)]
    raise FormatError(f"sops metadata: {what} is not a list")


def _age(node: Node) -> tuple[AgeStanza, ...]:
    stanzas = []
    for entry in _list(node, "age"):
        if not isinstance(entry, MapNode):
            raise FormatError("sops metadata: age entry is not a mapping")
        recipient = entry.get("recipient")
        enc = entry.get("enc")
        if not isinstance(recipient, str) or not isinstance(enc, str):
            raise FormatError("sops metadata: age entry needs recipient and enc")
        stanzas.append(AgeStanza(recipient=recipient, enc=enc))
    return tuple(stanzas)


def _group(node: MapNode) -> KeyGroup:
    foreign = tuple(
        (name, value)
        for name in FOREIGN_KEY_FIELDS
        if (value := node.get(name)) is not None and _list(value, name)
    )
    return KeyGroup(age=_age(node.get("age")), foreign=foreign)


def _bool(node: Node) -> bool:
    if isinstance(node, bool):
        return node
    if isinstance(node, str) and node.lower() in ("true", "false"):
        return node.lower() == "true"
    if node is None:
        return False
    raise FormatError("sops metadata: mac_only_encrypted is not a boolean")


def _near(word: str, name: str) -> bool:
    """Whether ``word`` is ``name`` with one letter left out, added, changed or swapped."""
    if word == name or abs(len(word) - len(name)) > 1:
        return False
    if len(word) == len(name):
        diff = [i for i, (a, b) in enumerate(zip(word, name, strict=True)) if a != b]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == name[diff[1]]
        )
    short, long_ = sorted((word, name), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _misspelled(node: MapNode, missing: list[str]) -> str:
    """`` (`ersion:` beside it: a misspelling?)`` when a key of the block is one letter off a
    missing one (sweep 93, hmcts/sds-flux-config: `ersion: 3.7.3`); "" otherwise."""
    for item in node.items:
        if isinstance(item, Comment) or not isinstance(item[0], str):
            continue
        if any(_near(item[0].lower(), name) for name in missing):
            return f" (`{item[0]}:` beside it: a misspelling?)"
    return ""


def parse_metadata(node: Node) -> SopsMetadata:
    """Build ``SopsMetadata`` from the ``sops`` value of a document."""
    if not isinstance(node, MapNode):
        raise FormatError("sops metadata is not a mapping")
    version = node.get("version")
    mac = node.get("mac")
    if version is None or mac is None or mac == "":
        missing = [name for name, got in (("version", version), ("mac", mac)) if got in (None, "")]
        raise FormatError(
            f"sops metadata has no {' or '.join(missing)}{_misspelled(node, missing)}"
        )
    version_s = _str(version, "version")
    if not _SEMVER.match(version_s):
        raise FormatError("sops metadata: version is not MAJOR.MINOR.PATCH")
    lastmodified = node.get("lastmodified")
    if lastmodified is None:
        raise FormatError("sops metadata has no lastmodified")
    flat = _group(node)
    if flat.age or flat.foreign:
        groups: tuple[KeyGroup, ...] = (flat,)
    else:
        raw_groups = _list(node.get("key_groups"), "key_groups")
        groups = tuple(_group(g) for g in raw_groups if isinstance(g, MapNode))
    rules = [k for k in RuleKind if node.get(k.value) not in (None, "")]
    if len(rules) > 1:
        raise FormatError("sops metadata: more than one encryption rule")
    rule = (
        EncryptionRule(rules[0], _str(node.get(rules[0].value), rules[0].value))
        if rules
        else EncryptionRule()
    )
    if rule.kind.value.endswith("regex"):
        try:
            rule_regex(rule)
        except FormatError as exc:
            raise FormatError(f"sops metadata: {exc.message}") from exc
    threshold = node.get("shamir_threshold")
    try:
        shamir = int(threshold) if threshold not in (None, "") else 0  # type: ignore[arg-type]  # checked below
    except (TypeError, ValueError) as exc:
        raise FormatError("sops metadata: shamir_threshold is not an integer") from exc
    if isinstance(threshold, float | bool) or not 0 <= shamir <= 255:
        # one past Go's int, or past Shamir's 255 shares: sops cannot read it, and a rewrite
        # would alter it (the write-side review of stop 55: 1e20 was written back)
        raise FormatError("sops metadata: shamir_threshold is out of range")
    return SopsMetadata(
        key_groups=groups,
        lastmodified=_str(lastmodified, "lastmodified"),
        mac=_str(mac, "mac"),
        rule=rule,
        mac_only_encrypted=_bool(node.get("mac_only_encrypted")),
        shamir_threshold=shamir,
        version=version_s,
    )


def _age_node(stanzas: tuple[AgeStanza, ...]) -> SeqNode:
    return SeqNode([MapNode([("recipient", s.recipient), ("enc", s.enc)]) for s in stanzas])


def format_metadata(meta: SopsMetadata) -> MapNode:
    """The ``sops`` mapping exactly as sops 3.11 writes it."""
    items: list[tuple[str, Node] | Comment] = []
    multi = len(meta.key_groups) > 1
    if meta.shamir_threshold:
        items.append(("shamir_threshold", meta.shamir_threshold))
    if multi:
        groups = []
        for g in meta.key_groups:
            fields: list[tuple[str, Node] | Comment] = []
            for name in _GROUP_ORDER:
                if name == "age":
                    fields.append(("age", _age_node(g.age)))
                elif name == "hc_vault":
                    fields.append(("hc_vault", g.foreign_field("hc_vault") or SeqNode()))
                elif (value := g.foreign_field(name)) is not None:
                    fields.append((name, value))
            groups.append(MapNode(fields))
        items.append(("key_groups", SeqNode(list(groups))))
    group = meta.key_groups[0] if meta.key_groups and not multi else KeyGroup()
    if not multi:
        for name in _FLAT_BEFORE:
            if name == "age":
                if group.age:
                    items.append(("age", _age_node(group.age)))
            elif (value := group.foreign_field(name)) is not None:
                items.append((name, value))
    items.append(("lastmodified", meta.lastmodified))
    items.append(("mac", meta.mac))
    if not multi and (pgp := group.foreign_field("pgp")) is not None:
        items.append(("pgp", pgp))
    items.append((meta.rule.kind.value, meta.rule.value))
    if meta.mac_only_encrypted:
        items.append(("mac_only_encrypted", True))
    items.append(("version", meta.version))
    return MapNode(items)
