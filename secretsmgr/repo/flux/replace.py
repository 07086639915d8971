"""kustomize's ``replacements``: a field of one object of a build copied into fields of others.

A cluster overlay may point its Flux Kustomizations at its own folders this way: a ConfigMap of
template inputs (``cluster_name: local``) and a replacement that writes it into the second
segment of each ``spec.path`` (``clusters/__CLUSTER__/apps`` becomes ``clusters/local/apps``;
sweep 77, devantler-tech/platform: every layer was said to point nowhere, and its SOPS files to
be deployed by none). The model follows inline entries (``source:`` and ``targets:``) with
plain dotted field paths, as kustomize applies them after every other transformer; a source
that is not found, or a field path it cannot read, changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from secretsmgr.repo.flux.objects import as_list, as_map, as_str
from secretsmgr.repo.flux.patch import Target, matches, parse_target

Doc = dict[str, object]


@dataclass(frozen=True, slots=True)
class Into:
    """Where a replacement writes: the objects ``select`` names and ``reject`` does not (each a
    kustomize selector, read as a patch's ``target`` is)."""

    select: Target
    reject: tuple[Target, ...]
    field_paths: tuple[str, ...]
    delimiter: str | None = None
    index: int = 0
    create: bool = False


@dataclass(frozen=True, slots=True)
class Replacement:
    """One inline ``replacements`` entry."""

    source: Target
    field_path: str
    targets: tuple[Into, ...]
    delimiter: str | None = None
    index: int = 0

    @property
    def wanted(self) -> tuple[str, str] | None:
        """(kind, name) of the source object, when both are given."""
        kind, name = self.source.kind, self.source.name
        return (kind, name) if kind and name else None


def _options(value: object) -> tuple[str | None, int, bool]:
    data = as_map(value) or {}
    index = data.get("index", 0)
    return (
        as_str(data.get("delimiter")),
        index if isinstance(index, int) and not isinstance(index, bool) else 0,
        data.get("create") is True,
    )


def parse_replacements(value: object) -> tuple[Replacement, ...]:
    """The inline entries of a kustomization's ``replacements`` (a ``path:`` entry is a file
    the model does not read)."""
    out: list[Replacement] = []
    for entry in as_list(value):
        data = as_map(entry)
        if data is None:
            continue
        raw = as_map(data.get("source")) or {}
        source = parse_target(raw)
        if source is None or source == Target():
            continue
        targets: list[Into] = []
        for item in as_list(data.get("targets")):
            target = as_map(item)
            select = parse_target(target.get("select")) if target is not None else None
            if target is None or select is None:
                continue
            rejects = tuple(r for r in map(parse_target, as_list(target.get("reject"))) if r)
            paths = tuple(p for p in as_list(target.get("fieldPaths")) if isinstance(p, str))
            delimiter, index, create = _options(target.get("options"))
            targets.append(Into(select, rejects, paths, delimiter, index, create))
        delimiter, index, _ = _options(raw.get("options"))
        field_path = as_str(raw.get("fieldPath")) or "metadata.name"
        out.append(Replacement(source, field_path, tuple(targets), delimiter, index))
    return tuple(out)


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.\-/]+")


def _parts(path: str) -> list[str] | None:
    if not _PLAIN_PATH.fullmatch(path):
        return None  # [name=x] list selectors, quoted keys: not followed
    return path.split(".")


def _get(doc: object, path: str) -> object:
    parts = _parts(path)
    if parts is None:
        return None
    node: object = doc
    for part in parts:
        data = as_map(node)
        if data is None:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            return None
        node = data.get(part)
    return node


def _spliced(current: object, value: object, target: Into) -> object:
    if target.delimiter is None:
        return value
    parts = str(current).split(target.delimiter) if current is not None else [""]
    if target.index >= len(parts):
        parts.append(str(value))
    elif target.index < 0:
        parts.insert(0, str(value))
    else:
        parts[target.index] = str(value)
    return target.delimiter.join(parts)


def _set(doc: Doc, parts: Sequence[str], value: object, target: Into) -> Doc | None:
    """``doc`` with ``value`` written at ``parts`` (new dicts on the way), or None when the
    field is missing and ``create`` is off."""
    head, rest = parts[0], parts[1:]
    if not rest:
        if head not in doc and not target.create:
            return None
        return {**doc, head: _spliced(doc.get(head), value, target)}
    child = as_map(doc.get(head))
    if child is None:
        if head in doc or not target.create:
            return None
        child = {}
    written = _set(dict(child), rest, value, target)
    return None if written is None else {**doc, head: written}


def apply_replacements(docs: list[Doc], replacements: Sequence[Replacement]) -> list[Doc]:
    """``docs`` with ``replacements`` applied in order."""
    for replacement in replacements:
        source = next((d for d in docs if matches(replacement.source, d)), None)
        if source is None:
            continue  # kustomize fails the build; the model changes nothing
        value = _get(source, replacement.field_path)
        if not isinstance(value, str | int | float | bool):
            continue
        if replacement.delimiter is not None:
            pieces = str(value).split(replacement.delimiter)
            if not 0 <= replacement.index < len(pieces):
                continue
            value = pieces[replacement.index]
        for target in replacement.targets:
            for number, doc in enumerate(docs):
                if not matches(target.select, doc) or any(matches(r, doc) for r in target.reject):
                    continue
                for path in target.field_paths:
                    parts = _parts(path)
                    written = _set(doc, parts, value, target) if parts else None
                    if written is not None:
                        doc = written
                docs[number] = doc
    return docs
