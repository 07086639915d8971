"""Which leaves a file encrypts, and the one walk that says so for every leaf.

Every rule is a decision inherited down the tree. A key rule (suffix or regex) is tested against
each mapping key on the way down: ``encrypted_*`` turns encryption on below a matching key,
``unencrypted_*`` turns it off, so a leaf's answer depends on every component of its path, as in
sops. A comment rule (``*_comment_regex``) is turned on or off by a matching comment line before
an item, at any level above it. ``map_with_rule`` is that walk; ``iter_leaves``,
``encrypted_leaves`` and ``path_is_encrypted`` are views of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from secretsmgr.errors import FormatError
from secretsmgr.sops.model import EncryptionRule, RuleKind
from secretsmgr.sops.regex import GoRegex, compile_go
from secretsmgr.sops.tree import MapNode, Node, Path, SeqNode
from secretsmgr.sops.values import Comment, Scalar

Leaf = Scalar | Comment
LeafMapper = Callable[[Path, Leaf, bool], Leaf]

_COMMENT_RULES = (RuleKind.ENCRYPTED_COMMENT_REGEX, RuleKind.UNENCRYPTED_COMMENT_REGEX)
# Rules whose decision starts "encrypted" at the root and is switched off by a match.
_ON_AT_ROOT = (
    RuleKind.UNENCRYPTED_SUFFIX,
    RuleKind.UNENCRYPTED_REGEX,
    RuleKind.UNENCRYPTED_COMMENT_REGEX,
)


def rule_regex(rule: EncryptionRule) -> GoRegex:
    """The compiled pattern of a regex rule; ``FormatError`` when Go would refuse it."""
    try:
        return compile_go(rule.value)
    except FormatError as exc:
        raise FormatError(
            f"{rule.kind.value} is not a valid Go regular expression: {exc.message}"
        ) from exc


def _key_test(rule: EncryptionRule) -> Callable[[str], bool]:
    if rule.kind in (RuleKind.ENCRYPTED_SUFFIX, RuleKind.UNENCRYPTED_SUFFIX):
        suffix = rule.value

        def ends(key: str) -> bool:
            return key.endswith(suffix)

        return ends
    return rule_regex(rule).search


def path_is_encrypted(rule: EncryptionRule, path: Path) -> bool:
    """Whether a leaf at ``path`` is encrypted under a key rule (not a comment rule)."""
    if rule.kind in _COMMENT_RULES:
        raise FormatError("comment-regex rules need the tree walk")
    matches = _key_test(rule)
    if rule.kind in _ON_AT_ROOT:
        return not any(matches(p) for p in path)
    return any(matches(p) for p in path)


def map_with_rule(node: Node, rule: EncryptionRule, fn: LeafMapper) -> Node:
    """A new tree with each leaf replaced by ``fn(path, leaf, encrypted)``, in sops walk order.

    A scalar sequence item that ``fn`` turns into a ``Comment`` becomes a comment item (how sops
    3.11 reads back its own encrypted sequence comments).
    """
    return _walk(node, rule, fn, build=True)


def _walk(node: Node, rule: EncryptionRule, fn: LeafMapper, *, build: bool) -> Node:
    """The walk: ``fn`` sees every leaf with its decision; ``build`` says whether to keep what
    it returns as a new tree (``map_with_rule``) or only to visit (the read-only views)."""
    by_comment = rule.kind in _COMMENT_RULES
    switch_on = rule.kind not in _ON_AT_ROOT  # what a match does to the decision
    rx: GoRegex | None = rule_regex(rule) if by_comment else None
    key_matches = _key_test(rule) if rx is None else rx.search

    def child(enc: bool, key: str, run: bool) -> bool:
        # The decision below ``key``: a key rule tests the key, a comment rule the comment run
        # just before it (``run``: a matching comment was seen since the previous item).
        hit = run if by_comment else key_matches(key)
        return (enc or hit) if switch_on else (enc and not hit)

    def comment(path: Path, c: Comment, enc: bool, run: bool) -> tuple[Leaf, bool]:
        if rx is not None and rx.search(c.text):
            return fn(path, c, False), True  # the matching line itself stays in clear
        return fn(path, c, child(enc, "", run) if by_comment else enc), run

    def visit(n: Node, path: Path, enc: bool) -> Node:
        if isinstance(n, MapNode):
            items: list[tuple[str, Node] | Comment] = []
            append = items.append if build else _drop
            run = False
            for item in n.items:
                if isinstance(item, Comment):
                    new, run = comment(path, item, enc, run)
                    append(new if isinstance(new, Comment) else Comment(str(new)))
                    continue
                key, value = item
                below = child(enc, key, run)
                run = False
                if isinstance(value, MapNode | SeqNode):
                    append((key, visit(value, (*path, key), below)))
                else:
                    result = fn((*path, key), value, below)
                    append((key, result.text if isinstance(result, Comment) else result))
            return MapNode(items) if build else None
        if isinstance(n, SeqNode):
            elements: list[Node | Comment] = []
            add = elements.append if build else _drop
            run = False
            for element in n.items:
                if isinstance(element, Comment):
                    new, run = comment(path, element, enc, run)
                    add(new)
                    continue
                below = child(enc, "", run) if by_comment else enc
                run = False
                if isinstance(element, MapNode | SeqNode):
                    add(visit(element, path, below))
                else:
                    add(fn(path, element, below))
            return SeqNode(elements) if build else None
        result = fn(path, n, enc)
        return result.text if isinstance(result, Comment) else result

    return visit(node, (), not switch_on)


def _drop(_: object) -> None:
    """Where the read-only walk puts what ``fn`` returns."""


def iter_leaves(node: Node, rule: EncryptionRule) -> Iterator[tuple[Path, Leaf, bool]]:
    """Yield ``(path, leaf, encrypted)`` for every leaf (comments included), in sops walk order."""
    out: list[tuple[Path, Leaf, bool]] = []

    def collect(path: Path, leaf: Leaf, enc: bool) -> Leaf:
        out.append((path, leaf, enc))
        return leaf

    _walk(node, rule, collect, build=False)
    return iter(out)


def encrypted_leaves(tree: Node, rule: EncryptionRule) -> Iterator[tuple[Path, Leaf]]:
    """The leaves (comments included) that ``rule`` encrypts, in sops walk order."""
    out: list[tuple[Path, Leaf]] = []

    def collect(path: Path, leaf: Leaf, enc: bool) -> Leaf:
        if enc:
            out.append((path, leaf))
        return leaf

    _walk(tree, rule, collect, build=False)
    return iter(out)
