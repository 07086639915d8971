"""Hypothesis strategies for sops document trees (YAML, JSON and dotenv shaped).

The trees are the ones a plaintext file can produce: mappings with string keys, sequences,
scalars of every go-yaml type, and comment lines inside mappings that hold at least one key.
Known divergences from sops are kept out of the general strategies and pinned by xfail tests
instead (see ``KNOWN_EMITTER_DIVERGENCES``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import strategies as st

from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import INT64_MAX, INT64_MIN, Comment, Timestamp

# Characters go-yaml's emitter treats specially in a way we do not (yet) reproduce; each has an
# xfail test in tests/sops/test_yamlio.py. U+2028/U+2029 (written single-quoted with a folded
# break) and U+FEFF (the following character gets \x-escaped).
KNOWN_EMITTER_DIVERGENCES = "\u2028\u2029\ufeff"

# Keys: printable unicode, no control characters (spec §3: keys are strings).
KEY_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs"),
    exclude_characters=KNOWN_EMITTER_DIVERGENCES + "\x85",
)
# Values: any unicode scalar value, control characters included (written double-quoted).
VALUE_CHARS = st.characters(codec="utf-8", exclude_characters=KNOWN_EMITTER_DIVERGENCES)
# Comment text: one printable line (go-yaml keeps it verbatim after '#').
COMMENT_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs", "Zl", "Zp"),
    exclude_characters=KNOWN_EMITTER_DIVERGENCES + "\x85",
)

TRICKY_STRINGS = [
    "yes",
    "no",
    "on",
    "y",
    "n",
    "null",
    "~",
    "true",
    "False",
    "1.0",
    "0777",
    "0x1F",
    "1_000",
    "1e3",
    ".inf",
    "2024-01-02",
    "2001-12-14 21:59:43.10 -5",
    "12:30:45",
    "- a",
    "a: b",
    "a #b",
    "#x",
    " lead",
    "trail ",
    "it's",
    '"q"',
    "*alias",
    "&anchor",
    "!tag",
    "%x",
    "@x",
    "`x",
    "{a}",
    "[a]",
    "---",
    "...",
    "?",
    ":",
    "-",
    "é",
    "ENC[AES256_GCM,data:x",
    "data:sops",
]
TRICKY_KEYS = [
    "data",
    "stringData",
    "secret",
    "name",
    "n",
    "y",
    "yes",
    "1",
    "true",
    "null",
    "a b",
    "a:b",
    "a: b",
    "x_unencrypted",
    "k8s.io/name",
    "é",
    "-",
    "<<x",
]


@st.composite
def timestamps(draw: st.DrawFn) -> Timestamp:
    """A canonical go-yaml timestamp text (RFC 3339, trimmed nanoseconds, Z or ±hh:mm)."""
    year = draw(st.integers(1900, 2200))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    hour, minute, second = (
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    frac = draw(st.sampled_from(["", "5", "123", "000001", "999999999", "1"]))
    zone = draw(st.sampled_from(["Z", "+05:30", "-08:00", "+14:00", "-00:30"]))
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    return Timestamp(text + (f".{frac}" if frac else "") + zone)


def keys() -> st.SearchStrategy[str]:
    """Mapping keys: tricky names, unicode text, and names with the default unencrypted suffix."""
    # "<<" is the YAML merge key: sops writes a "<<" string as "!!merge <<" and then cannot read
    # its own output, so it is left out (our side is tested in test_yamlio.py).
    text = st.text(KEY_CHARS, min_size=1, max_size=8).filter(lambda k: k != "<<")
    return st.one_of(
        st.sampled_from(TRICKY_KEYS),
        text,
        text.map(lambda k: k + "_unencrypted"),
    )


@st.composite
def multiline(draw: st.DrawFn) -> str:
    """Strings with at least one newline, with and without a final newline (| |- |+)."""
    lines = draw(
        st.lists(st.text(VALUE_CHARS.filter(lambda c: c not in "\n\r"), max_size=10), min_size=2)
    )
    text = "\n".join(lines)
    if draw(st.booleans()) and not text.endswith("\n"):
        text += "\n"
    if needs_indent_indicator(text):
        text = "x" + text
    return text.replace("\t", "x") if tab_at_break(text) else text


def tab_at_break(text: str) -> bool:
    """Known divergences around a tab beside a line break (found by this suite's random run at
    stop 32): go-yaml writes ``"0\n\t"`` as a literal block where we write it double-quoted
    (golden ``tab-after-break``), and sops writes a whitespace-only ``"\t\n"`` as ``null``,
    so it cannot open its own file (tests/interop/test_formats.py)."""
    return "\t\n" in text or "\n\t" in text or "\r\t" in text or "\t\r" in text


def needs_indent_indicator(text: str) -> bool:
    """Known divergence: go-yaml writes a multi-line string that starts with a space or a line
    break as a literal block with an indentation indicator (``|4``, ``|4-``, ``|4+``); we write
    it double-quoted. Pinned in tests/sops/test_yamlio.py.
    """
    return "\n" in text and text[:1] in (" ", "\n")


def strings() -> st.SearchStrategy[str]:
    """Single- and multi-line unicode strings, including type-ambiguous ones."""
    return st.one_of(
        st.sampled_from(TRICKY_STRINGS),
        st.text(VALUE_CHARS, max_size=16).filter(
            lambda s: not needs_indent_indicator(s) and not tab_at_break(s) and s != "<<"
        ),
        multiline(),
    )


def finite_floats() -> st.SearchStrategy[float]:
    """Finite floats except -0.0.

    An unencrypted -0.0 is fed to the MAC as "-0" but written as ``-0``, which go-yaml reads back
    as the int 0 (MAC bytes "0"): sops 3.11 cannot open its own file then, and neither can we.
    Pinned in tests/interop/test_properties.py::test_unencrypted_negative_zero_*.
    """
    return st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: x != 0 or math.copysign(1.0, x) > 0
    )


def scalars(with_time: bool = True) -> st.SearchStrategy[Any]:
    """Every YAML scalar type sops knows: str, int64, finite float, bool, null, time."""
    options: list[st.SearchStrategy[Any]] = [
        st.none(),
        st.booleans(),
        st.integers(INT64_MIN, INT64_MAX),
        finite_floats(),
        strings(),
    ]
    if with_time:
        options.append(timestamps())
    return st.one_of(*options)


def comment_texts() -> st.SearchStrategy[str]:
    """One non-empty comment line."""
    return st.text(COMMENT_CHARS, min_size=1, max_size=12)


@st.composite
def mappings(
    draw: st.DrawFn, children: st.SearchStrategy[Node], comments: bool, top: bool = False
) -> MapNode:
    """A mapping with unique keys and (optionally) comment lines among its keys.

    Comments are never empty: sops turns an empty comment (``#``) inside a sequence at an
    encrypted path into an empty-string item (pinned in tests/interop/test_formats.py), and a
    comment leading a mapping that is a sequence item is written above its ``- `` line, where it
    reads back as a comment of the sequence.
    """
    pairs = draw(
        st.lists(
            st.tuples(keys(), children),
            min_size=1 if top else 0,
            max_size=5,
            unique_by=lambda kv: kv[0],
        )
    )
    if top:
        pairs = [(k, v) for k, v in pairs if k != "sops"]
    items: list[tuple[str, Node] | Comment] = list(pairs)
    if comments and pairs:
        # A comment may end the mapping only after a scalar: after a nested block go-yaml
        # attaches it to the innermost block, a different AAD (pinned in test_formats.py).
        last = pairs[-1][1]
        foot_ok = not (isinstance(last, MapNode | SeqNode) and last.items)
        # ... nor after a block scalar that keeps trailing blank lines (``|+``): go-yaml moves
        # such a comment to the top level (sops 3.11 writes it at column 0; found by the
        # property test, stop 49): a known divergence, like the one above
        foot_ok = foot_ok and not (isinstance(last, str) and last.endswith("\n\n"))
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(items) if foot_ok else len(items) - 1))
            items.insert(at, Comment(draw(comment_texts())))
    return MapNode(items)


def _flat_inside_seq(node: Node) -> bool:
    # Known divergence: go-yaml rounds a nested block's indent up to a multiple of 4, so a
    # collection inside a mapping or sequence that is itself an item of a sequence of sequences
    # is indented differently (tests/sops/test_yamlio.py). Sequences of sequences of scalars
    # are written identically.
    return not isinstance(node, SeqNode) or not any(
        isinstance(e, MapNode | SeqNode) for e in node.items
    )


def yaml_nodes(comments: bool = True) -> st.SearchStrategy[Node]:
    """Nested YAML values: scalars, mappings and sequences."""
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(
            mappings(inner, comments),
            st.lists(inner.filter(_flat_inside_seq), max_size=4).map(lambda xs: SeqNode(list(xs))),
        ),
        max_leaves=12,
    )


def yaml_docs(max_docs: int = 2, comments: bool = True) -> st.SearchStrategy[list[MapNode]]:
    """One or more YAML documents, each a non-empty mapping."""
    return st.lists(
        mappings(yaml_nodes(comments), comments, top=True), min_size=1, max_size=max_docs
    )


# ----------------------------------------------------------------------------- JSON


def _json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(2**53), 2**53),
            st.text(VALUE_CHARS, max_size=12),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(VALUE_CHARS, min_size=1, max_size=6), inner, max_size=4),
        ),
        max_leaves=12,
    )


def json_texts() -> st.SearchStrategy[str]:
    """JSON object texts (numbers within ±2^53, so float64 keeps them exactly)."""
    top = st.dictionaries(
        st.text(VALUE_CHARS, min_size=1, max_size=6).filter(lambda k: k != "sops"),
        _json_values(),
        min_size=1,
        max_size=5,
    )
    return top.map(lambda d: json.dumps(d, ensure_ascii=False))


# ----------------------------------------------------------------------------- dotenv

_DOTENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def dotenv_keys() -> st.SearchStrategy[str]:
    """Variable names (never ``sops_…``, which is the metadata prefix)."""
    return st.from_regex(_DOTENV_KEY, fullmatch=True).filter(
        lambda k: not k.startswith("sops_") and len(k) <= 12
    )


def dotenv_values() -> st.SearchStrategy[str]:
    """Values: one line or several (written with ``\\n``); no CR, no literal backslash-n."""
    chars = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\\")
    return st.text(chars, max_size=16)


@st.composite
def dotenv_docs(draw: st.DrawFn) -> MapNode:
    """A dotenv file as a flat mapping with comment lines."""
    pairs = draw(
        st.lists(
            st.tuples(dotenv_keys(), dotenv_values()),
            min_size=1,
            max_size=6,
            unique_by=lambda kv: kv[0],
        )
    )
    items: list[tuple[str, Node] | Comment] = list(pairs)
    comment_chars = st.characters(
        codec="utf-8", exclude_categories=("Cs",), exclude_characters="\n\r"
    )
    for _ in range(draw(st.integers(0, 2))):
        items.insert(
            draw(st.integers(0, len(items))), Comment(draw(st.text(comment_chars, max_size=10)))
        )
    return MapNode(items)


# ----------------------------------------------------------------------------- INI

_INI_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_. -]*[A-Za-z0-9_]|[A-Za-z_]")
_INI_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_./=:\"-]*")


def ini_values() -> st.SearchStrategy[str]:
    """Values that read back as written: anything but a quote, a backslash or a CR (go-ini
    drops surrounding quotes and joins a line ending in a backslash to the next)."""
    chars = st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\"'`\\"
    )
    return st.text(st.one_of(chars, st.sampled_from(" \n#;=:")), max_size=16)


def _ini_comments() -> st.SearchStrategy[str]:
    """A comment as sops keeps it: no marker or space at its start, none at its end."""
    chars = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
    return st.text(chars, min_size=1, max_size=10).filter(lambda t: t[0] not in "#;")


@st.composite
def ini_docs(draw: st.DrawFn) -> MapNode:
    """An INI file as sops reads it: DEFAULT first, sections of unique keys, a comment before
    a section (not DEFAULT) or after a key."""
    sections: list[tuple[str, Node] | Comment] = []
    count = draw(st.integers(0, 3))
    names = [draw(st.from_regex(_INI_NAME, fullmatch=True).filter(lambda n: n != "sops"))]
    names = ["DEFAULT", *(draw(st.sampled_from([*names, "db", "app"])) for _ in range(count))]
    for number, name in enumerate(names):
        keys = draw(
            st.lists(
                st.from_regex(_INI_KEY, fullmatch=True).filter(lambda k: len(k) <= 10),
                max_size=4,
                unique=True,
            )
        )
        items: list[tuple[str, Node] | Comment] = []
        if number > 0 and draw(st.booleans()):
            items.append(Comment(draw(_ini_comments())))
        for key in keys:
            items.append((key, draw(ini_values())))
            if draw(st.booleans()):
                items.append(Comment(draw(_ini_comments())))
        sections.append((name, MapNode(items)))
    return MapNode(sections)
