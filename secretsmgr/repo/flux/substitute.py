"""Flux ``postBuild`` variable substitution, as far as the model needs it.

kustomize-controller runs envsubst over each object of a Kustomization's build output, with the
variables of ``postBuild.substituteFrom`` (ConfigMaps and Secrets of the cluster) overlaid by
``postBuild.substitute``. ``${var}``, ``${var:=default}`` and ``${var:-default}`` (and the forms
without ``:``) are substituted, ``$${var}`` is a literal ``${var}``; an unset variable becomes the
empty string. Objects labelled or annotated ``kustomize.toolkit.fluxcd.io/substitute: disabled``
are left alone. Nothing is substituted when no variable is defined at all.

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
_REFERENCE = re.compile(r"\$\$\{[^}]*\}|\$\{([_A-Za-z][_A-Za-z0-9]*)(?:(:?[-=])([^}]*))?\}")


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
    what postBuild puts there is the variable's value, as it is. A default
    (``${DB_PASSWORD:=x}``) is a literal of its own, judged as one (the review of stop 52)."""
    if not isinstance(value, str):
        return None
    found = _REFERENCE.fullmatch(value.strip())
    return found.group(1) if found is not None and found.group(2) is None else None


def references(value: object) -> tuple[str, ...]:
    """The variables ``value`` uses (``postgres://app:${PW}@db``: ``PW``), in order."""
    if not isinstance(value, str) or "${" not in value:
        return ()
    return tuple(dict.fromkeys(m.group(1) for m in _REFERENCE.finditer(value) if m.group(1)))


def substitute_text(text: str, variables: Variables, unknown: set[str]) -> str:
    """``text`` with every reference resolved that can be; unresolvable names go to ``unknown``."""
    if "$" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole.startswith("$$"):
            return whole[1:]
        name, op, default = m.group(1), m.group(2), m.group(3)
        if name in variables.values:
            value = variables.values[name]
            if op is not None and op.startswith(":") and value == "":
                return default
            return value
        if not variables.complete:
            unknown.add(name)
            return whole
        return default if op is not None else ""

    return _REFERENCE.sub(one, text)


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
