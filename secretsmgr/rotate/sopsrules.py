"""The cluster key in `.sops.yaml` creation rules: added beside the old key, then switched.

``key rotate --begin`` adds the new key to every rule (key group) that names the old one, so a
file made with plain ``sops`` during the overlap is on both keys; ``--finish`` removes the old
key where the new one is beside it and replaces it where it is alone.

Both are text edits, so comments, order, quoting and line endings stay as they were: the rules
are located through the YAML parser's events (positions in the text), and only the age keys of
``age:`` fields (flat, or in ``key_groups``, ``merge`` included) are touched, never a comment. A
key listed on a line of its own gets a line of its own; a key in a comma-separated string (plain,
quoted or folded) gets a comma; an alias (``*cluster``) is followed to its anchor. The result is
parsed again and must differ from the original exactly as intended, else ConfigError (nothing
is written) with a hint to make the change by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from secretsmgr.errors import ConfigError
from secretsmgr.keys.bech32 import short_key
from secretsmgr.repo.sopsconfig import CreationRule, KeyGroupSpec, SopsConfig, parse_sops_config
from secretsmgr.sops.yamlio.events import FoundComment, parse_events, walk

Group = tuple[int, int | None]  # (rule index, key group index; None for the rule's flat fields)


@dataclass(frozen=True, slots=True)
class _Node:
    """An age-key node of a creation rule: a scalar, or an alias of an anchored scalar."""

    group: Group
    start: int
    end: int
    value: str
    item: str | None  # "block" or "flow" when an item of a sequence
    anchor: tuple[int, int] | None  # for an alias: the span of the anchored scalar


class _AgeNodes:
    """A walk sink collecting the age-key nodes of the first document's creation rules."""

    def __init__(self, shift: int) -> None:
        self.shift = shift  # a byte order mark is not counted by the parser
        self.stack: list[list[Any]] = []  # [is_map, key or index, flow]
        self.anchors: dict[str, tuple[int, int, str]] = {}
        self.nodes: list[_Node] = []
        self.grouped: set[int] = set()  # rules with key_groups (sops ignores their flat fields)
        self.docs = 0

    def _child(self) -> None:
        if self.stack and not self.stack[-1][0]:
            self.stack[-1][1] += 1

    def _group(self) -> Group | None:
        path = [frame[1] for frame in self.stack]
        if self.docs or len(path) < 3 or path[0] != "creation_rules":
            return None
        rule = path[1]
        last_key = path[-1] if self.stack[-1][0] else path[-2] if len(path) > 3 else None
        if not isinstance(rule, int) or last_key != "age":
            return None
        if path[2] == "key_groups" and len(path) > 3 and isinstance(path[3], int):
            return rule, path[3]
        return (rule, None) if len(path) in (3, 4) and path[2] == "age" else None

    def _add(self, event: Any, value: str, anchor: tuple[int, int] | None) -> None:
        group = self._group()
        if group is None:
            return
        parent = self.stack[-1]
        item = None if parent[0] else ("flow" if parent[2] else "block")
        start, end = event.start_mark.index + self.shift, event.end_mark.index + self.shift
        self.nodes.append(_Node(group, start, end, value, item, anchor))

    def scalar(self, event: Any, is_key: bool) -> None:
        if is_key:
            self.stack[-1][1] = event.value
            path = [frame[1] for frame in self.stack]
            if len(path) == 3 and path[0] == "creation_rules" and event.value == "key_groups":
                self.grouped.add(path[1])
            return
        self._child()
        if event.anchor:
            start, end = event.start_mark.index + self.shift, event.end_mark.index + self.shift
            self.anchors[event.anchor] = (start, end, str(event.value))
        self._add(event, str(event.value), None)

    def start(self, event: Any, is_map: bool) -> None:
        self._child()
        self.stack.append([is_map, None if is_map else -1, bool(event.flow_style)])

    def end(self) -> None:
        self.stack.pop()

    def alias(self, event: Any, is_key: bool) -> None:
        if is_key:
            return
        self._child()
        anchored = self.anchors.get(event.anchor)
        if anchored is not None:
            self._add(event, anchored[2], anchored[:2])

    def end_document(self) -> None:
        self.docs += 1
        self.stack = []

    def comment(self, found: FoundComment, next_kind: str, next_column: int | None) -> None:
        """Not given any."""


def _nodes(text: str) -> list[_Node]:
    shift = 1 if text.startswith("\ufeff") else 0
    sink = _AgeNodes(shift)
    walk(parse_events(text), sink)
    return [n for n in sink.nodes if n.group[1] is not None or n.group[0] not in sink.grouped]


def _keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _token(key: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9a-z]){re.escape(key)}(?![0-9a-z])")


def _line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """From the start of ``start``'s line to past the line break after ``end``."""
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    return first, len(text) if last < 0 else last + 1


def _own_line(text: str, node: _Node) -> str | None:
    """The ``  - `` before a block item alone on its line, else None."""
    if node.item != "block" or _keys(node.value) != [node.value.strip()]:
        return None
    first, _ = _line_span(text, node.start, node.end)
    prefix = text[first : node.start]
    rest = text[node.end : _line_span(text, node.start, node.end)[1]].strip()
    if prefix.strip() != "-" or (rest and not rest.startswith("#")):
        return None
    return prefix


Edit = tuple[int, int, str]  # replace text[start:end] by the string


def _add_edit(text: str, node: _Node, old: str, new: str) -> Edit | None:
    prefix = _own_line(text, node)
    if prefix is not None:
        _, after = _line_span(text, node.start, node.end)
        eol = "\r\n" if text[:after].endswith("\r\n") else "\n"
        lead = eol if after == len(text) and not text.endswith("\n") else ""
        return after, after, f"{lead}{prefix}{new}{eol}"
    if node.anchor is not None:
        return None
    found = _token(old).search(text, node.start, node.end)
    return None if found is None else (found.end(), found.end(), f",{new}")


def _remove_edit(text: str, node: _Node, old: str) -> Edit | None:
    if _own_line(text, node) is not None:
        return (*_line_span(text, node.start, node.end), "")
    if node.anchor is not None:
        return None
    if node.item == "flow" and node.value.strip() == old:
        after = re.compile(r"\s*,\s*").match(text, node.end)
        if after is not None:
            return node.start, after.end(), ""
        before = re.compile(r",\s*$").search(text, 0, node.start)
        return None if before is None else (before.start(), node.end, "")
    key = re.escape(old)
    for pattern in (rf"(?<![0-9a-z]){key}\s*,\s*", rf"\s*,\s*{key}(?![0-9a-z])"):
        found = re.compile(pattern).search(text, node.start, node.end)
        if found is not None:
            return found.start(), found.end(), ""
    return None


def _replace_edit(text: str, node: _Node, old: str, new: str) -> Edit | None:
    start, end = node.anchor or (node.start, node.end)
    found = _token(old).search(text, start, end)
    return None if found is None else (found.start(), found.end(), new)


def _group_keys(rule: CreationRule, group: int | None) -> tuple[str, ...] | None:
    if group is None:  # the flat fields: one group (a rule with key_groups has no node here)
        return rule.key_groups[0].age if len(rule.key_groups) == 1 else None
    return rule.key_groups[group].age if group < len(rule.key_groups) else None


def _apply(text: str, edits: set[Edit]) -> str | None:
    ordered = sorted(edits)
    for (_, end, _), (start, _, _) in pairwise(ordered):
        if start < end:
            return None  # overlapping edits: an anchor both removed and replaced
    for start, end, new in reversed(ordered):
        text = text[:start] + new + text[end:]
    return text


def _plan(
    text: str, config: SopsConfig, old: str, new: str, *, adding: bool
) -> tuple[str, list[int]]:
    """The edited text and the 1-based numbers of the rules that name ``old`` (``config``:
    ``text`` parsed)."""
    edits: set[Edit | None] = set()
    named: list[int] = []
    by_group: dict[Group, list[_Node]] = {}
    for node in _nodes(text):
        by_group.setdefault(node.group, []).append(node)
    for (rule, group), nodes in by_group.items():
        if rule >= len(config.rules):
            continue
        keys = _group_keys(config.rules[rule], group)
        if keys is None or old not in keys:
            continue
        named.append(rule + 1)
        holding = [n for n in nodes if old in _keys(n.value)]
        if adding and new not in keys and holding:
            edits.add(_add_edit(text, holding[0], old, new))
        elif not adding and new in keys:
            edits.update(_remove_edit(text, n, old) for n in holding)
        elif not adding:
            edits.update(_replace_edit(text, n, old, new) for n in holding)
    out = None if None in edits else _apply(text, {e for e in edits if e is not None})
    return text if out is None else out, sorted(set(named))


def _without_age(rule: CreationRule) -> CreationRule:
    return replace(rule, key_groups=tuple(replace(g, age=()) for g in rule.key_groups))


def _expected(group: KeyGroupSpec, old: str, new: str, adding: bool) -> set[str]:
    keys = set(group.age)
    if old not in keys:
        return keys
    return keys | {new} if adding else (keys - {old}) | {new}


def _as_intended(
    before: CreationRule, after: CreationRule, old: str, new: str, adding: bool
) -> bool:
    """Whether ``after`` is ``before`` with exactly the intended change to its age keys."""
    return _without_age(after) == _without_age(before) and all(
        set(g.age) == _expected(b, old, new, adding)
        for b, g in zip(before.key_groups, after.key_groups, strict=True)
    )


def _edit(text: str, path: Path, old: str, new: str, *, adding: bool) -> str | None:
    before = parse_sops_config(text, path)
    out, named = _plan(text, before, old, new, adding=adding)
    if not named:
        return None
    try:
        after: SopsConfig | None = parse_sops_config(out, path)
    except ConfigError:
        after = None
    for number, rule in enumerate(before.rules, start=1):
        done = (
            after is not None
            and len(after.rules) == len(before.rules)
            and _as_intended(rule, after.rules[number - 1], old, new, adding)
        )
        if not done:
            shown_old, shown_new = short_key(old), short_key(new)
            what = f"add {shown_new} beside {shown_old}" if adding else "switch the cluster key"
            by_hand = (
                f"add {new} beside {old} in its age keys by hand, then run the step again"
                if adding
                else f"replace {old} by {new} in its age keys by hand (remove it where {new} "
                "is there already), then run the step again"
            )
            raise ConfigError(
                f"{path.name}: could not {what} in creation rule {number} automatically",
                hints=(by_hand,),
            )
    return None if out == text else out


def add_beside(text: str, path: Path, old: str, new: str) -> str | None:
    """``.sops.yaml`` with ``new`` added wherever a rule names ``old`` without ``new``; None
    when unchanged (no rule names ``old``, or every such rule names ``new`` already)."""
    return _edit(text, path, old, new, adding=True)


def switch(text: str, path: Path, old: str, new: str) -> str | None:
    """``.sops.yaml`` with ``old`` gone from every rule: removed where ``new`` is beside it,
    replaced by ``new`` where it is alone; None when no rule names ``old``."""
    return _edit(text, path, old, new, adding=False)
