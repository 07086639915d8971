"""The manifest loader: YAML text to plain Python data, for files that are read, never written.

kustomization.yaml, Flux objects, `.sops.yaml`, `.secretsmgr.yaml` and every Kubernetes
manifest the gate looks at go through ``safe_load_all``: the C parser's events, the shared walk
(so the same limits on depth and aliases), and go-yaml's scalar resolution, which is what
kustomize and Flux read with. No comments, no copies: an alias is the anchored object itself.
A merge key ``<<`` is applied, as kustomize applies it.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from secretsmgr.errors import FormatError
from secretsmgr.sops.limits import check_text_size
from secretsmgr.sops.values import Timestamp, resolve_plain, resolve_tagged
from secretsmgr.sops.yamlio.events import FoundComment, parse_events, walk

_NO_KEY = object()
_LOCAL_TAG = re.compile(r"^![^!]")


# YAML's !!binary: base64 of bytes that are not text (firmware, an image) stays as written
BINARY_TAGS = frozenset(("!!binary", "tag:yaml.org,2002:binary"))


def _base64(text: str) -> bool:
    try:
        base64.b64decode("".join(text.split()), validate=True)
    except ValueError:  # binascii.Error: not base64 at all, judged as the text it is
        return False
    return True


class TaggedStr(str):
    """A string scalar under a local tag (``!KeyOf name``, ``!Env VAR``, ``!Ref``); ``tag`` says
    which. The reader keeps the tag so a rule can tell a reference an application resolves from
    a literal (kustomize drops the tag and deploys the literal)."""

    tag: str = ""


# Maps whose values Kubernetes and kustomize read as text (map[string]string): a plain ``true``,
# ``05`` or ``0x10`` there is that text, which a label selector compares (kustomize does).
_TEXT_MAPS = frozenset(("labels", "annotations"))


class _DataSink:
    """Builds dicts, lists and scalars; a timestamp becomes its RFC 3339 text. The values of a
    ``labels`` or ``annotations`` map are their text."""

    def __init__(self) -> None:
        self.docs: list[Any] = []
        # [container, pending key or _NO_KEY, whether the container is a text map]
        self.stack: list[list[Any]] = []
        self.anchors: dict[str, Any] = {}
        self.root: Any = None
        self.duplicates = False  # a key given twice in one mapping: the later value is kept

    def _put(self, value: Any, is_key: bool) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        if is_key:
            frame[1] = value
        elif frame[1] is _NO_KEY:
            frame[0].append(value)
        else:
            container = frame[0]
            if frame[1] in container:
                self.duplicates = True
            container[frame[1]] = value
            frame[1] = _NO_KEY

    def scalar(self, event: Any, is_key: bool) -> None:
        tag = event.tag
        if not is_key and tag is None and not event.style and self.stack and self.stack[-1][2]:
            if event.anchor:
                self.anchors[event.anchor] = event.value
            self._put(event.value, False)  # a label's or annotation's text, as written
            return
        if tag is not None and tag != "!":
            try:
                value: Any = resolve_tagged(event.value, tag)
            except FormatError:
                value = event.value
                if tag in BINARY_TAGS and _base64(value):  # bytes that are no text, as written
                    value = TaggedStr(value)
                    value.tag = tag
        elif event.style:
            value = event.value
        else:
            value = resolve_plain(event.value)
        if isinstance(value, Timestamp):
            value = value.text
        # a local tag (!KeyOf); !! is YAML's own (!!str, !!binary)
        if isinstance(value, str) and tag is not None and _LOCAL_TAG.match(tag):
            value = TaggedStr(value)
            value.tag = tag
        if event.anchor:
            self.anchors[event.anchor] = value
        self._put(value, is_key)

    def start(self, event: Any, is_map: bool) -> None:
        node: Any = {} if is_map else []
        if event.anchor:
            self.anchors[event.anchor] = node
        parent = self.stack[-1] if self.stack else None
        text_map = is_map and parent is not None and parent[1] in _TEXT_MAPS
        self._put(node, False)
        self.stack.append([node, _NO_KEY, text_map])

    def end(self) -> None:
        node = self.stack.pop()[0]
        if isinstance(node, dict) and "<<" in node:
            _merge(node)

    def alias(self, event: Any, is_key: bool) -> None:
        target = self.anchors[event.anchor]  # shared, not copied: manifests are only read
        if is_key and isinstance(target, dict | list):
            raise FormatError(f"complex mapping key at line {event.start_mark.line + 1}")
        self._put(target, is_key)

    def end_document(self) -> None:
        self.docs.append(self.root)
        self.root = None
        self.anchors = {}

    def comment(self, found: FoundComment, next_kind: str, next_column: int | None) -> None:
        """Manifests keep no comments (the walk is given none)."""


def _merge(node: dict[Any, Any]) -> None:
    """Apply a YAML merge key as kustomize and Flux read it: the keys of the merged mapping (of
    each, in order, for a list) that ``node`` does not set itself (the second review of this
    session: a Secret whose ``kind`` came through ``<<: {kind: Secret}`` was no Secret here)."""
    merged = node.pop("<<")
    sources = merged if isinstance(merged, list) else [merged]
    if not all(isinstance(source, dict) for source in sources):
        node["<<"] = merged  # no mapping to merge: kept as it stands
        return
    for source in sources:
        for key, value in source.items():
            node.setdefault(key, value)


def safe_load_all(text: str, *, max_bytes: int | None = None) -> list[Any]:
    """Load every document of ``text`` as plain Python data (dicts, lists, scalars).

    Scalars resolve as go-yaml does; a timestamp comes back as its RFC 3339 text. Raises
    ``FormatError`` on malformed YAML, naming the line but no content, and ``TooLargeError``
    when ``text`` is over ``max_bytes``.
    """
    return load_all_noting_duplicates(text, max_bytes=max_bytes)[0]


def load_all_noting_duplicates(
    text: str, *, max_bytes: int | None = None
) -> tuple[list[Any], bool]:
    """``safe_load_all``, and whether a mapping gives a key twice: go-yaml (so kustomize and
    Flux) refuses such a file, and the value given first is in the text but in no document."""
    check_text_size(text, max_bytes)
    sink = _DataSink()
    walk(parse_events(text), sink)
    return sink.docs, sink.duplicates
