"""JSON in and out, as sops 3.11's JSON store does it (every number a float64, tab indent)."""

from __future__ import annotations

import json
import math
from typing import Any

from secretsmgr.errors import FormatError
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Timestamp, format_float_json
from secretsmgr.sops.yamlio import MAX_DEPTH


def _node(value: Any, depth: int = 0) -> Node:
    if depth > MAX_DEPTH:
        raise FormatError(f"nesting deeper than {MAX_DEPTH} levels")
    if isinstance(value, _Pairs):
        return MapNode([(k, _node(v, depth + 1)) for k, v in value.pairs])
    if isinstance(value, list):
        return SeqNode([_node(v, depth + 1) for v in value])
    if value is None or isinstance(value, bool | float | str):
        return value
    raise FormatError("unsupported JSON value")


class _Pairs:
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def parse_json(text: str) -> list[Node]:
    """Parse a JSON document into one tree (as a one-element list, like YAML documents)."""
    try:
        data = json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_int=_number,
            parse_float=_number,
            parse_constant=_bad,
        )
    except RecursionError as exc:  # valid, but deeper than Python's decoder goes
        raise FormatError(f"nesting deeper than {MAX_DEPTH} levels") from exc
    except json.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON at line {exc.lineno}") from exc
    node = _node(data)
    if not isinstance(node, MapNode):
        raise FormatError("the top level of a JSON file must be an object")
    return [node]


def _number(text: str) -> float:
    # sops 3.11 reads every JSON number as a float64; Go refuses what overflows it.
    value = float(text)
    if math.isinf(value):
        raise FormatError("malformed JSON: a number is too large for a float64")
    return value


def _bad(name: str) -> float:
    raise FormatError(f"malformed JSON: {name} is not allowed")


def _quote(s: str) -> str:
    # Go's encoding/json escapes HTML-significant characters and U+2028/U+2029.
    out = json.dumps(s, ensure_ascii=False)
    return (
        out.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _scalar(value: Node) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_json(value)
    if isinstance(value, Timestamp):
        return _quote(value.text)
    if isinstance(value, str):
        return _quote(value)
    raise FormatError("unsupported value in JSON output")


def _emit(value: Node, depth: int, out: list[str], unit: str = "\t") -> None:
    pad = unit * (depth + 1)
    if isinstance(value, MapNode):
        items = [i for i in value.items if not isinstance(i, Comment)]
        if not items:
            out.append("{}")
            return
        out.append("{\n")
        for n, (key, child) in enumerate(items):
            out.append(f"{pad}{_quote(key)}: ")
            _emit(child, depth + 1, out, unit)
            out.append(",\n" if n < len(items) - 1 else "\n")
        out.append(unit * depth + "}")
    elif isinstance(value, SeqNode):
        elements = [e for e in value.items if not isinstance(e, Comment)]
        if not elements:
            out.append("[]")
            return
        out.append("[\n")
        for n, child in enumerate(elements):
            out.append(pad)
            _emit(child, depth + 1, out, unit)
            out.append(",\n" if n < len(elements) - 1 else "\n")
        out.append(unit * depth + "]")
    else:
        out.append(_scalar(value))


def emit_json(doc: Node, indent: str = "\t") -> str:
    """Write one tree as sops writes JSON: ``indent`` (a tab, or ``stores.json.indent``
    spaces), ``"key": value``, final newline."""
    out: list[str] = []
    _emit(doc, 0, out, indent)
    return "".join(out) + "\n"


def json_indent(spaces: int) -> str:
    """The indent of ``stores.json.indent``: a tab when unset (-1), else that many spaces."""
    return "\t" if spaces < 0 else " " * spaces


def indent_of(text: str) -> str:
    """The indent a JSON file was written with (its first nested line's), a tab when none
    shows: what a rewrite keeps (the interop review of stop 55: set re-indented a whole file
    sops wrote under ``stores.json.indent: 2``)."""
    lines = text.split("\n", 2)
    if len(lines) >= 2 and lines[0].rstrip() in ("{", "[") and lines[1].strip():
        second = lines[1]
        unit = second[: len(second) - len(second.lstrip(" \t"))]
        if unit == "" or set(unit) == {" "} or unit == "\t":
            return unit
    return "\t"
