"""dotenv in and out, as sops's dotenv store does it (string values, ``\\n`` escapes)."""

from __future__ import annotations

from secretsmgr.errors import FormatError
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Scalar

META_PREFIX = "sops_"


def parse_dotenv(text: str) -> list[Node]:
    """Parse ``KEY=VALUE`` and ``#comment`` lines into one mapping."""
    items: list[tuple[str, Node] | Comment] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line:
            continue
        if line.startswith("#"):
            items.append(Comment(line[1:]))
            continue
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise FormatError(f"invalid dotenv line {number}")
        items.append((key, value.replace("\\n", "\n")))
    return [MapNode(items)]


def _text(value: Node) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    raise FormatError("dotenv values must be scalars")


def emit_dotenv(doc: MapNode) -> str:
    """Write a flat mapping as dotenv; nested values are refused."""
    lines = []
    for item in doc.items:
        if isinstance(item, Comment):
            lines.append("#" + item.text)
            continue
        key, value = item
        if isinstance(value, MapNode | SeqNode):
            raise FormatError(f"dotenv cannot hold a nested value at {key!r}")
        encoded = _text(value).replace("\n", "\\n")
        lines.append(f"{key}={encoded}")
    return "".join(line + "\n" for line in lines)


def flatten_metadata(meta: MapNode) -> list[tuple[str, str]]:
    """``sops_``-prefixed, sorted ``(name, value)`` pairs for the metadata mapping."""
    pairs: list[tuple[str, str]] = []

    def walk(node: Node, name: str) -> None:
        if isinstance(node, MapNode):
            for item in node.items:
                if not isinstance(item, Comment):
                    walk(item[1], f"{name}__map_{item[0]}" if name else item[0])
        elif isinstance(node, SeqNode):
            for i, element in enumerate(e for e in node.items if not isinstance(e, Comment)):
                walk(element, f"{name}__list_{i}")
        else:
            pairs.append((META_PREFIX + name, _text(node)))

    walk(meta, "")
    return sorted(pairs)


def unflatten_metadata(pairs: list[tuple[str, str]], prefix: str = META_PREFIX) -> MapNode:
    """Rebuild the metadata mapping from ``sops_…`` pairs (``prefix``: what each name starts
    with; INI's ``[sops]`` section has none)."""
    root: dict[str, object] = {}
    for name, value in pairs:
        parts = name[len(prefix) :].replace("__list_", "\0L").replace("__map_", "\0M")
        tokens = parts.split("\0")
        cur: dict[str, object] = root
        path = [("M", tokens[0])] + [(t[0], t[1:]) for t in tokens[1:]]
        for i, (_kind, key) in enumerate(path):
            if i == len(path) - 1:
                cur[key] = value
            else:
                # Each container remembers whether its children are list items or map keys.
                nxt = cur.setdefault(key, {"__kind__": path[i + 1][0]})
                assert isinstance(nxt, dict)
                cur = nxt
    return _to_node(root)  # type: ignore[return-value]  # the root is always a mapping


def _to_node(obj: object) -> Node:
    if isinstance(obj, dict):
        kind = obj.get("__kind__", "M")
        entries = [(k, v) for k, v in obj.items() if k != "__kind__"]
        if kind == "L":
            entries.sort(key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
            return SeqNode([_to_node(v) for _, v in entries])
        return MapNode([(k, _to_node(v)) for k, v in entries])
    value: Scalar = obj if isinstance(obj, str) else str(obj)
    return value
