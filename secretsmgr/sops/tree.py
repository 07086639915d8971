"""The document tree sops works on, and the walk every other module shares.

A mapping is an ordered list of ``(key, value)`` items and ``Comment`` items; a sequence is a
list of values and comments. Paths are mapping keys from the root; sequences add nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from secretsmgr.sops.values import Comment, Scalar


@dataclass(slots=True)
class MapNode:
    """A mapping: items in file order, comments included."""

    items: list[tuple[str, Node] | Comment] = field(default_factory=list)

    def get(self, key: str) -> Node:
        """The value of ``key`` (first occurrence), or None."""
        for item in self.items:
            if not isinstance(item, Comment) and item[0] == key:
                return item[1]
        return None

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return any(not isinstance(i, Comment) and i[0] == key for i in self.items)

    def without(self, key: str) -> MapNode:
        """A shallow copy with every ``key`` item removed."""
        return MapNode([i for i in self.items if isinstance(i, Comment) or i[0] != key])


@dataclass(slots=True)
class SeqNode:
    """A sequence: values and comments in file order."""

    items: list[Node | Comment] = field(default_factory=list)


Node = MapNode | SeqNode | Scalar
Path = tuple[str, ...]


def aad_for(path: Path) -> bytes:
    """The GCM additional data for a leaf at ``path``: components joined by ``:``, plus ``:``."""
    return ("".join(p + ":" for p in path) if path else ":").encode("utf-8")


def walk_leaves(node: Node, path: Path = ()) -> Iterator[tuple[Path, Scalar | Comment]]:
    """Yield ``(path, leaf)`` in sops walk order; comments carry their container's path."""
    if isinstance(node, MapNode):
        for item in node.items:
            if isinstance(item, Comment):
                yield path, item
            else:
                yield from walk_leaves(item[1], (*path, item[0]))
    elif isinstance(node, SeqNode):
        for element in node.items:
            if isinstance(element, Comment):
                yield path, element
            else:
                yield from walk_leaves(element, path)
    else:
        yield path, node


LeafFn = Callable[[Path, Scalar | Comment], "Scalar | Comment"]


def map_leaves(node: Node, fn: LeafFn, path: Path = ()) -> Node:
    """A new tree with every leaf (comments included) replaced by ``fn(path, leaf)``.

    Walks in the same order as ``walk_leaves``; a string sequence item that ``fn`` turns into
    a ``Comment`` becomes a comment item (the sops 3.11 sequence-comment quirk).
    """
    if isinstance(node, MapNode):
        items: list[tuple[str, Node] | Comment] = []
        for item in node.items:
            if isinstance(item, Comment):
                new = fn(path, item)
                items.append(new if isinstance(new, Comment) else Comment(str(new)))
            else:
                value = map_leaves(item[1], fn, (*path, item[0]))
                items.append((item[0], value))
        return MapNode(items)
    if isinstance(node, SeqNode):
        elements: list[Node | Comment] = []
        for element in node.items:
            if isinstance(element, Comment):
                elements.append(fn(path, element))
            else:
                elements.append(map_leaves(element, fn, path))
        return SeqNode(elements)
    result = fn(path, node)
    if isinstance(result, Comment):
        # Only legal inside a sequence; map_leaves on the sequence handles it above.
        return result.text
    return result


def map_seq_aware(node: Node, fn: LeafFn, path: Path = ()) -> Node:
    """Like ``map_leaves`` but lets a scalar sequence item become a comment item."""
    if isinstance(node, MapNode):
        items: list[tuple[str, Node] | Comment] = []
        for item in node.items:
            if isinstance(item, Comment):
                new = fn(path, item)
                items.append(new if isinstance(new, Comment) else Comment(str(new)))
            else:
                items.append((item[0], map_seq_aware(item[1], fn, (*path, item[0]))))
        return MapNode(items)
    if isinstance(node, SeqNode):
        elements: list[Node | Comment] = []
        for element in node.items:
            if isinstance(element, MapNode | SeqNode):
                elements.append(map_seq_aware(element, fn, path))
            else:
                elements.append(fn(path, element))
        return SeqNode(elements)
    result = fn(path, node)
    return result.text if isinstance(result, Comment) else result


def to_python(node: Node) -> object:
    """Plain Python data (dicts, lists, scalars) without comments, for comparisons and tests."""
    if isinstance(node, MapNode):
        return {k: to_python(v) for k, v in (i for i in node.items if not isinstance(i, Comment))}
    if isinstance(node, SeqNode):
        return [to_python(e) for e in node.items if not isinstance(e, Comment)]
    return node
