"""Key paths into a document tree, and the edits ``set``/``unset`` make through them.

A key path is written dotted (``data.password``) or as sops writes it (``["data"]["password"]``,
``["items"][0]``). Bracket paths are exact. Dotted paths are resolved against the tree: a key may
itself hold dots (``stringData.config.yaml`` finds the key ``config.yaml``), and a number indexes
a list. Where a dotted path names keys that do not exist yet, the missing part is split at its
dots (use the bracket form for a new key whose name holds a dot).

Edits never change the trees they are given: they return new trees that share every untouched
branch. Like ``sops set``, setting a path creates the mappings (and, for a number in a bracket
path, the lists) it runs through and appends a list item for an index past the end; unlike
``sops set``, it never replaces a value by a mapping (``a.b`` where ``a`` holds a value is refused).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from secretsmgr.errors import UsageError
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Scalar

Key = str | int
KeyPath = tuple[Key, ...]
MAX_COMPONENTS = 64

_BRACKETS = re.compile(r'\[\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|(-?\d+))\s*\]')


def parse_key_path(spec: str) -> list[Key] | None:
    """``["data"]["password"]`` → components; dotted paths return None (resolved on the tree)."""
    spec = spec.strip()
    if not spec.startswith("["):
        return None
    parts: list[Key] = []
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
        if len(parts) > MAX_COMPONENTS:
            raise UsageError(f"key path longer than {MAX_COMPONENTS} components")
    return parts


def format_key_path(path: Sequence[Key]) -> str:
    """A key path as users write it: dotted when that is unambiguous, else sops's bracket form."""
    if path and all(
        isinstance(p, str) and p and "." not in p and not p.startswith("[") and not p.isdigit()
        for p in path
    ):
        return ".".join(str(p) for p in path)
    return "".join(f"[{p}]" if isinstance(p, int) else f'["{_quote(p)}"]' for p in path)


def _quote(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


class _Missing:
    pass


MISSING = _Missing()
MISSING_TYPE = _Missing


def _values(node: SeqNode) -> list[Node]:
    return [e for e in node.items if not isinstance(e, Comment)]


def child(node: Node, key: Key) -> Node | _Missing:
    """The child of ``node`` at ``key``, or ``MISSING``."""
    if isinstance(node, MapNode) and isinstance(key, str) and node.has(key):
        return node.get(key)
    if isinstance(node, SeqNode) and isinstance(key, int):
        items = _values(node)
        if -len(items) <= key < len(items):
            return items[key]
    return MISSING


def _key_for(node: Node, name: str) -> Key:
    if isinstance(node, SeqNode) and re.fullmatch(r"-?\d+", name):
        return int(name)
    return name


def _deepest(node: Node, parts: list[str]) -> tuple[list[Key], list[str]]:
    """The longest existing prefix of a dotted path (keys may hold dots) and what is left."""
    best: tuple[list[Key], list[str]] = ([], parts)
    for cut in range(len(parts), 0, -1):
        key = _key_for(node, ".".join(parts[:cut]))
        found = child(node, key)
        if isinstance(found, _Missing):
            continue
        sub, rest = _deepest(found, parts[cut:]) if cut < len(parts) else ([], [])
        if not rest:
            return [key, *sub], []
        if len(rest) < len(best[1]):
            best = ([key, *sub], rest)
    return best


def _dotted_parts(spec: str) -> list[str]:
    parts = spec.split(".")
    if not spec or any(p == "" for p in parts):
        raise UsageError(f"malformed key path {spec!r}")
    if len(parts) > MAX_COMPONENTS:
        raise UsageError(f"key path longer than {MAX_COMPONENTS} components")
    return parts


def resolve(root: Node, spec: str) -> KeyPath:
    """The components of an existing key path; ``UsageError`` when it is not in the tree."""
    exact = parse_key_path(spec)
    if exact is not None:
        node: Node | _Missing = root
        for part in exact:
            node = child(node, part) if not isinstance(node, _Missing) else node
        if isinstance(node, _Missing):
            raise UsageError(f"key path {spec} not found")
        return tuple(exact)
    found, rest = _deepest(root, _dotted_parts(spec.strip()))
    if rest:
        raise UsageError(f"key path {spec} not found")
    return tuple(found)


def resolve_for_set(root: Node, spec: str) -> KeyPath:
    """The components a ``set`` writes to: existing keys as found, the missing part created."""
    exact = parse_key_path(spec)
    if exact is not None:
        if not exact:
            raise UsageError("the key path is empty")
        return tuple(exact)
    found, rest = _deepest(root, _dotted_parts(spec.strip()))
    node: Node | _Missing = root
    for part in found:
        node = child(node, part) if not isinstance(node, _Missing) else node
    created: list[Key] = []
    for i, name in enumerate(rest):
        if "[" in name or "]" in name:
            # `data[` or `a]["b"]`: sops's form gone wrong, not a key to make (the interop
            # review of stop 55: set made a key named `data[` with exit 0)
            raise UsageError(
                f"malformed key path {spec!r}: it would make a key named {name!r}; "
                'for a key holding a bracket, use sops\'s form (["name["])'
            )
        created.append(_key_for(node, name) if i == 0 and not isinstance(node, _Missing) else name)
    return (*found, *created)


def get(root: Node, path: Sequence[Key]) -> Node | _Missing:
    """The node at ``path``, or ``MISSING``."""
    node: Node | _Missing = root
    for part in path:
        if isinstance(node, _Missing):
            return node
        node = child(node, part)
    return node


def holds(root: Node, path: Sequence[Key]) -> bool:
    """Whether the tree ``root`` has a node at ``path``."""
    return not isinstance(get(root, path), _Missing)


def scalar_leaves(node: Node | _Missing) -> Iterator[Scalar]:
    """Every value below ``node`` that is not a mapping or list (nothing for ``MISSING``)."""
    if isinstance(node, MapNode):
        for item in node.items:
            if not isinstance(item, Comment):
                yield from scalar_leaves(item[1])
    elif isinstance(node, SeqNode):
        for entry in node.items:
            if not isinstance(entry, Comment):
                yield from scalar_leaves(entry)
    elif not isinstance(node, _Missing):
        yield node


def _build(path: Sequence[Key], value: Node) -> Node:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return SeqNode([_build(rest, value)])
    return MapNode([(head, _build(rest, value))])


def _where(done: Sequence[Key]) -> str:
    return format_key_path(done) if done else "the top level"


def set_at(node: Node, path: Sequence[Key], value: Node, done: KeyPath = ()) -> Node:
    """A copy of ``node`` with ``value`` at ``path`` (intermediate keys created)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, MapNode):
        if not isinstance(head, str):
            raise UsageError(f"{_where(done)} is a mapping: [{head}] indexes a list")
        items = list(node.items)
        for i, item in enumerate(items):
            if not isinstance(item, Comment) and item[0] == head:
                items[i] = (head, set_at(item[1], rest, value, (*done, head)))
                return MapNode(items)
        items.append((head, _build(rest, value)))
        return MapNode(items)
    if isinstance(node, SeqNode):
        if not isinstance(head, int):
            raise UsageError(f"{_where(done)} is a list: use a number to index it")
        positions = [i for i, e in enumerate(node.items) if not isinstance(e, Comment)]
        index = head + len(positions) if head < 0 else head
        if index < 0:
            raise UsageError(f"index {head} is out of range at {_where(done)}")
        seq_items = list(node.items)
        if index >= len(positions):
            seq_items.append(_build(rest, value))
        else:
            at = positions[index]
            current = seq_items[at]
            assert not isinstance(current, Comment)
            seq_items[at] = set_at(current, rest, value, (*done, index))
        return SeqNode(seq_items)
    raise UsageError(
        f"{_where(done)} holds a value, not a mapping or list; unset it first to replace it"
    )


def unset_at(node: Node, path: Sequence[Key], spec: str) -> Node:
    """A copy of ``node`` without the key or list item at ``path`` (its parent is kept)."""
    head, rest = path[0], path[1:]
    if isinstance(node, MapNode) and isinstance(head, str):
        items = list(node.items)
        for i, item in enumerate(items):
            if not isinstance(item, Comment) and item[0] == head:
                if rest:
                    items[i] = (head, unset_at(item[1], rest, spec))
                else:
                    del items[i]
                return MapNode(items)
    if isinstance(node, SeqNode) and isinstance(head, int):
        positions = [i for i, e in enumerate(node.items) if not isinstance(e, Comment)]
        if -len(positions) <= head < len(positions):
            at = positions[head]
            seq_items = list(node.items)
            current = seq_items[at]
            assert not isinstance(current, Comment)
            if rest:
                seq_items[at] = unset_at(current, rest, spec)
            else:
                del seq_items[at]
            return SeqNode(seq_items)
    raise UsageError(f"key path {spec} not found")


# ----------------------------------------------------------------------------- edit merges


@dataclass(frozen=True, slots=True)
class Change:
    """One mapping entry a user changed: ``value`` is ``MISSING`` for a removed key."""

    path: KeyPath  # (document index, key, key, …)
    value: Node | _Missing
    added: bool = False


def _same(a: Node | _Missing, b: Node | _Missing) -> bool:
    return type(a) is type(b) and a == b


def _entries(node: MapNode) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for item in node.items:
        if not isinstance(item, Comment) and item[0] not in out:
            out[item[0]] = item[1]
    return out


def _diff_maps(base: MapNode, ours: MapNode, at: KeyPath, out: list[Change]) -> None:
    old, new = _entries(base), _entries(ours)
    for key, value in new.items():
        before = old.get(key, MISSING) if key in old else MISSING
        if isinstance(before, MapNode) and isinstance(value, MapNode):
            _diff_maps(before, value, (*at, key), out)
        elif not _same(before, value):
            out.append(Change((*at, key), value, added=isinstance(before, _Missing)))
    for key in old:
        if key not in new:
            out.append(Change((*at, key), MISSING))


def diff(base: Sequence[MapNode], ours: Sequence[MapNode]) -> list[Change]:
    """What a user changed between two plaintext versions, mapping entry by mapping entry.

    Lists and values are compared whole; comments are not compared. A document the user added
    or removed is one change on the document itself.
    """
    out: list[Change] = []
    for index in range(max(len(base), len(ours))):
        if index < len(base) and index < len(ours):
            _diff_maps(base[index], ours[index], (index,), out)
        elif index < len(ours):
            out.append(Change((index,), ours[index], added=True))
        else:
            out.append(Change((index,), MISSING))
    return out


def apply(theirs: Sequence[MapNode], changes: Sequence[Change]) -> tuple[list[MapNode], list[str]]:
    """Apply a user's changes to a newer version where their key paths still exist.

    A changed or removed entry is applied when its key is still there; an added entry when its
    mapping is still there. Returns the merged documents and the key paths not applied.
    """
    docs = list(theirs)
    skipped: list[str] = []
    for change in changes:
        index, keys = change.path[0], change.path[1:]
        shown = format_key_path(keys) if keys else f"document {int(index) + 1}"
        if not keys or not isinstance(index, int) or index >= len(docs):
            skipped.append(shown)
            continue
        parent = get(docs[index], keys[:-1])
        exists = not isinstance(get(docs[index], keys), _Missing)
        if not isinstance(parent, MapNode) or not (exists or change.added):
            skipped.append(shown)
            continue
        if isinstance(change.value, _Missing):
            if exists:
                merged = unset_at(docs[index], keys, shown)
                assert isinstance(merged, MapNode)
                docs[index] = merged
            continue
        merged = set_at(docs[index], keys, change.value)
        assert isinstance(merged, MapNode)
        docs[index] = merged
    return docs, skipped


# ----------------------------------------------------------------------------- values


def _from_json(value: object, depth: int = 0) -> Node:
    if depth > MAX_COMPONENTS:
        raise UsageError(f"the JSON value nests deeper than {MAX_COMPONENTS} levels")
    if isinstance(value, dict):
        return MapNode([(str(k), _from_json(v, depth + 1)) for k, v in value.items()])
    if isinstance(value, list):
        return SeqNode([_from_json(v, depth + 1) for v in value])
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise UsageError("unsupported JSON value")  # pragma: no cover - json.loads makes no other


def _no_constant(name: str) -> object:
    raise UsageError(f"the JSON value holds {name}, which sops cannot store")


def _finite_float(text: str) -> float:
    """A JSON number as a float; one past a float's range (``1e400``) is no JSON value sops
    takes (the review of stop 55: set --json wrote it as ``.inf``)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(text)
    return value


def parse_value(data: bytes, *, as_json: bool = False) -> Node:
    """The value ``set`` stores, from the bytes given on stdin or in a file.

    By default a UTF-8 string: a one-line value loses its line ending (``echo pw |``), a value
    of several lines is kept exactly (a PEM block keeps its final newline). With ``as_json`` the
    bytes are one JSON value (string, number, boolean, null, object or list), as ``sops set``
    takes it. An empty value is refused: sops never encrypts an empty string.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the value is not UTF-8 text") from None
    value: Node
    if as_json:
        import json

        try:
            value = _from_json(
                json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
            )
        except (ValueError, RecursionError):
            raise UsageError("the value is not valid JSON (--json)") from None
    else:
        body = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
        value = body if "\n" not in body else text
    if value == "" and isinstance(value, str):
        raise UsageError(
            "the value is empty (sops never encrypts an empty string)",
            hints=("to remove a key: secretsmgr unset FILE KEY_PATH",),
        )
    return value
