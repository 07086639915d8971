"""INI in and out, as sops's INI store does it (it reads and writes through go-ini).

The tree is one mapping of sections, in file order; each section is a mapping of string values.
The implicit ``DEFAULT`` section (keys before any header) is always the first item, empty or
not, as sops has it. A section's comment (the comment lines before its header) is the section's
first item; a key's comment (the lines before it, plus an inline ``; …``) is the item after
the key. ``Comment.text`` is the comment with its leading ``;``/``#`` and spaces cut, as sops
keeps it. The metadata lives in a ``[sops]`` section, flattened as in dotenv but without a
prefix, and its newlines written as ``\\n``.

The reader follows go-ini with sops's options (non-unique sections allowed, everything else
default): ``=`` or ``:`` between key and value; a ``#`` or ``;`` anywhere in an unquoted value
starts a comment; a value ending in ``\\`` continues on the next line; quotes around a value
are dropped; a later duplicate key replaces the value and keeps the first key's place. The
writer is go-ini's pretty writer: ``=`` aligned within a section, a blank line between
sections, values and keys quoted only when they must be. Error messages give line numbers and
never the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from secretsmgr.errors import FormatError
from secretsmgr.sops.dotenvio import flatten_metadata, unflatten_metadata
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Timestamp, format_float_g

DEFAULT_SECTION = "DEFAULT"
META_SECTION = "sops"
# Go's unicode.IsSpace (what strings.TrimSpace cuts); Python's str.strip cuts a few more.
_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
_DELIMITERS = "=:"


def _trim(text: str) -> str:
    return text.strip(_SPACE)


def _width(text: str) -> int:
    """Length in bytes: go-ini pads to byte lengths."""
    return len(text.encode("utf-8", "surrogateescape"))


# ----------------------------------------------------------------------------- reading


@dataclass(slots=True)
class _Key:
    value: str
    comment: str
    line: int


@dataclass(slots=True)
class _Section:
    name: str
    comment: str = ""
    line: int = 0
    keys: dict[str, _Key] = field(default_factory=dict)


class _Lines:
    """The text as go-ini reads it: one line at a time, each with its ``\\n``."""

    def __init__(self, text: str) -> None:
        parts = text.split("\n")
        self.lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        self.number = 0

    def next(self) -> str | None:
        if self.number >= len(self.lines):
            return None
        self.number += 1
        return self.lines[self.number - 1]


def _strip_comment_char(comment: str) -> str:
    """sops's cut of a comment's marker: every leading ``;``/``#`` and space of the first line."""
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def _surrounded(text: str, quote: str) -> bool:
    return len(text) >= 2 and text[0] == quote and text[-1] == quote and quote not in text[1:-1]


class _Reader:
    def __init__(self, text: str) -> None:
        self.src = _Lines(text[1:] if text.startswith("\ufeff") else text)
        self.comment = ""
        self.sections = [_Section(DEFAULT_SECTION)]

    def fail(self, why: str, number: int | None = None) -> FormatError:
        return FormatError(f"malformed INI at line {number or self.src.number}: {why}")

    def key_name(self, line: str) -> tuple[str, int]:
        quote = ""
        if line.startswith('"'):
            quote = '"""' if len(line) > 6 and line.startswith('"""') else '"'
        elif line.startswith("`"):
            quote = "`"
        if quote:
            start = len(quote)
            end = line.find(quote, start)
            if end < 0:
                raise self.fail("a quoted key is not closed")
            rest = line[end + start :]
            at = next((i for i, c in enumerate(rest) if c in _DELIMITERS), -1)
            if at < 0:
                raise self.fail("no '=' or ':' after the key")
            return _trim(line[start:end]), end + start + at + 1
        at = next((i for i, c in enumerate(line) if c in _DELIMITERS), -1)
        if at < 0:
            raise self.fail("not a comment, a [section] or key = value")
        if at == 0:
            raise self.fail("empty key name")
        return _trim(line[:at]), at + 1

    def multiline(self, value: str, quote: str) -> str:
        start = self.src.number
        while True:
            nxt = self.src.next()
            if nxt is None:
                raise self.fail(f"a {quote} value is not closed", start)
            at = nxt.rfind(quote)
            if at >= 0:
                value += nxt[:at]
                rest = nxt[at:]
                marks = [i for i in (rest.find("#"), rest.find(";")) if i >= 0]
                if marks:
                    self.comment += _trim(rest[min(marks) :])
                return value
            value += nxt

    def continued(self, value: str) -> str:
        while True:
            nxt = self.src.next()
            following = _trim(nxt) if nxt is not None else ""
            if not following:
                return value
            value += following
            if not value.endswith("\\"):
                return value
            value = value[:-1]

    def value(self, raw: str) -> str:
        line = raw.lstrip(_SPACE)
        if not line:
            return ""
        quote = '"""' if len(line) > 3 and line.startswith('"""') else "`" if line[0] == "`" else ""
        if quote:
            start = len(quote)
            end = line.rfind(quote, start)
            if end < 0:
                return self.multiline(line[start:], quote)
            return line[start:end]
        line = _trim(line)
        if line.endswith("\\"):
            return self.continued(line[:-1])
        marks = [i for i in (line.find("#"), line.find(";")) if i >= 0]
        if marks:
            self.comment += line[min(marks) :]
            line = _trim(line[: min(marks)])
        if _surrounded(line, "'") or _surrounded(line, '"'):
            line = line[1:-1]
        return line

    def read(self) -> list[_Section]:
        section = self.sections[0]
        count = 1
        while (raw := self.src.next()) is not None:
            line = raw.lstrip(_SPACE)
            if not line:
                continue
            if line[0] in "#;":
                self.comment += line
                continue
            if line[0] == "[":
                close = line.rfind("]")
                if close < 0:
                    raise self.fail("a [section] header is not closed")
                name = line[1:close]
                if not name:
                    raise self.fail("empty section name")
                rest = line[close + 1 :]
                marks = [i for i in (rest.find("#"), rest.find(";")) if i >= 0]
                if marks:
                    self.comment += rest[min(marks) :]
                section = _Section(name, _trim(self.comment), self.src.number)
                self.sections.append(section)
                self.comment = ""
                count = 1
                continue
            name, offset = self.key_name(line)
            number = self.src.number
            if name == "-":
                name, count = f"#{count}", count + 1
            value = self.value(line[offset:])
            if not name:
                raise self.fail("empty key name", number)
            key = section.keys.get(name)
            if key is None:
                section.keys[name] = _Key(value, _trim(self.comment), number)
            else:  # a duplicate key: the last value, in the first one's place
                key.value, key.comment = value, _trim(self.comment)
            self.comment = ""
        return self.sections


def parse_ini(text: str) -> list[Node]:
    """Parse an INI file into one document: a mapping of sections (``DEFAULT`` first)."""
    items: list[tuple[str, Node] | Comment] = []
    for section in _Reader(text).read():
        entries: list[tuple[str, Node] | Comment] = []
        if section.comment:
            entries.append(Comment(_strip_comment_char(section.comment)))
        for name, key in section.keys.items():
            entries.append((name, key.value))
            if key.comment:
                entries.append(Comment(_strip_comment_char(key.comment)))
        items.append((section.name, MapNode(entries)))
    return [MapNode(items)]


def ini_key_lines(text: str) -> dict[str, int]:
    """The line of each ``section`` header and ``section.key`` (first occurrence); empty when
    the text does not parse."""
    try:
        sections = _Reader(text).read()
    except FormatError:
        return {}
    lines: dict[str, int] = {}
    for section in sections:
        if section.line:
            lines.setdefault(section.name, section.line)
        for name, key in section.keys.items():
            lines.setdefault(f"{section.name}.{name}", key.line)
    return lines


# ----------------------------------------------------------------------------- writing


def value_text(value: Node) -> str:
    """A value as sops writes it into INI (Go's ``ValToString``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = format_float_g(value).upper().replace(".INF", "+Inf").replace(".NAN", "NaN")
        text = text.replace("-+Inf", "-Inf")
        if "." not in text and "E" not in text and text[-1].isdigit():
            text += ".0"
        return text
    if isinstance(value, Timestamp):
        return value.text
    raise FormatError("INI values are strings (there is no null)")


def _quote_key(name: str) -> str:
    if '"' in name or any(c in name for c in _DELIMITERS):
        return f"`{name}`"
    if "`" in name:
        return f'"""{name}"""'
    return name


def _quote_value(text: str) -> str:
    if "\n" in text or "`" in text:
        return f'"""{text}"""'
    if "#" in text or ";" in text:
        return f"`{text}`"
    if _trim(text) != text:
        return f'"{text}"'
    return text


def _comment_lines(text: str, *, trim: bool) -> list[str]:
    """go-ini's comment lines: ``; `` before a line without a mark (a key's comment trimmed, a
    section's as it is), one space after a line's own mark."""
    out = []
    for line in text.split("\n"):
        if not line:
            out.append(";")  # sops (go-ini) panics on an empty comment line; this reads back
        elif line[0] not in "#;":
            out.append("; " + (_trim(line) if trim else line))
        else:
            out.append(line[0] + " " + _trim(line[1:]))
    return out


def emit_ini(doc: MapNode) -> str:
    """Write a mapping of sections as sops writes INI; a value outside a section is refused."""
    sections = [item for item in doc.items if not isinstance(item, Comment)]
    out: list[str] = []
    for number, (name, node) in enumerate(sections):
        if not isinstance(node, MapNode):
            raise FormatError(f"an INI file holds sections of keys; {name!r} is not a section")
        if not name:
            raise FormatError("an INI section needs a name")
        entries = node.items
        comment = ""
        if entries and isinstance(entries[0], Comment):
            comment, entries = entries[0].text, entries[1:]
        keys: dict[str, list[str]] = {}
        last: list[str] | None = None
        for item in entries:
            if isinstance(item, Comment):
                if last is not None:
                    last[1] = item.text  # a comment belongs to the key before it
                continue
            key, value = item
            if isinstance(value, MapNode | SeqNode):
                raise FormatError(f"INI cannot hold a nested value at {name}.{key}")
            if not key:
                raise FormatError(f"an INI key in [{name}] needs a name")
            last = keys.setdefault(key, ["", ""])
            last[0] = value_text(value)
        if comment:
            out += [line + "\n" for line in _comment_lines(comment, trim=False)]
        if number > 0 or name.upper() != DEFAULT_SECTION:
            out.append(f"[{name}]\n")
        elif not keys:
            continue
        quoted = {key: _quote_key(key) for key in keys}
        align = max((_width(q) for q in quoted.values()), default=0)
        for key, (text, key_comment) in keys.items():
            if key_comment:
                out += [line + "\n" for line in _comment_lines(key_comment, trim=True)]
            pad = " " * (align - _width(quoted[key]))
            out.append(f"{quoted[key]}{pad} = {_quote_value(text)}\n")
        if number < len(sections) - 1:
            out.append("\n")
    return "".join(out)


# ----------------------------------------------------------------------------- metadata


def metadata_section(doc: MapNode) -> MapNode | None:
    """The first ``[sops]`` section of a document, or None."""
    for item in doc.items:
        if not isinstance(item, Comment) and item[0] == META_SECTION:
            return item[1] if isinstance(item[1], MapNode) else None
    return None


def without_metadata(doc: MapNode) -> MapNode:
    """The document without its ``[sops]`` sections."""
    return doc.without(META_SECTION)


def unflatten_ini_metadata(section: MapNode) -> Node:
    """The metadata mapping from a ``[sops]`` section (``\\n`` decoded, as sops does)."""
    pairs: list[tuple[str, str]] = []
    for item in section.items:
        if isinstance(item, Comment) or not isinstance(item[1], str):
            continue
        name, value = item[0], item[1].replace("\\n", "\n")
        if name == "mac_only_encrypted":
            value = "true" if value == "true" else "false"  # sops: anything else is false
        pairs.append((name, value))
    return unflatten_metadata(pairs, prefix="") if pairs else MapNode()


def metadata_section_for(meta: MapNode) -> MapNode:
    """The ``[sops]`` section for a metadata mapping: flattened, sorted, newlines as ``\\n``."""
    prefix = len("sops_")
    return MapNode(
        [(name[prefix:], value.replace("\n", "\\n")) for name, value in flatten_metadata(meta)]
    )


def reads_back(section: str, key: str) -> bool:
    """Whether a key of this name in a section of this name is read back as written (a name
    that is empty, spans lines, starts with a comment or header mark, is ``-`` or is padded
    with spaces is not: go-ini reads it as something else)."""
    doc = MapNode([(section, MapNode([(key, "x")]))])
    try:
        again = parse_ini(emit_ini(doc))[0]
    except FormatError:
        return False
    if section == DEFAULT_SECTION:
        return again == doc
    return isinstance(again, MapNode) and again.items[1:] == doc.items
