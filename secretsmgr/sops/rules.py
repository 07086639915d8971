"""Which leaves a file encrypts, and a walk that says so for every leaf."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

from secretsmgr.errors import FormatError
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.tree import MapNode, Node, Path, SeqNode
from secretsmgr.sops.values import Comment, Scalar

Leaf = Scalar | Comment
LeafMapper = Callable[[Path, Leaf, bool], Leaf]


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FormatError(f"invalid encryption regex {pattern!r}") from exc


@lru_cache(maxsize=16384)
def path_is_encrypted(rule: EncryptionRule, path: Path) -> bool:
    """Whether a leaf at ``path`` is encrypted under a key-based rule (not comment regexes)."""
    kind = rule.kind
    if kind is RuleKind.UNENCRYPTED_SUFFIX:
        return not any(p.endswith(rule.value) for p in path)
    if kind is RuleKind.ENCRYPTED_SUFFIX:
        return any(p.endswith(rule.value) for p in path)
    if kind is RuleKind.UNENCRYPTED_REGEX:
        rx = _compile(rule.value)
        return not any(rx.search(p) for p in path)
    if kind is RuleKind.ENCRYPTED_REGEX:
        rx = _compile(rule.value)
        return any(rx.search(p) for p in path)
    raise FormatError("comment-regex rules need the tree walk")  # pragma: no cover


def _is_comment_rule(rule: EncryptionRule) -> bool:
    return rule.kind in (RuleKind.ENCRYPTED_COMMENT_REGEX, RuleKind.UNENCRYPTED_COMMENT_REGEX)


def iter_leaves(node: Node, rule: EncryptionRule) -> Iterator[tuple[Path, Leaf, bool]]:
    """Yield ``(path, leaf, encrypted)`` in sops walk order."""
    out: list[tuple[Path, Leaf, bool]] = []

    def collect(path: Path, leaf: Leaf, enc: bool) -> Leaf:
        out.append((path, leaf, enc))
        return leaf

    map_with_rule(node, rule, collect)
    yield from out


def _map_keyed(node: Node, rule: EncryptionRule, fn: LeafMapper) -> Node:
    """``map_with_rule`` for the key-based rules: the hot path of every decrypt and encrypt.

    Same walk and results as the general visitor, with scalars handled inline.
    """
    cache: dict[Path, bool] = {}

    def decide(path: Path) -> bool:
        hit = cache.get(path)
        if hit is None:
            hit = cache[path] = path_is_encrypted(rule, path)
        return hit

    def visit(n: Node, path: Path) -> Node:
        if isinstance(n, MapNode):
            items: list[tuple[str, Node] | Comment] = []
            append = items.append
            for item in n.items:
                if isinstance(item, Comment):
                    new = fn(path, item, decide(path))
                    append(new if isinstance(new, Comment) else Comment(str(new)))
                    continue
                key, value = item
                child = (*path, key)
                if isinstance(value, MapNode | SeqNode):
                    append((key, visit(value, child)))
                else:
                    result = fn(child, value, decide(child))
                    append((key, result.text if isinstance(result, Comment) else result))
            return MapNode(items)
        if isinstance(n, SeqNode):
            elements: list[Node | Comment] = []
            for element in n.items:
                if isinstance(element, MapNode | SeqNode):
                    elements.append(visit(element, path))
                else:
                    elements.append(fn(path, element, decide(path)))
            return SeqNode(elements)
        result = fn(path, n, decide(path))
        return result.text if isinstance(result, Comment) else result

    return visit(node, ())


def map_with_rule(node: Node, rule: EncryptionRule, fn: LeafMapper) -> Node:
    """A new tree with each leaf replaced by ``fn(path, leaf, encrypted)``.

    A scalar sequence item that ``fn`` turns into a ``Comment`` becomes a comment item (how sops
    3.11 reads back its own encrypted sequence comments).
    """
    if not _is_comment_rule(rule):
        return _map_keyed(node, rule, fn)
    cache: dict[Path, bool] = {}
    comment_rule = _is_comment_rule(rule)
    rx = _compile(rule.value) if comment_rule else None
    default = rule.kind is RuleKind.UNENCRYPTED_COMMENT_REGEX

    def decide(path: Path) -> bool:
        hit = cache.get(path)
        if hit is None:
            hit = cache[path] = path_is_encrypted(rule, path)
        return hit

    def visit(n: Node, path: Path, inherited: bool) -> Node:
        if isinstance(n, MapNode):
            items: list[tuple[str, Node] | Comment] = []
            run = False
            for item in n.items:
                if isinstance(item, Comment):
                    enc, run = comment_state(path, item, inherited, run)
                    new = fn(path, item, enc)
                    items.append(new if isinstance(new, Comment) else Comment(str(new)))
                else:
                    key, value = item
                    child = (*path, key)
                    enc_child = flip(run, inherited) if comment_rule else False
                    items.append((key, visit(value, child, enc_child)))
                    run = False
            return MapNode(items)
        if isinstance(n, SeqNode):
            elements: list[Node | Comment] = []
            run = False
            for element in n.items:
                if isinstance(element, Comment):
                    enc, run = comment_state(path, element, inherited, run)
                    elements.append(fn(path, element, enc))
                elif isinstance(element, MapNode | SeqNode):
                    enc_child = flip(run, inherited) if comment_rule else False
                    elements.append(visit(element, path, enc_child))
                    run = False
                else:
                    enc = flip(run, inherited) if comment_rule else decide(path)
                    elements.append(fn(path, element, enc))
                    run = False
            return SeqNode(elements)
        enc = inherited if comment_rule else decide(path)
        result = fn(path, n, enc)
        return result.text if isinstance(result, Comment) else result

    def flip(run: bool, inherited: bool) -> bool:
        # encrypted_comment_regex: encrypted when a matching comment precedes (here or above).
        # unencrypted_comment_regex: the inverse.
        if default:
            return inherited and not run
        return inherited or run

    def comment_state(path: Path, c: Comment, inherited: bool, run: bool) -> tuple[bool, bool]:
        if not comment_rule:
            return decide(path), False
        assert rx is not None
        if rx.search(c.text):
            return False, True
        return flip(run, inherited), run

    return visit(node, (), default)


def encrypted_leaves(tree: Node, rule: EncryptionRule) -> Iterator[tuple[Path, Leaf]]:
    """The leaves (comments included) that ``rule`` encrypts, in sops walk order.

    The same answer as ``iter_leaves`` filtered on ``encrypted``, without rebuilding the tree
    for the key-based rules: a rule matches any component of the path, so the decision is
    inherited downwards.
    """
    kind = rule.kind
    if _is_comment_rule(rule):
        for path, leaf, encrypted in iter_leaves(tree, rule):
            if encrypted:
                yield path, leaf
        return
    matches: Callable[[str], bool]
    if kind in (RuleKind.ENCRYPTED_SUFFIX, RuleKind.UNENCRYPTED_SUFFIX):
        suffix = rule.value
        when_matched = kind is RuleKind.ENCRYPTED_SUFFIX

        def matches(key: str) -> bool:
            return key.endswith(suffix)

    else:
        rx = _compile(rule.value)
        when_matched = kind is RuleKind.ENCRYPTED_REGEX

        def matches(key: str) -> bool:
            return rx.search(key) is not None

    def visit(node: Node, path: Path, enc: bool) -> Iterator[tuple[Path, Leaf]]:
        if isinstance(node, MapNode):
            for item in node.items:
                if isinstance(item, Comment):
                    if enc:
                        yield path, item
                    continue
                key, value = item
                child = (enc or matches(key)) if when_matched else (enc and not matches(key))
                yield from visit(value, (*path, key), child)
        elif isinstance(node, SeqNode):
            for element in node.items:
                if isinstance(element, Comment):
                    if enc:
                        yield path, element
                else:
                    yield from visit(element, path, enc)
        elif enc:
            yield path, node

    yield from visit(tree, (), not when_matched)
