"""Rewrite an encrypted YAML file by replacing only its ``ENC[…]`` spans and ``sops`` blocks.

Re-emitting a whole file reflows whatever formatting a human gave it; a rotation should leave
every byte but the ciphertext and the metadata alone, so the git diff shows exactly those.
``splice`` does that when the new tree has the same shape as the text, and says so; otherwise
it returns None and the caller writes the file whole.
"""

from __future__ import annotations

from typing import Any

from secretsmgr.sops.encvalue import PREFIX, enc_type
from secretsmgr.sops.metadata import SOPS_KEY, format_metadata
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.rules import iter_leaves
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import _events, _find_comments, emit_yaml

Span = tuple[int, int]


def _new_values(docs: list[MapNode], meta: SopsMetadata) -> list[str]:
    out: list[str] = []
    for doc in docs:
        for _path, leaf, encrypted in iter_leaves(doc, meta.rule):
            text = leaf.text if isinstance(leaf, Comment) else leaf
            if encrypted and isinstance(text, str) and text.startswith(PREFIX):
                out.append(text)
    return out


def _scan(text: str) -> tuple[list[Span], list[Span]] | None:
    """ENC spans outside sops blocks (text order) and the sops block of each document."""
    events: list[Any] = _events(text)
    scalar_spans: list[Span] = []
    enc_spans: list[Span] = []
    blocks: list[Span] = []
    depth = 0
    expect_key = False
    in_sops_from: int | None = None  # set once the document's top-level sops key was seen
    stack: list[str] = []
    block_start: int | None = None
    for i, ev in enumerate(events):
        kind = type(ev).__name__
        if kind == "ScalarEvent":
            scalar_spans.append((ev.start_mark.index, ev.end_mark.index))
            top_key = depth == 1 and stack and stack[-1] == "map" and expect_key
            if top_key and ev.value == SOPS_KEY and in_sops_from is None:
                line_start = text.rfind("\n", 0, ev.start_mark.index) + 1
                block_start = line_start
                in_sops_from = depth
            elif in_sops_from is None and str(ev.value).startswith(PREFIX):
                enc_spans.append((ev.start_mark.index, ev.end_mark.index))
            if stack and stack[-1] == "map":
                expect_key = not expect_key
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            if stack and stack[-1] == "map":
                expect_key = not expect_key
            stack.append("map" if kind == "MappingStartEvent" else "seq")
            depth += 1
            if stack[-1] == "map":
                expect_key = True
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            stack.pop()
            depth -= 1
            # After a nested collection closes as a mapping value, a key comes next.
            expect_key = bool(stack) and stack[-1] == "map"
            if depth == 1 and in_sops_from is not None and block_start is not None:
                # The sops value just closed: it must be the document's last item.
                nxt = type(events[i + 1]).__name__ if i + 1 < len(events) else ""
                if nxt != "MappingEndEvent":
                    return None
        elif kind == "AliasEvent":
            return None
        elif kind == "DocumentEndEvent":
            if block_start is not None:
                end = _document_end(events, i, len(text))
                blocks.append((block_start, end))
            block_start = None
            in_sops_from = None
            depth = 0
            stack = []
    if "#" in text:
        scalar_spans.sort()
        for pos, _line, _col, inline, body in _find_comments(text, scalar_spans):
            if body.startswith(PREFIX) and not inline and not _inside(pos, blocks):
                enc_spans.append((pos + 1, pos + 1 + len(body)))
    enc_spans.sort()
    return enc_spans, blocks


def _inside(pos: int, blocks: list[Span]) -> bool:
    return any(a <= pos < b for a, b in blocks)


def _document_end(events: list[Any], i: int, length: int) -> int:
    for ev in events[i + 1 :]:
        if type(ev).__name__ == "DocumentStartEvent":
            return int(ev.start_mark.index)
    return length


def splice(text: str, docs: list[MapNode], meta: SopsMetadata, indent: int = 4) -> str | None:
    """``text`` with its ENC values and sops blocks replaced by those of (docs, meta).

    None when the text's shape does not match (aliases, a sops key that is not last, a different
    number or type of encrypted values): write the file whole instead.
    """
    scanned = _scan(text)
    if scanned is None:
        return None
    spans, blocks = scanned
    values = _new_values(docs, meta)
    if len(spans) != len(values) or len(blocks) != len(docs) or not blocks:
        return None
    for (a, b), new in zip(spans, values, strict=True):
        old = text[a:b].strip("'\"")
        if enc_type(old) != enc_type(new):
            return None
    block = emit_yaml([MapNode([(SOPS_KEY, format_metadata(meta))])], indent)
    edits = [(a, b, new) for (a, b), new in zip(spans, values, strict=True)]
    edits += [(a, b, block) for a, b in blocks]
    edits.sort()
    out: list[str] = []
    cursor = 0
    for a, b, new in edits:
        if a < cursor:
            return None
        out.append(text[cursor:a])
        out.append(new)
        cursor = b
    out.append(text[cursor:])
    return "".join(out)
