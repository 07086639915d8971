"""The comment-keeping reader: YAML text to document trees, as sops 3.11 (go-yaml v3) reads it.

libyaml drops comments, so they are recovered from the text between scalars and placed where
go-yaml v3 attaches them: head comments before their item, foot comments after the last item of
their block, inline comments moved above their key (as sops 3.11 does). Scalars resolve as
go-yaml resolves them (``values.resolve_plain``). Non-string keys and duplicate keys are
refused, as sops refuses them; aliases are expanded into copies. A merge key ``<<`` is not
merged: as in sops, it stays a key ``<<`` holding the expanded alias (the emitter writes it
``!!merge <<``); one holding a single value, which sops leaves out of encryption, is refused.
"""

from __future__ import annotations

import bisect
import copy
import re
from typing import Any, cast

from secretsmgr.errors import FormatError
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Scalar, resolve_plain, resolve_tagged
from secretsmgr.sops.yamlio.events import FoundComment, parse_events, walk

_COMMENT_START = re.compile(r"(?:^|(?<=[ \t]))#", re.MULTILINE)


def find_comments(text: str, events: list[Any]) -> list[FoundComment]:
    """The comments of ``text``: every ``#`` that starts a comment outside a scalar."""
    if "#" not in text:
        return []
    spans = sorted(
        (ev.start_mark.index, ev.end_mark.index)
        for ev in events
        if type(ev).__name__ == "ScalarEvent"
    )
    starts = [s for s, _ in spans]
    found: list[FoundComment] = []
    comment_end = -1
    for m in _COMMENT_START.finditer(text):
        pos = m.start()
        if pos < comment_end:
            continue  # a '#' inside a comment is part of it
        i = bisect.bisect_right(starts, pos) - 1
        if i >= 0 and spans[i][0] <= pos < spans[i][1]:
            continue
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        if line_end < 0:
            line_end = len(text)
        comment_end = line_end
        before = text[line_start:pos].strip()
        found.append(
            FoundComment(
                index=pos,
                line=text.count("\n", 0, pos),
                column=pos - line_start,
                inline=before not in ("", "---"),
                text=text[pos + 1 : line_end].rstrip("\r"),
            )
        )
    return found


def _single_merge_value(line: int) -> None:
    """sops leaves a value held by a ``<<`` key itself out of encryption: a shape not modelled
    here (a merge key holds a mapping or a list of them)."""
    raise FormatError(f"a << key holding a single value at line {line + 1} is not supported")


class _Frame:
    __slots__ = ("column", "index", "key", "keys", "line", "node")

    def __init__(self, node: MapNode | SeqNode, column: int) -> None:
        self.node = node
        self.column = column
        self.keys: set[str] = set()  # mapping: the keys so far (sops refuses duplicates)
        self.key: str | None = None  # mapping: the key whose value comes next
        self.line = -1  # line where the current item started
        self.index = 0  # position in node.items where the current item sits or will sit


class _TreeSink:
    """Builds trees from the walk, inserting recovered comments where go-yaml puts them."""

    def __init__(self, track: bool) -> None:
        self.track = track  # comments to place: keep each item's line and position
        self.docs: list[Node] = []
        self.stack: list[_Frame] = []
        self.pending: list[Comment] = []
        self.anchors: dict[str, Node] = {}
        self.root: Node = None
        self.has_root = False

    def _attach(self, value: Node, line: int) -> None:
        if not self.stack:
            self.root = value
            self.has_root = True
            return
        frame = self.stack[-1]
        if isinstance(frame.node, MapNode):
            assert frame.key is not None  # the walk hands over a key before its value
            if frame.key == "<<" and not isinstance(value, MapNode | SeqNode):
                _single_merge_value(line)
            frame.node.items.append((frame.key, value))
            frame.key = None
        else:
            frame.index = len(frame.node.items)
            frame.line = line
            frame.node.items.append(value)

    def _key(self, value: Scalar, event: Any) -> None:
        if not isinstance(value, str):
            raise FormatError(f"non-string key at line {event.start_mark.line + 1}")
        frame = self.stack[-1]
        if value in frame.keys:
            raise FormatError(f"duplicate key {value!r}")
        frame.keys.add(value)
        frame.key = value
        if self.track:
            frame.line = event.start_mark.line
            frame.index = len(frame.node.items)

    def scalar(self, event: Any, is_key: bool) -> None:
        tag = event.tag
        if tag is not None and tag != "!":
            value = resolve_tagged(event.value, tag)
        elif event.style:
            value = str(event.value)
        else:
            value = resolve_plain(event.value)
        frame = self.stack[-1] if self.stack else None
        key = frame.key if frame is not None else None
        if is_key:
            self._key(value, event)
        elif frame is not None and key is not None:  # a mapping's value: the common case
            if key == "<<":
                _single_merge_value(event.start_mark.line)
            cast(MapNode, frame.node).items.append((key, value))
            frame.key = None
        else:
            self._attach(value, event.start_mark.line)
        if event.anchor:
            self.anchors[event.anchor] = value

    def start(self, event: Any, is_map: bool) -> None:
        node: MapNode | SeqNode = MapNode() if is_map else SeqNode()
        if self.pending:
            node.items.extend(self.pending)
            self.pending = []
        self._attach(node, event.start_mark.line)
        self.stack.append(_Frame(node, event.start_mark.column))
        if event.anchor:
            self.anchors[event.anchor] = node

    def end(self) -> None:
        self.stack.pop()

    def alias(self, event: Any, is_key: bool) -> None:
        target = copy.deepcopy(self.anchors[event.anchor])
        line = event.start_mark.line
        if is_key:
            if not isinstance(target, str):
                raise FormatError(f"non-string key at line {line + 1}")
            self._key(target, event)
        else:
            self._attach(target, line)

    def comment(self, found: FoundComment, next_kind: str, next_column: int | None) -> None:
        item = Comment(found.text)
        if found.inline:
            for frame in reversed(self.stack):
                if frame.line == found.line:
                    frame.node.items.insert(frame.index, item)
                    frame.index += 1
                    return
        if next_kind == "start" or not self.stack:
            self.pending.append(item)
            return
        if next_kind == "end":
            # Measured against sops 3.11: a comment indented deeper than the item that follows
            # the closing block is that block's foot comment (go-yaml puts it in the innermost
            # block); otherwise it heads the next item, in the block at its column.
            chosen = self.stack[-1]
            if next_column is None or found.column <= next_column:
                chosen = self.stack[0]
                for frame in reversed(self.stack):
                    if frame.column <= found.column:
                        chosen = frame
                        break
            chosen.node.items.append(item)
            return
        frame = self.stack[-1]
        if isinstance(frame.node, MapNode) and frame.key is not None:
            frame.node.items.insert(frame.index, item)
            frame.index += 1
        else:
            frame.node.items.append(item)

    def end_document(self) -> None:
        root = self.root if self.has_root else None
        if self.pending and isinstance(root, MapNode):
            root.items.extend(self.pending)
        self.pending = []
        self.docs.append(root)
        self.root = None
        self.has_root = False
        self.anchors = {}


def parse_yaml(text: str) -> list[Node]:
    """Parse every document of ``text`` into trees with comments, as sops reads YAML.

    An empty document becomes None. Raises ``FormatError`` (no content in the message).
    """
    events = parse_events(text)
    comments = find_comments(text, events)
    sink = _TreeSink(track=bool(comments))
    walk(events, sink, comments)
    return sink.docs
