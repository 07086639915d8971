"""Comparing trees: a strict, type-tagged canonical form and the documented type changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from secretsmgr.sops.model import EncryptionRule
from secretsmgr.sops.rules import map_with_rule
from secretsmgr.sops.tree import MapNode, Path, SeqNode
from secretsmgr.sops.values import Comment, Timestamp


def canon(node: Any, *, printed: str | None = None) -> Any:
    """A type-tagged form for strict comparison (bool is not int, int is not float).

    ``printed="yaml"`` or ``"json"`` applies the one documented type change of that output
    (an integral float printed without a fraction is read back as an int).
    """
    if isinstance(node, MapNode):
        return (
            "map",
            tuple(
                ("#", i.text) if isinstance(i, Comment) else (i[0], canon(i[1], printed=printed))
                for i in node.items
            ),
        )
    if isinstance(node, SeqNode):
        return ("seq", tuple(canon(e, printed=printed) for e in hoisted(node).items))
    if isinstance(node, Comment):
        return ("#", node.text)
    if isinstance(node, dict):
        return ("map", tuple((k, canon(v, printed=printed)) for k, v in node.items()))
    if isinstance(node, list):
        return ("seq", tuple(canon(e, printed=printed) for e in node))
    if isinstance(node, _Printed):
        return canon(float(node), printed="yaml")
    if isinstance(node, float):
        limit = {"yaml": 1e6, "json": 1e21}.get(printed or "", 0.0)
        if node.is_integer() and abs(node) < limit:
            # Go prints the shortest round-trip digits, padded with zeros: 4.138677968700217e16
            # is printed 41386779687002170, not int(x) = 41386779687002168.
            return ("int", int(Decimal(repr(node))))
        return ("float", node)
    if isinstance(node, Timestamp):
        return ("str", node.text) if printed == "json" else ("time", node.text)
    return (type(node).__name__, node)


def hoisted(seq: SeqNode) -> SeqNode:
    """Comments leading a container item of a sequence, moved up into the sequence.

    They are written above the item's ``- `` line, where they read back as comments of the
    sequence: same AAD, same walk order, so the two trees are equivalent.
    """
    items: list[Any] = []
    for e in seq.items:
        if isinstance(e, SeqNode):
            e = hoisted(e)
        if isinstance(e, MapNode | SeqNode):
            lead = 0
            while lead < len(e.items) and isinstance(e.items[lead], Comment):
                lead += 1
            items += e.items[:lead]
            e = type(e)(e.items[lead:])
        items.append(e)
    return SeqNode(items)


def through_yaml(docs: list[MapNode], rule: EncryptionRule) -> Any:
    """What a round trip through an encrypted file gives: unencrypted values were printed as
    YAML text and read back (so they take the YAML type change); encrypted ones keep their type.
    """

    def fn(path: Path, leaf: Any, encrypted: bool) -> Any:
        if isinstance(leaf, float) and not encrypted:
            return _Printed(leaf)
        return leaf

    return canon([map_with_rule(doc, rule, fn) for doc in docs])


class _Printed(float):
    """A float that canon() treats as printed by go-yaml."""


def enc_strings(docs: list[MapNode]) -> list[str]:
    """Every ENC[...] string in walk order, comments and values alike."""
    out: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, MapNode):
            for item in node.items:
                visit(item if isinstance(item, Comment) else item[1])
        elif isinstance(node, SeqNode):
            for element in node.items:
                visit(element)
        else:
            text = node.text if isinstance(node, Comment) else node
            if isinstance(text, str) and text.startswith("ENC[AES256_GCM,"):
                out.append(text)

    for doc in docs:
        visit(doc)
    return out
