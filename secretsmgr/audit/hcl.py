"""The values of a file in HCL's native syntax, as SM018 judges them: Terraform and OpenTofu
(``.tf``, ``.tfvars``, ``.tfbackend``), Terragrunt, Packer, Nomad and Vault (``.hcl``).

No full HCL parser: it reads the structure credentials sit in. Attributes (``name = value``) at
the top level and in blocks (``provider "proxmox" { … }``), objects (``{ k = v }``, ``{ k: v }``)
and lists give every string literal and heredoc with its key path (block type, labels,
attribute, object keys, list indexes), its line, and the key that names it. Comments (``#``,
``//``, ``/* */``) are skipped. An expression that is no literal (``var.x``, ``file(…)``, a
conditional) holds no value of its own: the strings inside it are handed back as ``listed``
(judged for known formats only, as a list item is). Interpolations stay in a value as written
(``"${var.prefix}-x"``): the judge reads them as variables; the string literals inside them
(``"${"…"}"``, ``"${upper("…")}"``, ``%{ if x == "…" }``), which Terraform evaluates into the
value, are handed back as ``listed`` too. A heredoc (``<<EOF``, ``<<-EOF``) is a value like any
string, as a YAML block scalar is. A quoted string holds no line break: one left open (a
backslash at the line's end escapes none) ends with its line.

Terraform's own meaning where the key alone would mislead: a ``variable "NAME"`` block's
``default`` (and an ``output "NAME"``'s ``value``) is named by its label; ``description`` is
prose and a module's ``source`` an address (known formats only: a URL with a token in it is
still one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# how a value is named by its block's label: (block type, attribute)
_NAMED_BY_LABEL = frozenset((("variable", "default"), ("output", "value")))
# attributes that hold prose or an address, never a credential of their own
_KNOWN_ONLY = frozenset(("description", "source"))

_TOKEN = re.compile(
    r"(?P<space>[ \t\r\f\v]+)|(?P<newline>\n)|(?P<comment>(?:#|//)[^\n]*)"
    r"|(?P<block>/\*)|(?P<string>\")"
    r"|(?P<heredoc><<(?P<indent>-?)(?P<marker>[A-Za-z_][\w-]*)[ \t]*\r?\n)"
    r"|(?P<ident>[A-Za-z_][\w-]*)|(?P<number>\d[\w.]*)"
    r"|(?P<op>==|!=|<=|>=|=>|&&|\|\||\.\.\.|::)|(?P<punct>.)",
    re.DOTALL,
)
_STRING_STOP = re.compile(r'[\\"\n$%]')
_INTERP_STOP = re.compile(r'["{}]')
_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
# a template's interpolation or directive in a heredoc (``$${`` and ``%%{``: the characters)
_TEMPLATE_OPEN = re.compile(r"([$%])\1?\{")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())
# Blocks, objects and lists nested deeper are walked flat (their strings for known formats
# only): no configuration nests so deep, and the walk recurses
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class HclValue:
    """A string literal or heredoc of an HCL file: where it sits, the key naming it, its line,
    and whether only known formats count in it (``listed``)."""

    key_path: str
    key: str
    value: str
    line: int
    listed: bool


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ident, string, heredoc, number, op, punct, newline
    text: str
    line: int
    # a string's or heredoc's literals inside its interpolations: (line, text)
    inner: tuple[tuple[int, str], ...] = ()


def _unescape(raw: str) -> str:
    def one(m: re.Match[str]) -> str:
        body = m.group(0)[1:]
        if body[0] in "uU":
            try:
                return chr(int(body[1:], 16))
            except ValueError:  # past the last code point
                return m.group(0)
        return _ESCAPES.get(body, m.group(0))

    return _ESCAPE.sub(one, raw) if "\\" in raw else raw


# How far an interpolation of a quoted string may reach: an expression that spans lines stays
# well within it; one never closed (a stray "${) is bounded by it, not by the file's end, so
# many of them cost no quadratic time (the review of the Terraform reader)
_INTERP_REACH = 4096
# How deep strings nest in interpolations (``"${f("${x}")}"``): two or three levels are
# Terraform's; each level re-reads the lines below it, so past this none closes (the attack
# review: 125,000 lines of `y = "${` were each read 64 deep, 2.3 s for 1 MB)
_TEMPLATE_DEPTH = 8
# What each opening costs of the budget beyond the characters it scans: a file of nothing but
# openings spends it on a few of them, not on a step of Python per character
_OPENING_COST = 32


def _interpolation_end(
    text: str, at: int, nesting: int, limit: int, budget: list[int], found: list[tuple[int, str]]
) -> int:
    """The index past the ``}`` closing the interpolation whose body starts at ``at``, or
    -1 when none does before ``limit`` (``nesting``: strings inside interpolations around it;
    past ``_TEMPLATE_DEPTH`` none closes, never a deeper recursion; -1, not ``limit``: one may close
    right at it, as at a heredoc's end).
    ``budget``: characters the file's interpolations may still scan; spent, none closes (the
    second review: a stray "${ on each of 110,000 lines took 11 s, each scanning 64 deep).
    ``found`` gets the strings closed inside it, at any depth: (index, unescaped text)."""
    budget[0] -= _OPENING_COST
    if nesting >= _TEMPLATE_DEPTH or budget[0] <= 0:
        return -1
    depth = 1
    while (m := _INTERP_STOP.search(text, at, limit)) is not None:
        budget[0] -= m.end() - at
        if budget[0] <= 0:
            return -1
        at = m.end()
        if m.group(0) == '"':
            end, closed = _string_end(text, at, nesting + 1, limit, budget, found)
            if not closed:  # a string left open inside it: this one is never closed either
                return -1  # (and stops here: trying on from each line was exponential)
            budget[0] -= end - at  # what is kept of it counts too
            found.append((at, _unescape(text[at:end])))
            at = end + 1
        elif m.group(0) == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return at
    return -1


def _string_end(
    text: str, at: int, nesting: int, end: int, budget: list[int], found: list[tuple[int, str]]
) -> tuple[int, bool]:
    """Where the string whose body starts at ``at`` ends (the index of its closing quote, or
    of the line's end for a string left open: HCL allows no line break in one), and whether
    a quote closed it; nothing at or past ``end`` is read (``budget``, ``found``: see
    ``_interpolation_end``; the strings of an interpolation never closed are not kept)."""
    while (m := _STRING_STOP.search(text, at, end)) is not None:
        at = m.start()
        c = m.group(0)
        if c == "\\":
            if text.startswith("\n", at + 1):  # escapes no line break: the string is left open
                return at + 1, False  # (the attack review: `x = "a\` hid the next line's key)
            at += 2
        elif c == '"':
            return at, True
        elif c == "\n":
            return at, False
        elif text.startswith(c + c + "{", at):  # $${ and %%{: the characters themselves
            at += 3
        elif text.startswith("{", at + 1):
            opened = at
            reach = min(end, at + _INTERP_REACH)
            kept = len(found)
            at = _interpolation_end(text, at + 2, nesting, reach, budget, found)
            if at < 0:  # never closed: the string ends with its line, not the file
                del found[kept:]  # (what follows it is read afresh)
                line_end = text.find("\n", opened, end)  # (the review: a stray "${ hid the rest)
                return (end if line_end < 0 else line_end), False
        else:
            at += 1
    return end, False


def _tokens(text: str) -> list[_Token]:
    budget = [4 * len(text) + 65536]  # what the file's interpolations may scan in all
    out: list[_Token] = []
    line = 1
    at = 0
    while (m := _TOKEN.match(text, at)) is not None:
        kind = m.lastgroup
        at = m.end()
        if kind in ("space", "comment"):
            continue
        if kind == "newline":
            out.append(_Token("newline", "\n", line))
            line += 1
        elif kind == "block":
            end = text.find("*/", at)
            end = len(text) if end < 0 else end + 2
            line += text.count("\n", at, end)
            at = end
        elif kind == "string":
            found: list[tuple[int, str]] = []
            end, closed = _string_end(text, at, 0, len(text), budget, found)
            body = text[at:end]
            inner = _lines(text, at, line, found)
            out.append(_Token("string", _unescape(body), line, inner))
            line += body.count("\n")  # line breaks inside interpolations
            at = end + 1 if closed else end
        elif kind == "heredoc":
            value, at, lines = _heredoc(text, at, m.group("marker"), bool(m.group("indent")))
            out.append(
                _Token("heredoc", value, line + 1, _template_strings(value, line + 1, budget))
            )
            line += lines
        else:
            assert kind is not None
            out.append(_Token(kind, m.group(0), line))
    return out


def _template_strings(value: str, line: int, budget: list[int]) -> tuple[tuple[int, str], ...]:
    """The string literals inside a heredoc's interpolations and directives (``${"…"}``,
    ``%{ if x == "…" }``), with their lines (the heredoc's first at ``line``); one never closed
    keeps none, and the scan goes on with the next line, as a quoted string's ends with its
    line (the attack review: going on right after each opening, a line of 250,000 `${ "` was
    scanned 64 deep from each of them, 3.4 s for 1 MB)."""
    found: list[tuple[int, str]] = []
    at = 0
    while (m := _TEMPLATE_OPEN.search(value, at)) is not None:
        at = m.end()
        if len(m.group(0)) == 3:  # $${ and %%{: the characters themselves
            continue
        if budget[0] <= 0:
            break
        reach = min(len(value), at + _INTERP_REACH)
        kept = len(found)
        end = _interpolation_end(value, at, 0, reach, budget, found)
        if end < 0:
            del found[kept:]
            line_end = value.find("\n", at)
            if line_end < 0:
                break
            at = line_end + 1
        else:
            at = end
    return _lines(value, 0, line, found)


def _lines(
    text: str, at: int, line: int, found: list[tuple[int, str]]
) -> tuple[tuple[int, str], ...]:
    """``found`` (index, text) in file order, each with its line (``at`` is on ``line``):
    counted on from the one before, as a value may hold thousands."""
    out: list[tuple[int, str]] = []
    for index, value in sorted(found, key=lambda item: item[0]):
        line += text.count("\n", at, index)
        at = index
        out.append((line, value))
    return tuple(out)


def _heredoc(text: str, at: int, marker: str, indented: bool) -> tuple[str, int, int]:
    """A heredoc's text from ``at`` (the line after ``<<MARKER``): its text, the index of the
    line break after the closing marker (the token stream's next line break), and how many
    line breaks it took from the ``<<MARKER`` line on."""
    lines: list[str] = []
    pos = at
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        if line.strip() == marker:
            pos = end
            break
        lines.append(line.rstrip("\r"))
        pos = end + 1
    else:
        pos = len(text)
    if indented:
        margin = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
        lines = [x[margin:] for x in lines]
    return "\n".join(lines), pos, text.count("\n", at - 1, pos)


def _values(key_path: str, key: str, tok: _Token, listed: bool) -> Iterator[HclValue]:
    """A string's or heredoc's value, then the literals inside its interpolations (known
    formats only: the attack review, ``y = "${"AKIA…"}"`` is the key once Terraform evaluates
    it, and was judged as a variable)."""
    yield HclValue(key_path, key, tok.text, tok.line, listed)
    for line, text in tok.inner:
        yield HclValue(key_path, key, text, line, True)


class _Reader:
    """A walk over the tokens, yielding the values in file order."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def _peek(self, ahead: int = 0) -> _Token | None:
        at = self.at + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def _next_solid(self, at: int) -> _Token | None:
        while at < len(self.tokens) and self.tokens[at].kind == "newline":
            at += 1
        return self.tokens[at] if at < len(self.tokens) else None

    def body(self, prefix: str, block: tuple[str, str] | None, nested: bool) -> Iterator[HclValue]:
        """Attributes and blocks until the ``}`` closing this block (or the file's end)."""
        while (tok := self._peek()) is not None:
            if tok.kind == "newline" or tok.text in (",", ";"):
                self.at += 1
                continue
            if tok.text == "}":
                self.at += 1
                if nested:
                    return
                continue
            nxt = self._peek(1)
            if tok.kind == "ident" and nxt is not None and nxt.text == "=":
                self.at += 2
                name = tok.text
                key = block[1] if block and (block[0], name) in _NAMED_BY_LABEL else name
                yield from self.expression(f"{prefix}{name}", key, name in _KNOWN_ONLY)
                continue
            if tok.kind == "ident":
                labels = [tok.text]
                at = self.at + 1
                while at < len(self.tokens) and self.tokens[at].kind in ("ident", "string"):
                    labels.append(self.tokens[at].text)
                    at += 1
                if at < len(self.tokens) and self.tokens[at].text == "{":
                    if self.depth >= _MAX_DEPTH:  # walked flat: known formats only
                        self.at = at
                        for flat in self._skip():
                            yield from _values(prefix.rstrip("."), labels[0], flat, True)
                        continue
                    self.at = at + 1
                    inner = (labels[0], labels[1]) if len(labels) > 1 else (labels[0], "")
                    self.depth += 1
                    yield from self.body(f"{prefix}{'.'.join(labels)}.", inner, True)
                    self.depth -= 1
                    continue
            start = self.at
            for _ in self._skip():
                pass  # no attribute: nothing names what it holds
            if self.at == start:
                self.at += 1  # a stray bracket: step over it

    def _skip(self) -> Iterator[_Token]:
        """Consume one expression's tokens (brackets balanced) up to a separator at its own
        depth: a line break, a comma, or the bracket closing the enclosing one (not consumed).
        Yields the string tokens inside it."""
        depth = 0
        while (tok := self._peek()) is not None:
            if depth == 0 and (tok.text in _CLOSERS or tok.text == "," or tok.kind == "newline"):
                return
            self.at += 1
            if tok.text in _OPENERS:
                depth += 1
            elif tok.text in _CLOSERS:
                depth -= 1
            elif tok.kind in ("string", "heredoc"):
                yield tok

    def expression(self, key_path: str, key: str, listed: bool) -> Iterator[HclValue]:
        """One attribute's (or item's) value: a literal, an object, a list, or anything else."""
        tok = self._peek()
        if tok is None:
            return
        after = self._peek(1)
        ends = after is None or after.kind == "newline" or after.text in (",", "}", "]", ")")
        if tok.kind in ("string", "heredoc") and ends:
            self.at += 1
            yield from _values(key_path, key, tok, listed)
            return
        ahead = self._next_solid(self.at + 1)
        nested = tok.text in ("{", "[") and self.depth < _MAX_DEPTH
        if nested and not (ahead is not None and ahead.text == "for"):
            self.at += 1
            self.depth += 1
            if tok.text == "{":
                yield from self._object(key_path)
            else:
                yield from self._list(key_path, key)
            self.depth -= 1
            nxt = self._peek()
            if nxt is None or nxt.kind == "newline" or nxt.text in _CLOSERS or nxt.text == ",":
                return
        # no literal: the strings inside count for known formats only
        for inner in self._skip():
            yield from _values(key_path, key, inner, True)

    def _object(self, key_path: str) -> Iterator[HclValue]:
        """An object's members, each judged in full (in a list too, as a YAML mapping is)."""
        while (tok := self._peek()) is not None:
            if tok.kind == "newline" or tok.text == ",":
                self.at += 1
                continue
            if tok.text == "}":
                self.at += 1
                return
            sep = self._peek(1)
            if tok.kind in ("ident", "string") and sep is not None and sep.text in ("=", ":"):
                self.at += 2
                name = tok.text
                yield from self.expression(f"{key_path}.{name}", name, name in _KNOWN_ONLY)
                continue
            if tok.text in _CLOSERS:
                return  # a bracket that closes something else: the object was left open
            for inner in self._skip():  # a (computed) key, or junk
                yield from _values(key_path, key_path.rpartition(".")[2], inner, True)

    def _list(self, key_path: str, key: str) -> Iterator[HclValue]:
        number = 0
        while (tok := self._peek()) is not None:
            if tok.kind == "newline":
                self.at += 1
                continue
            if tok.text == ",":
                self.at += 1
                number += 1
                continue
            if tok.text == "]":
                self.at += 1
                return
            if tok.text in _CLOSERS:
                return
            start = self.at
            yield from self.expression(f"{key_path}.{number}", key, True)
            if self.at == start:
                self.at += 1  # a stray token: step over it


def hcl_values(text: str) -> Iterator[HclValue]:
    """Every string value of ``text`` (HCL native syntax), in file order."""
    reader = _Reader(_tokens(text))
    yield from reader.body("", None, False)


@dataclass(frozen=True, slots=True)
class HclCall:
    """A call of a named function whose one argument is a string literal (as written, its
    interpolations kept) or another call: ``sops_decrypt_file("x.sops.yaml")``,
    ``sops_decrypt_file(find_in_parent_folders("x.sops.yaml"))``."""

    name: str
    line: int
    argument: str | None
    inner: HclCall | None


# how deep calls nest inside the call looked for: find_in_parent_folders(…) in one, no more
_CALL_DEPTH = 4


def _solid(tokens: list[_Token], at: int) -> int:
    while at < len(tokens) and tokens[at].kind == "newline":
        at += 1
    return at


def _call_at(tokens: list[_Token], at: int, depth: int) -> HclCall | None:
    """The call whose name is ``tokens[at]``, when its argument is one string or one call."""
    name = tokens[at]
    at = _solid(tokens, at + 1)
    if at >= len(tokens) or tokens[at].text != "(":
        return None
    at = _solid(tokens, at + 1)
    if at >= len(tokens):
        return None
    arg = tokens[at]
    if arg.kind == "string":
        argument, inner, end = arg.text, None, at + 1
    elif arg.kind == "ident" and depth < _CALL_DEPTH:
        inner = _call_at(tokens, at, depth + 1)
        if inner is None:
            return None
        argument, end = None, _call_end(tokens, at)
    else:
        return None
    end = _solid(tokens, end)
    if end >= len(tokens) or tokens[end].text != ")":
        return None  # more arguments, or an expression (x + "y"): not one path
    return HclCall(name.text, name.line, argument, inner)


def _call_end(tokens: list[_Token], at: int) -> int:
    """The index past the ``)`` closing the call named at ``at``."""
    depth = 0
    for index in range(at + 1, len(tokens)):
        text = tokens[index].text
        if text in _OPENERS:
            depth += 1
        elif text in _CLOSERS:
            depth -= 1
            if depth == 0:
                return index + 1
    return len(tokens)


def hcl_calls(text: str, names: frozenset[str]) -> Iterator[HclCall]:
    """Every call of a function in ``names`` in ``text`` (HCL native syntax) whose argument is
    one string literal or one call, in file order; comments and strings are no calls."""
    tokens = _tokens(text)
    for at, tok in enumerate(tokens):
        if tok.kind == "ident" and tok.text in names:
            found = _call_at(tokens, at, 0)
            if found is not None:
                yield found
