"""kustomize patches applied to the objects the model parses (Flux objects, mostly).

A patch is a strategic-merge document or a JSON 6902 operation list, with an optional target
(group, version, kind, name and namespace as regular expressions, a label selector, an annotation
selector). Flux objects are custom resources, for which kustomize's strategic merge is a JSON
merge patch (RFC 7386): mappings merge, lists and scalars replace, ``null`` deletes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from secretsmgr.errors import FormatError
from secretsmgr.repo.flux.objects import api_group, as_list, as_map, as_str, meta
from secretsmgr.sops.regex import compile_go


@dataclass(frozen=True, slots=True)
class Target:
    """A patch target; every field None = any."""

    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None


def parse_target(raw: object) -> Target | None:
    """A ``target:`` mapping; None when absent."""
    data = as_map(raw)
    if data is None:
        return None
    return Target(
        group=as_str(data.get("group")),
        version=as_str(data.get("version")),
        kind=as_str(data.get("kind")),
        name=as_str(data.get("name")),
        namespace=as_str(data.get("namespace")),
        label_selector=as_str(data.get("labelSelector")),
        annotation_selector=as_str(data.get("annotationSelector")),
    )


def _full(pattern: str | None, value: str) -> bool:
    # kustomize matches a target's fields as anchored Go regular expressions: RE2, linear time
    if pattern is None or pattern == "":
        return True
    try:
        return compile_go(pattern).fullmatch(value)
    except FormatError:
        return pattern == value


_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def _label_text(value: object) -> object:
    """A label's value as kustomize compares it: the scalar's text. The manifest reader keeps
    the text of every label and annotation (``True``, ``05`` as written); a value that reaches
    here typed all the same (through an alias) gets the spelling it almost always has."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def selector_matches(selector: str | None, labels: Mapping[str, object]) -> bool:
    """A Kubernetes label selector (``a=b,c!=d,e in (x,y),!f,g``) against ``labels``."""
    if not selector or not selector.strip():
        return True
    for requirement in _split_selector(selector):
        m = _REQUIREMENT.match(requirement)
        if m is None:
            return False
        key = m.group("key")
        present = key in labels
        value = _label_text(labels.get(key))
        if m.group("neg"):
            if present:
                return False
        elif m.group("op") in ("=", "=="):
            if value != m.group("value"):
                return False
        elif m.group("op") == "!=":
            if value == m.group("value"):
                return False
        elif m.group("set"):
            options = {v.strip() for v in m.group("values").split(",")}
            inside = present and value in options
            if (m.group("set") == "in") != inside:
                return False
        elif not present:
            return False
    return True


def matches(target: Target, doc: Mapping[str, object]) -> bool:
    """Whether ``doc`` is selected by ``target``."""
    md = meta(doc)
    api = as_str(doc.get("apiVersion")) or ""
    version = api.rpartition("/")[2]
    labels = as_map(md.get("labels")) or {}
    annotations = as_map(md.get("annotations")) or {}
    return (
        _full(target.group, api_group(doc))
        and _full(target.version, version)
        and _full(target.kind, as_str(doc.get("kind")) or "")
        and _full(target.name, as_str(md.get("name")) or "")
        and _full(target.namespace, as_str(md.get("namespace")) or "")
        and selector_matches(target.label_selector, labels)
        and selector_matches(target.annotation_selector, annotations)
    )


def merge_patch(base: object, patch: object) -> object:
    """RFC 7386 JSON merge patch."""
    patch_map = as_map(patch)
    if patch_map is None:
        return copy.deepcopy(patch)
    out = dict(as_map(base) or {})
    for key, value in patch_map.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def _container(doc: object, parts: Sequence[str]) -> object:
    node = doc
    for part in parts:
        if isinstance(node, dict):
            node = cast(dict[str, object], node)[part]
        elif isinstance(node, list):
            node = cast(list[object], node)[int(part)]
        else:
            raise KeyError(part)
    return node


def _set(doc: object, path: str, value: object, *, insert: bool) -> None:
    parts = _pointer(path)
    if not parts:
        raise KeyError("root")
    parent = _container(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        cast(dict[str, object], parent)[last] = value
    elif isinstance(parent, list):
        items = cast(list[object], parent)
        if last == "-":
            items.append(value)
        elif insert:
            items.insert(int(last), value)
        else:
            items[int(last)] = value
    else:
        raise KeyError(last)


def _remove(doc: object, path: str) -> object:
    parts = _pointer(path)
    parent = _container(doc, parts[:-1])
    if isinstance(parent, dict):
        return cast(dict[str, object], parent).pop(parts[-1])
    if isinstance(parent, list):
        return cast(list[object], parent).pop(int(parts[-1]))
    raise KeyError(parts[-1])


def json6902(doc: dict[str, object], operations: Sequence[object]) -> dict[str, object]:
    """Apply JSON 6902 operations (add, replace, remove, copy, move; test is ignored)."""
    out = copy.deepcopy(doc)
    for raw in operations:
        op = as_map(raw) or {}
        kind = as_str(op.get("op"))
        path = as_str(op.get("path")) or ""
        try:
            if kind == "add":
                _set(out, path, copy.deepcopy(op.get("value")), insert=True)
            elif kind == "replace":
                _set(out, path, copy.deepcopy(op.get("value")), insert=False)
            elif kind == "remove":
                _remove(out, path)
            elif kind in ("copy", "move"):
                source = as_str(op.get("from")) or ""
                value = _container(out, _pointer(source))
                if kind == "move":
                    _remove(out, source)
                _set(out, path, copy.deepcopy(value), insert=True)
        except (KeyError, IndexError, ValueError):
            continue  # kustomize would fail the build; the model keeps the object as it was
    return out


@dataclass(frozen=True, slots=True)
class Patch:
    """A parsed patch: ``documents`` (strategic merge) or ``operations`` (JSON 6902)."""

    target: Target | None
    documents: tuple[Mapping[str, object], ...] = ()
    operations: tuple[object, ...] = ()

    def apply(self, doc: dict[str, object]) -> dict[str, object]:
        """``doc`` with this patch applied when it is a target, else ``doc`` unchanged."""
        if self.operations:
            if self.target is None or not matches(self.target, doc):
                return doc
            return json6902(doc, self.operations)
        out = doc
        for patch_doc in self.documents:
            if self.target is not None:
                if not matches(self.target, out):
                    continue
            elif not _same_object(patch_doc, out):
                continue
            body = {k: v for k, v in patch_doc.items() if k not in ("apiVersion", "kind")}
            body_meta = as_map(body.get("metadata"))
            if body_meta is not None and self.target is not None:
                # a targeted patch never renames its target
                body["metadata"] = {
                    k: v for k, v in body_meta.items() if k not in ("name", "namespace")
                }
            merged = merge_patch(out, body)
            assert isinstance(merged, dict)
            out = cast(dict[str, object], merged)
        return out


def _same_object(patch: Mapping[str, object], doc: Mapping[str, object]) -> bool:
    pm, dm = meta(patch), meta(doc)
    if as_str(patch.get("kind")) != as_str(doc.get("kind")):
        return False
    if as_str(pm.get("name")) != as_str(dm.get("name")):
        return False
    ns = as_str(pm.get("namespace"))
    return ns is None or ns == as_str(dm.get("namespace"))


def patch_from_data(data: object, target: Target | None) -> Patch | None:
    """A patch from parsed YAML ``data``: a list is JSON 6902, a mapping strategic merge."""
    if isinstance(data, list):
        items = cast(list[object], data)
        if all(as_map(i) is not None and "op" in (as_map(i) or {}) for i in items):
            return Patch(target, operations=tuple(items))
        docs = tuple(d for d in (as_map(i) for i in items) if d is not None)
        return Patch(target, documents=docs) if docs else None
    single = as_map(data)
    return Patch(target, documents=(single,)) if single is not None else None


def patches_of(values: Sequence[object], docs_of: Callable[[str], list[object]]) -> list[Patch]:
    """Parse a list of ``patches`` entries: each ``{patch: str, target}`` (Flux ``spec.patches``).

    ``docs_of(text)`` parses the inline YAML text of a patch (``FormatError`` when it cannot).
    """
    out: list[Patch] = []
    for raw in values:
        entry = as_map(raw)
        if entry is None:
            continue
        text = as_str(entry.get("patch"))
        if text is None:
            continue
        target = parse_target(entry.get("target"))
        try:
            parsed = docs_of(text)
        except FormatError:
            continue  # a malformed inline patch: kustomize would fail; the model skips it
        docs = as_list(parsed)
        data: object = docs[0] if len(docs) == 1 else docs
        patch = patch_from_data(data, target)
        if patch is not None:
            out.append(patch)
    return out
