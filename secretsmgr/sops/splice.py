"""Rewrite an encrypted YAML file by replacing only its ``ENC[…]`` values and ``sops`` blocks.

Re-emitting a whole file reflows whatever formatting a human gave it; a rotation should leave
every byte but the ciphertext and the metadata alone, so the git diff shows exactly those.
``splice`` finds the encrypted values by their unmistakable shape, in text order, and the
``sops:`` block of each document; when the shape of the text does not match the new tree (a
different count or type of values, a ``sops`` key that is not last) it returns None and the
caller writes the file whole. Callers verify the result by decrypting it.
"""

from __future__ import annotations

import re

from secretsmgr.sops.encvalue import PREFIX
from secretsmgr.sops.metadata import SOPS_KEY, format_metadata
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.rules import iter_leaves
from secretsmgr.sops.tree import MapNode
from secretsmgr.sops.values import Comment
from secretsmgr.sops.yamlio import emit_yaml

_B64 = r"[A-Za-z0-9+/=]"
_ENC = re.compile(rf"ENC\[AES256_GCM,data:{_B64}*,iv:{_B64}+,tag:{_B64}+,type:(?P<type>[a-z]+)\]")
# A top-level `sops:` key starts a block that runs to the next document marker or the end.
_BLOCK = re.compile(r"^sops:[ \t]*\n", re.MULTILINE)
_DOC = re.compile(r"^---[ \t]*$", re.MULTILINE)


def _new_values(docs: list[MapNode], meta: SopsMetadata) -> list[str]:
    out: list[str] = []
    for doc in docs:
        for _path, leaf, encrypted in iter_leaves(doc, meta.rule):
            text = leaf.text if isinstance(leaf, Comment) else leaf
            if encrypted and isinstance(text, str) and text.startswith(PREFIX):
                out.append(text)
    return out


def _blocks(text: str) -> list[tuple[int, int]]:
    starts = [m.start() for m in _BLOCK.finditer(text)]
    ends = [m.start() for m in _DOC.finditer(text)] + [len(text)]
    blocks = []
    for start in starts:
        end = min(e for e in ends if e > start)
        blocks.append((start, end))
    return blocks


def block_indent(text: str) -> int | None:
    """The indent the file's first ``sops:`` block was written with (``stores.yaml.indent``
    when sops wrote it), or None when there is no such block to tell."""
    found = _BLOCK.search(text)
    if found is None:
        return None
    end = text.find("\n", found.end())
    line = text[found.end() : end if end >= 0 else len(text)]
    width = len(line) - len(line.lstrip(" "))
    return width if 0 < width < len(line) else None


def splice(
    text: str,
    docs: list[MapNode],
    meta: SopsMetadata,
    indent: int = 4,
    values: tuple[str, ...] | None = None,
) -> str | None:
    """``text`` with its ENC values and sops blocks replaced by those of (docs, meta), or None.

    ``values`` are the new ENC strings in file order when the caller already has them.
    """
    blocks = _blocks(text)
    if len(blocks) != len(docs) or not blocks:
        return None
    values = values if values else tuple(_new_values(docs, meta))
    spans = [m for m in _ENC.finditer(text) if not any(a <= m.start() < b for a, b in blocks)]
    if len(spans) != len(values):
        return None
    for match, new in zip(spans, values, strict=True):
        found = _ENC.match(new)
        if found is None or found["type"] != match["type"]:
            return None
    block = emit_yaml([MapNode([(SOPS_KEY, format_metadata(meta))])], indent)
    edits = [(m.start(), m.end(), new) for m, new in zip(spans, values, strict=True)]
    edits += [(a, b, block) for a, b in blocks]
    edits.sort()
    out: list[str] = []
    cursor = 0
    for a, b, new in edits:
        out.append(text[cursor:a])
        out.append(new)
        cursor = b
    out.append(text[cursor:])
    return "".join(out)
