"""YAML in and out: the only module that imports ruamel.yaml.

Reading goes through ruamel's C parser (libyaml events with positions); comments, which the
C parser drops, are recovered from the text between scalars and placed where go-yaml v3 attaches
them (head comments before their item, foot comments after the last item of their block, inline
comments moved above their key, as sops 3.11 does). Writing is our own emitter, which produces
what go-yaml v3 writes with sops's 4-space indent, so ``secretsmgr decrypt`` prints what
``sops -d`` prints.
"""

from __future__ import annotations

import bisect
import copy
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml import events as _events_module
from ruamel.yaml.error import YAMLError

from secretsmgr.errors import FormatError
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import (
    Comment,
    Scalar,
    Timestamp,
    format_float_g,
    needs_quotes,
    resolve_plain,
    resolve_tagged,
)

try:  # libyaml through ruamel's C extension: the fast path, used directly.
    from _ruamel_yaml import CParser as _CParser
except ImportError:  # pragma: no cover - pure-Python fallback
    _CParser = None

_YAML: YAML | None = None


def _safe_yaml() -> YAML:
    global _YAML
    if _YAML is None:
        _YAML = YAML(typ="safe", pure=False)
    return _YAML


def _format_error(exc: YAMLError) -> FormatError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return FormatError(f"malformed YAML{where}")


def safe_load_all(text: str) -> list[Any]:
    """Load every document of ``text`` as plain Python data (dicts, lists, scalars).

    For manifests (kustomization.yaml, Flux objects, config files) where no round trip is
    needed. Scalars resolve as go-yaml does, which is what kustomize and Flux read with;
    timestamps come back as their text. Raises ``FormatError`` on malformed YAML, naming the
    line but no content.
    """
    try:
        events = _events(text)
    except YAMLError as exc:
        raise _format_error(exc) from exc
    docs: list[Any] = []
    stack: list[list[Any]] = []  # [container, pending key or _NO_KEY]
    anchors: dict[str, Any] = {}
    root: Any = None

    def put(value: Any) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        frame = stack[-1]
        container = frame[0]
        if isinstance(container, dict):
            if frame[1] is _NO_KEY:
                if isinstance(value, dict | list):
                    raise FormatError("complex mapping keys are not supported")
                frame[1] = value
            else:
                container[frame[1]] = value
                frame[1] = _NO_KEY
        else:
            container.append(value)

    for ev in events:
        kind = type(ev).__name__
        if kind == "ScalarEvent":
            tag = ev.tag
            if tag is not None and tag != "!":
                try:
                    value: Any = resolve_tagged(ev.value, tag)
                except FormatError:
                    value = ev.value
            elif ev.style:
                value = ev.value
            else:
                value = resolve_plain(ev.value)
            if isinstance(value, Timestamp):
                value = value.text
            if ev.anchor:
                anchors[ev.anchor] = value
            put(value)
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            node: Any = {} if kind == "MappingStartEvent" else []
            if ev.anchor:
                anchors[ev.anchor] = node
            put(node)
            stack.append([node, _NO_KEY])
            if len(stack) > MAX_DEPTH:
                raise FormatError(f"nesting deeper than {MAX_DEPTH} levels")
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            stack.pop()
        elif kind == "AliasEvent":
            if ev.anchor not in anchors:
                raise FormatError(f"unknown alias at line {ev.start_mark.line + 1}")
            put(anchors[ev.anchor])  # shared, not copied: manifests are only read
        elif kind == "DocumentEndEvent":
            docs.append(root)
            root = None
            anchors = {}
    return docs


_NO_KEY = object()


# ---------------------------------------------------------------------------------------------
# Reading


MAX_DEPTH = 200  # deeper trees are refused, not a RecursionError later
MAX_ALIAS_NODES = 100_000  # nodes that alias expansion may copy in one file


def _size(node: Node, limit: int) -> int:
    """Nodes in ``node``, counting stops a little past ``limit``."""
    count = 0
    todo: list[Node] = [node]
    while todo and count <= limit:
        current = todo.pop()
        count += 1
        if isinstance(current, MapNode):
            todo.extend(i[1] for i in current.items if not isinstance(i, Comment))
        elif isinstance(current, SeqNode):
            todo.extend(e for e in current.items if not isinstance(e, Comment))
    return count


_COMMENT_START = re.compile(r"(?:^|(?<=[ \t]))#", re.MULTILINE)


class _Frame:
    __slots__ = ("column", "index", "key", "line", "node")

    def __init__(self, node: MapNode | SeqNode, column: int) -> None:
        self.node = node
        self.column = column
        self.key: str | None = None  # mapping: the key whose value comes next
        self.line = -1  # line where the current item started
        self.index = 0  # position in node.items where the current item sits or will sit


class _Builder:
    """Build trees from parser events, inserting recovered comments where go-yaml puts them."""

    def __init__(self) -> None:
        self.docs: list[Node] = []
        self.stack: list[_Frame] = []
        self.pending: list[Comment] = []
        self.anchors: dict[str, Node] = {}
        self.root: Node = None
        self.has_root = False
        self.alias_budget = MAX_ALIAS_NODES

    # -- structure
    def _attach(self, value: Node, line: int) -> None:
        if not self.stack:
            self.root = value
            self.has_root = True
            return
        frame = self.stack[-1]
        if isinstance(frame.node, MapNode):
            if frame.key is None:
                raise FormatError("internal: value without key")
            frame.node.items.append((frame.key, value))
            frame.key = None
        else:
            frame.index = len(frame.node.items)
            frame.line = line
            frame.node.items.append(value)

    def key_or_value(self, value: Scalar, is_key: bool, line: int, plain: bool = True) -> None:
        frame = self.stack[-1] if self.stack else None
        if is_key and frame is not None and isinstance(frame.node, MapNode):
            if not isinstance(value, str):
                raise FormatError(f"non-string key at line {line + 1}")
            if value == "<<" and plain:
                raise FormatError("YAML merge keys (<<) are not supported; expand them first")
            frame.key = value
            frame.line = line
            frame.index = len(frame.node.items)
            return
        self._attach(value, line)

    def attach_alias(self, node: MapNode | SeqNode, line: int) -> None:
        self._attach(node, line)

    def start(self, node: MapNode | SeqNode, column: int, line: int) -> None:
        if self.pending:
            node.items.extend(self.pending)
            self.pending = []
        self._attach(node, line)
        self.stack.append(_Frame(node, column))
        if len(self.stack) > MAX_DEPTH:
            raise FormatError(f"nesting deeper than {MAX_DEPTH} levels")

    def end(self) -> None:
        self.stack.pop()

    def expects_key(self) -> bool:
        return (
            bool(self.stack)
            and isinstance(self.stack[-1].node, MapNode)
            and (self.stack[-1].key is None)
        )

    # -- comments
    def comment(
        self,
        text: str,
        line: int,
        column: int,
        inline: bool,
        next_kind: str,
        next_column: int | None = None,
    ) -> None:
        item = Comment(text)
        if inline:
            for frame in reversed(self.stack):
                if frame.line == line:
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
            if next_column is None or column <= next_column:
                chosen = self.stack[0]
                for frame in reversed(self.stack):
                    if frame.column <= column:
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


def _scalar_value(event: Any) -> Scalar:
    style = event.style
    tag = event.tag
    if tag is not None and tag != "!":
        return resolve_tagged(event.value, tag)
    if style:
        return str(event.value)
    return resolve_plain(event.value)


def _find_comments(
    text: str, spans: list[tuple[int, int]]
) -> list[tuple[int, int, int, bool, str]]:
    """Comments outside scalar spans: (index, line, column, inline, text after '#')."""
    found: list[tuple[int, int, int, bool, str]] = []
    if "#" not in text:
        return found
    starts = [s for s, _ in spans]
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
        body = text[pos + 1 : line_end].rstrip("\r")
        comment_end = line_end
        before = text[line_start:pos]
        inline = before.strip() != "" and before.strip() not in ("---",)
        if before.strip() == "---":
            inline = False
        line = text.count("\n", 0, pos)
        found.append((pos, line, pos - line_start, inline, body))
    return found


_LAST: list[tuple[str, list[Any]]] = []


def _events(text: str) -> list[Any]:
    """Parser events of ``text``; the last result is kept, as a file is often read twice."""
    if _LAST and _LAST[0][0] is text:
        return _LAST[0][1]
    if _CParser is None:  # pragma: no cover
        events = list(_safe_yaml().parse(text))
    else:
        parser = _CParser(text)
        events = []
        while True:
            event = parser.get_event()
            events.append(event)
            if type(event).__name__ == "StreamEndEvent":
                break
    _LAST[:] = [(text, events)]
    return events


_EV = {
    name: getattr(_events_module, name)
    for name in (
        "ScalarEvent",
        "MappingStartEvent",
        "SequenceStartEvent",
        "MappingEndEvent",
        "SequenceEndEvent",
        "DocumentEndEvent",
        "AliasEvent",
    )
}


def _build_plain(events: list[Any]) -> list[Node] | None:
    """The common case (no comments, anchors or aliases) without the comment machinery.

    Returns None when the events need the full builder.
    """
    scalar, map_start, seq_start = (
        _EV["ScalarEvent"],
        _EV["MappingStartEvent"],
        _EV["SequenceStartEvent"],
    )
    map_end, seq_end, doc_end = (
        _EV["MappingEndEvent"],
        _EV["SequenceEndEvent"],
        _EV["DocumentEndEvent"],
    )
    docs: list[Node] = []
    # Each frame: [node, pending key (None when a key is expected), is_mapping]
    stack: list[list[Any]] = []
    root: Node = None
    for ev in events:
        cls = ev.__class__
        if cls is scalar:
            if ev.anchor:
                return None
            tag = ev.tag
            if tag is not None and tag != "!":
                value = resolve_tagged(ev.value, tag)
            elif ev.style:
                value = ev.value
            else:
                value = resolve_plain(ev.value)
            if not stack:
                root = value
                continue
            frame = stack[-1]
            if frame[2]:
                if frame[1] is None:
                    if not isinstance(value, str):
                        raise FormatError(f"non-string key at line {ev.start_mark.line + 1}")
                    if value == "<<" and not ev.style:
                        return None
                    frame[1] = value
                else:
                    frame[0].items.append((frame[1], value))
                    frame[1] = None
            else:
                frame[0].items.append(value)
        elif cls is map_start or cls is seq_start:
            if ev.anchor:
                return None
            node: MapNode | SeqNode = MapNode() if cls is map_start else SeqNode()
            if stack:
                frame = stack[-1]
                if frame[2]:
                    if frame[1] is None:
                        return None  # a collection as a key: let the full builder say so
                    frame[0].items.append((frame[1], node))
                    frame[1] = None
                else:
                    frame[0].items.append(node)
            else:
                root = node
            stack.append([node, None, cls is map_start])
            if len(stack) > MAX_DEPTH:
                raise FormatError(f"nesting deeper than {MAX_DEPTH} levels")
        elif cls is map_end or cls is seq_end:
            stack.pop()
        elif cls is doc_end:
            docs.append(root)
            root = None
        elif cls is _EV["AliasEvent"]:
            return None
    return docs


def _next_item_column(events: list[Any], k: int) -> int | None:
    """Column of the first item after the block ends at ``events[k:]``; None at document end."""
    for ev in events[k:]:
        name = type(ev).__name__
        if name in ("ScalarEvent", "AliasEvent", "MappingStartEvent", "SequenceStartEvent"):
            return int(ev.start_mark.column)
        if name in ("DocumentEndEvent", "StreamEndEvent"):
            return None
    return None


def parse_yaml(text: str) -> list[Node]:
    """Parse every document of ``text`` into trees with comments, as sops reads YAML.

    An empty document becomes None. Raises ``FormatError`` (no content in the message).
    """
    try:
        events = _events(text)
    except YAMLError as exc:
        raise _format_error(exc) from exc
    spans: list[tuple[int, int]] = []
    if "#" in text:
        for ev in events:
            name = type(ev).__name__
            if name == "ScalarEvent":
                spans.append((ev.start_mark.index, ev.end_mark.index))
        spans.sort()
    comments = _find_comments(text, spans)
    if not comments:
        plain = _build_plain(events)
        if plain is not None:
            _check_duplicates(plain)
            return plain
    builder = _Builder()
    ci = 0
    n_events = len(events)
    for k, ev in enumerate(events):
        name = type(ev).__name__
        if comments and ci < len(comments) and name not in ("StreamStartEvent",):
            pos = ev.start_mark.index
            while ci < len(comments) and comments[ci][0] < pos:
                nxt = "end"
                next_column = _next_item_column(events, k)
                for j in range(k, n_events):
                    kind = type(events[j]).__name__
                    if kind in ("MappingStartEvent", "SequenceStartEvent"):
                        nxt = "start"
                        break
                    if kind in ("ScalarEvent", "AliasEvent"):
                        nxt = "item"
                        break
                    if kind in (
                        "MappingEndEvent",
                        "SequenceEndEvent",
                        "DocumentEndEvent",
                        "StreamEndEvent",
                    ):
                        nxt = "end"
                        break
                _, line, col, inline, body = comments[ci]
                builder.comment(body, line, col, inline, nxt, next_column)
                ci += 1
        if name == "ScalarEvent":
            is_key = builder.expects_key()
            value = _scalar_value(ev)
            builder.key_or_value(value, is_key, ev.start_mark.line, plain=not ev.style)
            if ev.anchor:
                builder.anchors[ev.anchor] = value
        elif name == "MappingStartEvent" or name == "SequenceStartEvent":
            if builder.expects_key():
                raise FormatError(f"complex mapping key at line {ev.start_mark.line + 1}")
            node: MapNode | SeqNode = MapNode() if name == "MappingStartEvent" else SeqNode()
            builder.start(node, ev.start_mark.column, ev.start_mark.line)
            if ev.anchor:
                builder.anchors[ev.anchor] = node
        elif name == "MappingEndEvent" or name == "SequenceEndEvent":
            builder.end()
        elif name == "AliasEvent":
            if ev.anchor not in builder.anchors:
                raise FormatError(f"unknown alias at line {ev.start_mark.line + 1}")
            builder.alias_budget -= _size(builder.anchors[ev.anchor], builder.alias_budget)
            if builder.alias_budget < 0:
                raise FormatError("excessive aliasing (a YAML alias bomb?)")
            target = copy.deepcopy(builder.anchors[ev.anchor])
            if builder.expects_key():
                if not isinstance(target, str):
                    raise FormatError(f"non-string key at line {ev.start_mark.line + 1}")
                builder.key_or_value(target, True, ev.start_mark.line)
            elif isinstance(target, MapNode | SeqNode):
                builder.attach_alias(target, ev.start_mark.line)
            else:
                builder.key_or_value(target, False, ev.start_mark.line)
        elif name == "DocumentEndEvent":
            builder.end_document()
    _check_duplicates(builder.docs)
    return builder.docs


def _check_duplicates(docs: list[Node]) -> None:
    def visit(node: Node) -> None:
        if isinstance(node, MapNode):
            seen: set[str] = set()
            for item in node.items:
                if isinstance(item, Comment):
                    continue
                if item[0] in seen:
                    raise FormatError(f"duplicate key {item[0]!r}")
                seen.add(item[0])
                visit(item[1])
        elif isinstance(node, SeqNode):
            for element in node.items:
                if not isinstance(element, Comment):
                    visit(element)

    for doc in docs:
        visit(doc)


# ---------------------------------------------------------------------------------------------
# Writing (go-yaml v3 style)


def _is_printable(ch: str) -> bool:
    o = ord(ch)
    return (
        o == 0x0A
        or 0x20 <= o <= 0x7E
        or 0xA0 <= o <= 0xD7FF
        or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)
    )


_BREAKS = "\r\n\x85\u2028\u2029"
_FIRST_INDICATORS = "#,[]{}&*!|>'\"%@`"


def _analyze(s: str) -> tuple[bool, bool, bool]:
    """libyaml's scalar analysis: (block_plain_allowed, single_quoted_allowed, block_allowed)."""
    block_ind = s.startswith(("---", "..."))
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = special = line_breaks = False
    prev_space = prev_break = False
    preceded_ws = True
    n = len(s)
    for i, ch in enumerate(s):
        nxt = s[i + 1] if i + 1 < n else ""
        followed_ws = nxt == "" or nxt in " \t" or nxt in _BREAKS
        if i == 0:
            if (
                ch in _FIRST_INDICATORS
                or (ch in "?:" and followed_ws)
                or (ch == "-" and followed_ws)
            ):
                block_ind = True
        else:
            if (ch == ":" and followed_ws) or (ch == "#" and preceded_ws):
                block_ind = True
        if not _is_printable(ch):
            special = True
        if ch in _BREAKS:
            line_breaks = True
        if ch == " ":
            if i == 0:
                leading_space = True
            if i == n - 1:
                trailing_space = True
            if prev_break:
                break_space = True
            prev_space, prev_break = True, False
        elif ch in _BREAKS:
            if i == 0:
                leading_break = True
            if i == n - 1:
                trailing_break = True
            if prev_space:
                space_break = True
            prev_space, prev_break = False, True
        else:
            prev_space = prev_break = False
        preceded_ws = ch in " \t" or ch in _BREAKS
    block_plain = single = block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        block_plain = False
    if trailing_space:
        block = False
    if break_space:
        block_plain = single = False
    if space_break or special:
        block_plain = single = block = False
    if line_breaks:
        block_plain = False
    if block_ind:
        block_plain = False
    return block_plain, single, block


_ESCAPES = {
    "\0": "0",
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\xa0": "_",
    "\u2028": "L",
    "\u2029": "P",
}


def _double_quoted(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in ('"', "\\") or ch in _BREAKS or not _is_printable(ch):
            esc = _ESCAPES.get(ch)
            if esc is not None and ch != "\xa0":
                out.append("\\" + esc)
            else:
                o = ord(ch)
                if o <= 0xFF:
                    out.append(f"\\x{o:02X}")
                elif o <= 0xFFFF:
                    out.append(f"\\u{o:04X}")
                else:
                    out.append(f"\\U{o:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# Fast paths for the common shapes (ENC values, base64, names, armored age files): strings
# these match are exactly those for which the character-by-character analysis would say yes.
_SIMPLE_PLAIN = re.compile(r"[A-Za-z0-9_/+=][A-Za-z0-9_/.+=,\[\]:\-]*")
_SIMPLE_BLOCK = re.compile(r"[\x21-\x7e][\x20-\x7e\n]*")


def _block_ok(s: str) -> bool:
    if _SIMPLE_BLOCK.fullmatch(s) and " \n" not in s and not s.endswith(" "):
        return True
    return _analyze(s)[2]


def _string(s: str, is_key: bool) -> str | tuple[str, list[str]]:
    """Format a string scalar; a literal block comes back as (header, lines)."""
    if _SIMPLE_PLAIN.fullmatch(s) and not s.endswith(":") and not needs_quotes(s):
        return s
    if "\n" in s and not is_key:
        block_ok = _block_ok(s)
        if block_ok and not s.startswith((" ", "\t")) and s[0] not in _BREAKS:
            if not s.endswith("\n"):
                chomp = "-"
            elif s.endswith("\n\n") or s == "\n":
                chomp = "+"
            else:
                chomp = ""
            body = s[:-1] if s.endswith("\n") else s
            return "|" + chomp, body.split("\n")
        return _double_quoted(s)
    if needs_quotes(s):
        return _double_quoted(s)
    block_plain, single_ok, _ = _analyze(s)
    if block_plain:
        return s
    if single_ok and not any(c in _BREAKS for c in s):
        return "'" + s.replace("'", "''") + "'"
    return _double_quoted(s)


def format_scalar(value: Scalar, is_key: bool = False) -> str | tuple[str, list[str]]:
    """Render one scalar as go-yaml v3 does."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, Timestamp):
        return value.text
    return _string(value, is_key)


class _Emitter:
    def __init__(self, indent: int) -> None:
        self.indent = indent
        self.lines: list[str] = []

    def scalar_after(self, prefix: str, value: Scalar, content_col: int) -> None:
        rendered = format_scalar(value)
        if isinstance(rendered, tuple):
            header, body = rendered
            self.lines.append(f"{prefix} {header}" if prefix else header)
            pad = " " * content_col
            self.lines.extend(pad + line if line else "" for line in body)
        else:
            self.lines.append(f"{prefix} {rendered}" if prefix else rendered)

    def mapping(self, node: MapNode, level: int, key_col: int) -> None:
        pad = " " * key_col
        child = level + self.indent
        for item in node.items:
            if isinstance(item, Comment):
                self.lines.append(f"{pad}#{item.text}")
                continue
            key, value = item
            k = format_scalar(key, is_key=True)
            assert isinstance(k, str)
            if isinstance(value, MapNode):
                if not _has_data(value):
                    self._hoist(value.items, key_col)
                    self.lines.append(f"{pad}{k}: {{}}")
                else:
                    self.lines.append(f"{pad}{k}:")
                    self.mapping(value, child, child)
            elif isinstance(value, SeqNode):
                if not _has_data(value):
                    self._hoist(value.items, key_col)
                    self.lines.append(f"{pad}{k}: []")
                else:
                    self.lines.append(f"{pad}{k}:")
                    self.sequence(value, child)
            else:
                self.scalar_after(f"{pad}{k}:", value, child)

    def _hoist(self, items: list[Any], col: int) -> None:
        for item in items:
            if isinstance(item, Comment):
                self.lines.append(" " * col + "#" + item.text)

    def sequence(self, node: SeqNode, dash: int) -> None:
        pad = " " * dash
        for element in node.items:
            if isinstance(element, Comment):
                self.lines.append(f"{pad}#{element.text}")
            elif isinstance(element, MapNode | SeqNode):
                if not _has_data(element):
                    self._hoist(element.items, dash)
                    self.lines.append(f"{pad}- {'{}' if isinstance(element, MapNode) else '[]'}")
                    continue
                lead = 0
                while isinstance(element.items[lead], Comment):
                    lead += 1
                self._hoist(element.items[:lead], dash)
                rest: MapNode | SeqNode
                if isinstance(element, MapNode):
                    rest = MapNode(element.items[lead:])
                else:
                    rest = SeqNode(element.items[lead:])
                start = len(self.lines)
                if isinstance(rest, MapNode):
                    self.mapping(rest, dash, dash + 2)
                else:
                    self.sequence(rest, dash + 2)
                while self.lines[start].lstrip().startswith("#"):
                    # a comment leading a nested item: above the dash (same path), never '- #'
                    self.lines[start] = pad + self.lines[start].lstrip()
                    start += 1
                first = self.lines[start]
                self.lines[start] = pad + "- " + first[dash + 2 :]
            else:
                self.scalar_after(f"{pad}-", element, dash + 2)


def _has_data(node: MapNode | SeqNode) -> bool:
    return any(not isinstance(i, Comment) for i in node.items)


def emit_yaml(docs: list[Node], indent: int = 4) -> str:
    """Write documents as go-yaml v3 (sops) writes them; documents separated by ``---``."""
    parts: list[str] = []
    for doc in docs:
        em = _Emitter(indent)
        if isinstance(doc, MapNode):
            if _has_data(doc):
                em.mapping(doc, 0, 0)
            else:
                em._hoist(doc.items, 0)
                em.lines.append("{}")
        elif isinstance(doc, SeqNode):
            if _has_data(doc):
                em.sequence(doc, 0)
            else:
                em.lines.append("[]")
        else:
            em.scalar_after("", doc, indent)
        parts.append("\n".join(em.lines) + "\n")
    return "---\n".join(parts)
