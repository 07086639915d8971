"""Where a key path sits in a file's text: the 1-based line of its key, for reports.

Key paths are dotted mapping keys (``stringData.password``; sequence items add nothing), as
the audit writes them. YAML and JSON are read through libyaml's parser events (positions, no
tree built); dotenv is one ``KEY=value`` per line. A text that does not parse gives no lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from secretsmgr.sops.document import FileFormat

try:  # libyaml through ruamel's C extension, as the YAML reader uses it
    from _ruamel_yaml import CParser as _CParser
except ImportError:  # pragma: no cover - pure-Python ruamel only
    _CParser = None


@dataclass(slots=True)
class DocumentKeys:
    """One document: the first line of each dotted key path; its ``kind`` and
    ``metadata.name`` when they are plain strings."""

    lines: dict[str, int] = field(default_factory=dict)
    kind: str | None = None
    name: str | None = None


def _events(text: str) -> Iterator[Any]:
    if _CParser is None:  # pragma: no cover
        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = _CParser(text)
    while True:
        event = parser.get_event()
        yield event
        if type(event).__name__ == "StreamEndEvent":
            return


def _yaml_keys(text: str) -> list[DocumentKeys]:
    docs: list[DocumentKeys] = []
    # one frame per open collection: [is_mapping, the key whose value is open (or None)]
    stack: list[list[Any]] = []
    for event in _events(text):
        kind = type(event).__name__
        if kind == "DocumentStartEvent":
            docs.append(DocumentKeys())
            stack = []
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            stack.append([kind == "MappingStartEvent", None])
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            stack.pop()
            if stack and stack[-1][0]:
                stack[-1][1] = None  # the value of the enclosing key is complete
        elif kind in ("ScalarEvent", "AliasEvent") and stack and stack[-1][0] and docs:
            frame = stack[-1]
            path: list[str] = [f[1] for f in stack[:-1] if f[0] and f[1] is not None]
            if frame[1] is None:
                if kind == "AliasEvent":
                    return docs  # an alias as a key: nothing sensible to point at
                key = str(event.value)
                frame[1] = key
                docs[-1].lines.setdefault(".".join([*path, key]), event.start_mark.line + 1)
            else:
                if kind == "ScalarEvent" and [*path, frame[1]] == ["metadata", "name"]:
                    docs[-1].name = event.value
                elif kind == "ScalarEvent" and not path and frame[1] == "kind":
                    docs[-1].kind = event.value
                frame[1] = None
    return docs


def _dotenv_keys(text: str) -> list[DocumentKeys]:
    doc = DocumentKeys()
    for number, line in enumerate(text.splitlines(), start=1):
        key, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            doc.lines.setdefault(key.strip(), number)
    return [doc]


def key_lines(text: str, fmt: FileFormat) -> list[DocumentKeys]:
    """Every document's key lines (empty when the text does not parse)."""
    if fmt is FileFormat.DOTENV:
        return _dotenv_keys(text)
    try:
        return _yaml_keys(text)
    except (YAMLError, ValueError, RecursionError):
        return []


def find_line(
    docs: list[DocumentKeys], key_path: str, *, kind: str | None = None, name: str | None = None
) -> int | None:
    """The line of ``key_path`` in the first document that has it (of ``kind``, named
    ``name``, when given)."""
    for doc in docs:
        if (kind is not None and doc.kind != kind) or (name is not None and doc.name != name):
            continue
        line = doc.lines.get(key_path)
        if line is not None:
            return line
    return None
