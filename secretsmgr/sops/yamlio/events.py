"""Parser events and the one walk over them that both YAML readers share.

ruamel's C parser (libyaml) turns text into events with positions. ``walk`` follows the
structure those events describe and tells a ``Sink`` what it meets: a scalar (as a key or a
value), the start and end of a mapping or sequence, an alias, the end of a document, and, for
the comment-keeping reader, each comment where it falls between two events. The walk owns what
every reader must refuse the same way: nesting deeper than ``MAX_DEPTH``, a collection used as
a mapping key, an unknown or recursive alias, and alias expansion past ``MAX_ALIAS_NODES`` nodes
(a "billion laughs" file).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ruamel.yaml import events as ev_types
from ruamel.yaml.error import YAMLError

from secretsmgr.errors import FormatError

try:  # libyaml through ruamel's C extension: the fast path, used directly.
    from _ruamel_yaml import CParser as _CParser
except ImportError:  # pragma: no cover - pure-Python fallback
    _CParser = None

MAX_DEPTH = 200  # deeper trees are refused, not a RecursionError later
MAX_ALIAS_NODES = 100_000  # nodes that alias expansion may add in one file

_SCALAR = ev_types.ScalarEvent
_MAP_START = ev_types.MappingStartEvent
_SEQ_START = ev_types.SequenceStartEvent
_MAP_END = ev_types.MappingEndEvent
_SEQ_END = ev_types.SequenceEndEvent
_ALIAS = ev_types.AliasEvent
_DOC_END = ev_types.DocumentEndEvent
_STREAM_START = ev_types.StreamStartEvent
_STREAM_END = ev_types.StreamEndEvent


@dataclass(frozen=True, slots=True)
class FoundComment:
    """A ``#`` comment found in the text: where it is, and everything after the ``#``."""

    index: int  # offset in the text
    line: int
    column: int
    inline: bool  # after content on the same line
    text: str


class Sink(Protocol):
    """What a reader builds from the walk. ``event`` is the parser event (tag, style, marks)."""

    def scalar(self, event: Any, is_key: bool) -> None:
        """A scalar: a mapping key when ``is_key``."""

    def start(self, event: Any, is_map: bool) -> None:
        """A mapping (``is_map``) or sequence starts."""

    def end(self) -> None:
        """The innermost open collection ends."""

    def alias(self, event: Any, is_key: bool) -> None:
        """``*name``: a copy of (or a reference to) the anchored node."""

    def end_document(self) -> None:
        """A document ends; anchors do not carry over."""

    def comment(self, found: FoundComment, next_kind: str, next_column: int | None) -> None:
        """A comment before the next event: ``next_kind`` is ``start`` (a collection follows),
        ``item`` (a scalar or alias) or ``end``; ``next_column`` is the column of the next item
        after the closing blocks, None at the end of the document."""


def format_error(exc: YAMLError) -> FormatError:
    """A parser error as a ``FormatError`` naming the line, never the content."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return FormatError(f"malformed YAML{where}")


def _pure_events(text: str) -> list[Any]:
    from ruamel.yaml import YAML

    return _bounded(YAML(typ="safe", pure=True).parse(text))


def _bounded(source: Iterable[Any]) -> list[Any]:
    """The events of ``source`` up to the stream's end; ``FormatError`` as soon as they nest
    deeper than ``MAX_DEPTH`` (refused here, not after the whole text: libyaml's time grows
    with the square of the nesting; the attack review of sweep 93: 100,000 levels in 200 KB
    took 77 s)."""
    events: list[Any] = []
    depth = 0
    for event in source:
        events.append(event)
        cls = event.__class__
        if cls is _MAP_START or cls is _SEQ_START:
            depth += 1
            if depth > MAX_DEPTH:
                raise FormatError(f"nesting deeper than {MAX_DEPTH} levels")
        elif cls is _MAP_END or cls is _SEQ_END:
            depth -= 1
        elif cls is _STREAM_END:
            break
    return events


def parse_events(text: str) -> list[Any]:
    """Every parser event of ``text``; ``FormatError`` when it is not YAML.

    libyaml reads YAML 1.1, which refuses a few things YAML 1.2 and go-yaml (so sops, kustomize
    and Flux) read, such as a ``:`` inside a flow-style plain value
    (``{url: postgres://app:pw@db:5432/app}``): what it refuses is read again by ruamel's
    YAML 1.2 parser before it counts as malformed.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # bytes that are no UTF-8, kept as surrogates (a DER key, an image): no YAML (the
            # review of stop 52: libyaml's encoder raised, an internal error)
            raise FormatError("not UTF-8 text") from exc
    if _CParser is None:  # pragma: no cover
        try:
            return _pure_events(text)
        except YAMLError as exc:
            raise format_error(exc) from exc
    try:
        # get_event never returns None, and _bounded stops at the stream's end: a C-level
        # iterator, no generator frame per event
        return _bounded(iter(_CParser(text).get_event, None))
    except YAMLError as exc:
        try:
            return _pure_events(text)
        except YAMLError:
            raise format_error(exc) from exc


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1


def _next_kind(events: list[Any], k: int) -> str:
    """What comes at ``events[k:]``: a collection start, an item, or the end of a block."""
    for event in events[k:]:
        cls = event.__class__
        if cls is _MAP_START or cls is _SEQ_START:
            return "start"
        if cls is _SCALAR or cls is _ALIAS:
            return "item"
        if cls in (_MAP_END, _SEQ_END, _DOC_END, _STREAM_END):
            return "end"
    return "end"


def _next_item_column(events: list[Any], k: int) -> int | None:
    """Column of the first item after the blocks that end at ``events[k:]``; None at the end
    of the document."""
    for event in events[k:]:
        cls = event.__class__
        if cls in (_SCALAR, _ALIAS, _MAP_START, _SEQ_START):
            return int(event.start_mark.column)
        if cls is _DOC_END or cls is _STREAM_END:
            return None
    return None


def walk(
    events: list[Any],
    sink: Sink,
    comments: Sequence[FoundComment] = (),
    *,
    complex_keys: bool = False,
) -> None:
    """Drive ``sink`` through ``events``; ``comments`` (sorted by index) are handed over just
    before the first event that starts after them. A collection used as a mapping key is
    refused unless ``complex_keys`` (a reader that only looks, such as ``locate``)."""
    # One frame per open collection: [is_map, key expected next, anchor, nodes before it]
    stack: list[list[Any]] = []
    top: list[Any] | None = None  # stack[-1]
    sizes: dict[str, int] = {}  # anchor -> nodes in the anchored node, expanded
    nodes = 0  # nodes so far in this document, aliases expanded
    budget = MAX_ALIAS_NODES
    ci, n_comments = 0, len(comments)
    scalar, start, end = sink.scalar, sink.start, sink.end

    for k, event in enumerate(events):
        cls = event.__class__
        if ci < n_comments and cls is not _STREAM_START:
            pos = event.start_mark.index
            while ci < n_comments and comments[ci].index < pos:
                sink.comment(comments[ci], _next_kind(events, k), _next_item_column(events, k))
                ci += 1
        if cls is _SCALAR:
            if top is not None and top[0]:  # in a mapping: keys and values alternate
                scalar(event, top[1])
                top[1] = not top[1]
            else:
                scalar(event, False)
            nodes += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif cls is _MAP_START or cls is _SEQ_START:
            if top is not None and top[0] and top[1] and not complex_keys:
                raise FormatError(f"complex mapping key at line {_line(event)}")
            start(event, cls is _MAP_START)
            top = [cls is _MAP_START, True, event.anchor, nodes]
            stack.append(top)
            nodes += 1
            if len(stack) > MAX_DEPTH:
                raise FormatError(f"nesting deeper than {MAX_DEPTH} levels")
        elif cls is _MAP_END or cls is _SEQ_END:
            _, _, anchor, before = stack.pop()
            if anchor:
                sizes[anchor] = nodes - before
            end()
            top = stack[-1] if stack else None
            if top is not None and top[0]:
                top[1] = not top[1]  # the collection was a key or a value: the other is next
        elif cls is _ALIAS:
            size = sizes.get(event.anchor)
            if size is None:
                # a glob as a plain value (`path_regex: *.yaml$`, sweep 46, Sapp00/home-lab)
                raise FormatError(
                    f"unknown or recursive alias at line {_line(event)}",
                    hints=("a plain value that starts with * is read as an alias: quote it",),
                )
            budget -= size
            if budget < 0:
                raise FormatError("excessive aliasing (a YAML alias bomb?)")
            nodes += size
            if top is not None and top[0]:
                sink.alias(event, top[1])
                top[1] = not top[1]
            else:
                sink.alias(event, False)
        elif cls is _DOC_END:
            sink.end_document()
            sizes, nodes = {}, 0  # the alias budget is the whole file's
