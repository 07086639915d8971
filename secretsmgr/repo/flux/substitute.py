"""Flux ``postBuild`` variable substitution, as far as the model needs it.

kustomize-controller runs envsubst over each object of a Kustomization's build output, with the
variables of ``postBuild.substituteFrom`` (ConfigMaps and Secrets of the cluster) overlaid by
``postBuild.substitute``. ``${var}``, ``${var:=default}`` and ``${var:-default}`` (and the forms
without ``:``, and ``:?``/``:+``, which Flux reads as defaults too) are substituted, and so are
its operators on a value: ``${var^^}``/``${var,}`` (case), ``${var:1:4}`` (a part),
``${var#pat}``/``${var%%pat}`` (a glob trimmed), ``${var/pat/text}``/``//``/``/#``/``/%`` (text
put in) and ``${#var}`` (the length); ``$${var}`` is a literal ``${var}``; an unset variable
becomes the empty string (fluxcd/pkg envsubst, checked against it). Objects labelled or
annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled`` are left alone. Nothing is
substituted when no variable is defined at all.

The model does not know every variable: a ``substituteFrom`` source that is not in the
repository, or an encrypted one without a key, leaves its variables *unknown*. A reference to an
unknown variable is kept as written and reported back, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import cast

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
_REFERENCE = re.compile(
    r"\$\$\{[^}]*\}|\$\{#(?P<length>[_A-Za-z][_A-Za-z0-9]*)\}"
    r"|\$\{(?P<name>[_A-Za-z][_A-Za-z0-9]*)"
    r"(?:(?P<op>:[-=?+]|[-=]|\^\^|\^|,,|,|/[#%/]|/|##|#|%%|%|:)(?P<arg>(?:[^{}]|\$\{[^{}]*\})*))?\}"
)
DEFAULT_OPS = frozenset({":-", ":=", ":?", ":+", "-", "="})


@dataclass(frozen=True, slots=True)
class Variables:
    """The variables of one Kustomization: known values, and whether any source is unknown."""

    values: Mapping[str, str]
    complete: bool  # every substituteFrom source was read: an unset variable is really unset
    # the file each known value is written in, in clear (the Flux Kustomization's own for
    # postBuild.substitute, a ConfigMap's for substituteFrom)
    origins: Mapping[str, str] = dataclass_field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether Flux substitutes at all (it does not when no variable is defined)."""
        return bool(self.values) or not self.complete


def whole_reference(value: object) -> str | None:
    """The variable a value is made of alone, with no default (``${DB_PASSWORD}``), or None:
    what postBuild puts there is the variable's value, as it is, or changed by an operator
    (``${PW:0}``, ``${TK%%-x}``: the fifth attack review of the gate). A default
    (``${DB_PASSWORD:=x}``) is a literal of its own, judged as one (the review of stop 52)."""
    if not isinstance(value, str):
        return None
    found = _REFERENCE.fullmatch(value.strip())
    if found is None or found["name"] is None or found["op"] in DEFAULT_OPS:
        return None
    return found["name"]  # with no operator, or one that hands out (a part of) its value


def references(value: object) -> tuple[str, ...]:
    """The variables ``value`` uses (``postgres://app:${PW}@db``: ``PW``), in order."""
    if not isinstance(value, str) or "${" not in value:
        return ()
    return tuple(dict.fromkeys(m["name"] for m in _REFERENCE.finditer(value) if m["name"]))


def substitute_text(text: str, variables: Variables, unknown: set[str]) -> str:
    """``text`` with every reference resolved that can be; unresolvable names go to ``unknown``."""
    if "$" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole.startswith("$$"):
            return whole[1:]
        name = m["name"] or m["length"]
        op = m["op"]
        # an operator's text may use a variable of its own (``${A:-${B:-pw}}``)
        arg = _REFERENCE.sub(one, m["arg"]) if m["arg"] and "${" in m["arg"] else m["arg"]
        if name in variables.values:
            value = variables.values[name]
        elif not variables.complete:
            unknown.add(name)
            return whole
        else:
            value = None  # unset
        if m["length"] is not None:
            return str(len((value or "").encode("utf-8")))
        if op in DEFAULT_OPS:
            # Flux: the value unless it is empty (``${V-x}``, which Flux refuses, as bash would)
            if value is None or (value == "" and op != "-"):
                return arg
            return value
        return _operated(value or "", op, arg) if op is not None else value or ""

    return _REFERENCE.sub(one, text)


def _operated(value: str, op: str, arg: str) -> str:
    """What envsubst's operator ``op`` with ``arg`` makes of a variable's ``value``."""
    if op in ("^", "^^", ",", ",,"):
        changed = value.upper() if op[0] == "^" else value.lower()
        return changed if len(op) == 2 else changed[:1] + value[1:]
    if op == ":":
        return _part(value, arg)
    if op[0] == "/":
        pattern, slash, text = arg.partition("/")
        if not slash:
            return value  # Flux refuses it (bad substitution)
        if op in ("/#", "/%"):
            if op == "/#" and value.startswith(pattern):
                return text + value[len(pattern) :]
            if op == "/%" and value.endswith(pattern):
                return value[: len(value) - len(pattern)] + text
            return value
        if pattern == "":
            return text + value if op == "/" else value  # Go's Replace of "" puts it first
        return value.replace(pattern, text, 1 if op == "/" else -1)
    glob = _glob(arg)
    if glob is None:
        return value
    if op in ("#", "##"):
        return _trimmed(value, glob, longest=op == "##")
    reversed_glob = _glob(arg[::-1])
    if reversed_glob is None:
        return value
    return _trimmed(value[::-1], reversed_glob, longest=op == "%%")[::-1]


def _part(value: str, arg: str) -> str:
    """``${var:pos}``/``${var:pos:len}``: a position or length Go cannot read hands out the
    value whole (``${var: -2}`` too: the space)."""
    pos_text, colon, len_text = arg.partition(":")
    if not _INT.fullmatch(pos_text) or (colon and not _INT.fullmatch(len_text)):
        return value
    pos = int(pos_text)
    if pos < 0:
        pos = max(len(value) + pos, 0)
    if not colon:
        return value[pos:]
    return value[pos : pos + int(len_text)] if pos + int(len_text) < len(value) else value[pos:]


_INT = re.compile(r"[+-]?[0-9]+")


def _trimmed(value: str, glob: re.Pattern[str], *, longest: bool) -> str:
    """``value`` without its shortest (or longest) prefix ``glob`` matches, never an empty one."""
    lengths = range(len(value), 0, -1) if longest else range(1, len(value) + 1)
    for n in lengths:
        if glob.fullmatch(value[:n]):
            return value[n:]
    return value


def _glob(pattern: str) -> re.Pattern[str] | None:
    """envsubst's glob (its copy of Go's ``path.Match``, whose ``*`` and ``?`` match ``/`` too)
    as a regular expression; None for one it refuses (then it leaves the value as it is)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            if i + 1 == len(pattern):
                return None
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1)
            if end == -1:
                return None
            body = pattern[i + 1 : end]
            negated = body.startswith("^")
            body = body[1:] if negated else body
            if not body:
                return None
            out.append("[" + ("^" if negated else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None


def _walk(node: object, variables: Variables, unknown: set[str]) -> object:
    if isinstance(node, str):
        return substitute_text(node, variables, unknown)
    if isinstance(node, dict):
        return {
            substitute_text(k, variables, unknown) if isinstance(k, str) else k: _walk(
                v, variables, unknown
            )
            for k, v in cast(dict[object, object], node).items()
        }
    if isinstance(node, list):
        return [_walk(v, variables, unknown) for v in cast(list[object], node)]
    return node


def is_disabled(doc: Mapping[str, object]) -> bool:
    """Whether the object opts out of substitution by label or annotation."""
    md = doc.get("metadata")
    if not isinstance(md, dict):
        return False
    for field in ("labels", "annotations"):
        values = cast(dict[str, object], md).get(field)
        if isinstance(values, dict) and values.get(SUBSTITUTE_KEY) == "disabled":
            return True
    return False


def substitute_doc(
    doc: Mapping[str, object], variables: Variables
) -> tuple[dict[str, object], frozenset[str]]:
    """The object after substitution, and the names of the unknown variables it still uses."""
    if not variables.active or is_disabled(doc):
        return dict(doc), frozenset()
    unknown: set[str] = set()
    out = _walk(dict(doc), variables, unknown)
    assert isinstance(out, dict)
    return cast(dict[str, object], out), frozenset(unknown)
