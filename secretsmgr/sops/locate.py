"""Where a key path sits in a file's text: the 1-based line of its key, for reports.

Key paths are dotted mapping keys (``stringData.password``; sequence items add nothing), as
the audit writes them. YAML and JSON are read through the shared walk over libyaml's parser
events (``yamlio.events``: positions, no tree built); dotenv is one ``KEY=value`` per line; INI
keys are ``section.key`` (as the INI reader finds them). A
text that does not parse, or breaks the readers' limits, gives no lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secretsmgr.errors import FormatError
from secretsmgr.sops.document import FileFormat
from secretsmgr.sops.iniio import ini_key_lines
from secretsmgr.sops.yamlio.events import FoundComment, parse_events, walk


@dataclass(slots=True)
class DocumentKeys:
    """One document: the first line of each dotted key path; its ``kind`` and
    ``metadata.name`` when they are plain strings."""

    lines: dict[str, int] = field(default_factory=dict)
    kind: str | None = None
    name: str | None = None


class _AliasKey(Exception):
    """An alias used as a key: nothing sensible to point at from there on."""


class _KeySink:
    """Records where each key path starts, from the shared walk over parser events. A key
    inside a sequence is recorded twice: by its mapping keys alone (``spec.containers.env``,
    as SOPS key paths name it) and with each item's index (``spec.containers.0.env.1.value``,
    as the manifest rules name it)."""

    def __init__(self) -> None:
        self.docs: list[DocumentKeys] = []
        self.doc = DocumentKeys()
        # one frame per open collection: [is_mapping, the key whose value is open (or None),
        # items started so far (a sequence)]
        self.stack: list[list[Any]] = []
        self.sequences = 0  # sequence frames on the stack

    def _path(self) -> list[str]:
        return [f[1] for f in self.stack[:-1] if f[0] and f[1] is not None]

    def _indexed(self) -> list[str]:
        return [
            (f[1] if f[0] else str(f[2] - 1))
            for f in self.stack[:-1]
            if not f[0] or f[1] is not None
        ]

    def _item(self) -> None:
        """An item starts: in a sequence, it takes the next index."""
        if self.stack and not self.stack[-1][0]:
            self.stack[-1][2] += 1

    def scalar(self, event: Any, is_key: bool) -> None:
        if not self.stack or not self.stack[-1][0]:
            self._item()
            return
        frame = self.stack[-1]
        path = self._path()
        if is_key:
            frame[1] = key = str(event.value)
            line = event.start_mark.line + 1
            self.doc.lines.setdefault(".".join([*path, key]), line)
            if self.sequences:
                self.doc.lines.setdefault(".".join([*self._indexed(), key]), line)
            return
        if [*path, frame[1]] == ["metadata", "name"]:
            self.doc.name = event.value
        elif not path and frame[1] == "kind":
            self.doc.kind = event.value
        frame[1] = None

    def start(self, event: Any, is_map: bool) -> None:
        self._item()
        self.stack.append([is_map, None, 0])
        self.sequences += not is_map

    def end(self) -> None:
        self.sequences -= not self.stack.pop()[0]
        if self.stack and self.stack[-1][0]:
            self.stack[-1][1] = None  # the value of the enclosing key is complete

    def alias(self, event: Any, is_key: bool) -> None:
        if is_key:
            raise _AliasKey
        self._item()
        if self.stack and self.stack[-1][0]:
            self.stack[-1][1] = None

    def end_document(self) -> None:
        self.docs.append(self.doc)
        self.doc = DocumentKeys()
        self.stack = []
        self.sequences = 0

    def comment(self, found: FoundComment, next_kind: str, next_column: int | None) -> None:
        """Not given any."""


def _yaml_keys(text: str) -> list[DocumentKeys]:
    sink = _KeySink()
    try:
        walk(parse_events(text), sink, complex_keys=True)
    except _AliasKey:
        sink.docs.append(sink.doc)  # the lines found before it
    return sink.docs


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
    if fmt is FileFormat.INI:
        return [DocumentKeys(lines=ini_key_lines(text))]
    try:
        return _yaml_keys(text)
    except FormatError:
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
