"""The document tree sops works on, and the walk every other module shares.

A mapping is an ordered list of ``(key, value)`` items and ``Comment`` items; a sequence is a
list of values and comments. Paths are mapping keys from the root; sequences add nothing.
"""

from __future__ import annotations

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
