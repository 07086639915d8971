"""The hash-chained changelog: canonical JSON Lines in, verdicts and new lines out.

Pure: bytes in, bytes out. No git, no CLI, no filesystem (``store.py`` reads and writes).

Every line is one entry, serialized canonically (sorted keys, compact separators, UTF-8) with
two hashes: ``prev``, the sha256 of the previous line's bytes (``GENESIS`` for the first), and
``hash``, the sha256 of the entry's own canonical form without ``hash``. ``prev`` makes a
deleted, inserted or reordered line break the chain where it happened; ``hash`` makes an edited
line break the chain at that line itself (even the last one), not only at the one after it.

An entry holds public facts only: paths, ``lastmodified`` stamps, public recipients, file
hashes and ``datakey_id`` (an HMAC keyed by the data key, which reveals nothing about it).
Never a value, a data key or a private key. An ``adopt`` entry records files as they already
were (``init``, ``log --adopt``): before and after are the same state, and ``datakey_id`` is
left out of a file no identity at hand could open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import cast

from secretsmgr.errors import ChainError

GENESIS = "0" * 64
DATAKEY_ID_LABEL = b"secretsmgr changelog datakey-id v1"
ACTIONS = (
    "rotate",
    "encrypt",
    "edit",
    "set",
    "unset",
    "adopt",
    "key-rotate-begin",
    "key-rotate-finish",
)

_PRIVATE_KEY = re.compile(r"AGE-SECRET-KEY-(?:PQ-)?1", re.IGNORECASE)
_ENTRY_FIELDS = frozenset(
    {"seq", "time", "actor", "action", "reason", "layers", "files", "prev", "hash"}
)
_FILE_FIELDS = frozenset(
    {
        "path",
        "lastmodified",
        "recipients_before",
        "recipients_after",
        "datakey_id",
        "sha256_before",
        "sha256_after",
        "key_paths",
    }
)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What one run did to one file: public facts only."""

    path: str
    lastmodified: str
    recipients_before: tuple[str, ...]
    recipients_after: tuple[str, ...]
    datakey_id: str | None  # None: not known (an adopted file no identity at hand opened)
    sha256_before: str
    sha256_after: str
    # The key paths whose value the run changed (set/unset); stored only when there are some,
    # so lines written before the field existed keep their canonical form.
    key_paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One changelog line: one run of rotate, encrypt or a key-rotation step."""

    seq: int
    time: str  # UTC, "2026-11-26T10:03:10Z"
    actor: str
    action: str  # one of ACTIONS
    reason: str
    layers: tuple[str, ...]
    files: tuple[FileRecord, ...]
    prev: str


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where the chain first breaks (the seq that line should have) and why."""

    seq: int
    reason: str


# ----------------------------------------------------------------------------- serializing


def document_key_path(key_path: str, document: int) -> str:
    """A key path as ``key_paths`` records it in a file of several documents (1-based)."""
    return f"{key_path} (document {document})"


_DOCUMENT_LABEL = re.compile(r" \(document \d+\)$")


def plain_key_path(recorded: str) -> str:
    """A recorded key path without the document ``document_key_path`` adds."""
    return _DOCUMENT_LABEL.sub("", recorded)


def datakey_id(data_key: bytes) -> str:
    """A keyed fingerprint of a data key: HMAC-SHA256 keyed by it over a fixed label, 32 hex."""
    return hmac.new(data_key, DATAKEY_ID_LABEL, hashlib.sha256).hexdigest()[:32]


def _canonical(obj: object) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _not_utf8(obj) from None


def _not_utf8(obj: object) -> ChainError:
    """The refusal for a name, reason or key path that holds bytes that are no UTF-8 (a file
    committed under such a name, an argument in another encoding): a line of the changelog is
    UTF-8 JSON, and writing the bytes any other way would record a name no file has."""
    field, text = _first_not_utf8(obj, "entry") or ("entry", "")
    shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    what = {"path": "the file name", "key_paths": "the key path"}.get(field, f"the {field}")
    return ChainError(
        f"{what} {shown} is not UTF-8 text, which the changelog records",
        hints=(RENAME_TO_UTF8,) if field == "path" else (),
    )


# how a file whose name the changelog cannot record gets one it can
RENAME_TO_UTF8 = "rename the file to a UTF-8 name (git mv), then run the command again"


def _first_not_utf8(obj: object, field: str) -> tuple[str, str] | None:
    if isinstance(obj, str):
        return None if is_utf8(obj) else (field, obj)
    if isinstance(obj, Mapping):
        pairs = [(str(key), value) for key, value in obj.items()]
    elif isinstance(obj, list):
        pairs = [(field, value) for value in obj]
    else:
        return None
    for name, value in pairs:
        found = _first_not_utf8(value, name)
        if found:
            return found
    return None


def is_utf8(text: str) -> bool:
    """Whether ``text`` holds no byte that is no UTF-8 (``surrogateescape`` keeps such a byte of
    a name or an argument as a lone surrogate): whether a changelog line can record it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _body(entry: Entry) -> dict[str, object]:
    return {
        "seq": entry.seq,
        "time": entry.time,
        "actor": entry.actor,
        "action": entry.action,
        "reason": entry.reason,
        "layers": list(entry.layers),
        "files": [_file_body(f) for f in entry.files],
        "prev": entry.prev,
    }


def _file_body(f: FileRecord) -> dict[str, object]:
    body: dict[str, object] = {
        "path": f.path,
        "lastmodified": f.lastmodified,
        "recipients_before": list(f.recipients_before),
        "recipients_after": list(f.recipients_after),
        "sha256_before": f.sha256_before,
        "sha256_after": f.sha256_after,
    }
    if f.datakey_id is not None:
        body["datakey_id"] = f.datakey_id
    if f.key_paths:
        body["key_paths"] = list(f.key_paths)
    return body


def to_dict(entry: Entry) -> dict[str, object]:
    """The entry as the JSON object its line holds (``hash`` included)."""
    body = _body(entry)
    body["hash"] = hashlib.sha256(_canonical(body)).hexdigest()
    return body


def serialize(entry: Entry) -> bytes:
    """The entry's canonical line: sorted keys, compact, UTF-8, no trailing newline."""
    return _canonical(to_dict(entry))


def line_hash(line: bytes) -> str:
    """The sha256 of a line's bytes (without its newline): what the next ``prev`` holds."""
    return hashlib.sha256(line).hexdigest()


# ----------------------------------------------------------------------------- parsing


def _lines(data: bytes) -> list[bytes]:
    if not data:
        return []
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _field(obj: dict[str, object], name: str, kind: type, where: str) -> object:
    if name not in obj:
        raise ChainError(f"{where} has no {name}")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ChainError(f"{where}: {name} has the wrong type")
    return value


def _strings(obj: dict[str, object], name: str, where: str) -> tuple[str, ...]:
    items = cast(list[object], _field(obj, name, list, where))
    if not all(isinstance(item, str) for item in items):
        raise ChainError(f"{where}: {name} must hold only strings")
    return tuple(cast(list[str], items))


def _exact_fields(obj: dict[str, object], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ChainError(f"{where} has an unknown field {unknown[0]}")


def _file_record(raw: object, where: str) -> FileRecord:
    if not isinstance(raw, dict):
        raise ChainError(f"{where} is not an object")
    obj = cast(dict[str, object], raw)
    _exact_fields(obj, _FILE_FIELDS, where)

    def text(name: str) -> str:
        return cast(str, _field(obj, name, str, where))

    return FileRecord(
        path=text("path"),
        lastmodified=text("lastmodified"),
        recipients_before=_strings(obj, "recipients_before", where),
        recipients_after=_strings(obj, "recipients_after", where),
        datakey_id=text("datakey_id") if "datakey_id" in obj else None,
        sha256_before=text("sha256_before"),
        sha256_after=text("sha256_after"),
        key_paths=_strings(obj, "key_paths", where) if "key_paths" in obj else (),
    )


def _parse_line(line: bytes, number: int) -> tuple[Entry, str]:
    """The entry on line ``number`` and its stored ``hash``; ``ChainError`` when malformed."""
    where = f"changelog line {number}"
    try:
        raw: object = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChainError(f"{where} is not valid JSON") from exc
    except RecursionError as exc:  # nesting no entry has: refused, never a crash
        raise ChainError(f"{where} is nested too deeply to be an entry") from exc
    if not isinstance(raw, dict):
        raise ChainError(f"{where} is not a JSON object")
    obj = cast(dict[str, object], raw)
    _exact_fields(obj, _ENTRY_FIELDS, where)

    def text(name: str) -> str:
        return cast(str, _field(obj, name, str, where))

    entry = Entry(
        seq=cast(int, _field(obj, "seq", int, where)),
        time=text("time"),
        actor=text("actor"),
        action=text("action"),
        reason=text("reason"),
        layers=_strings(obj, "layers", where),
        files=tuple(
            _file_record(item, f"{where}: file {i}")
            for i, item in enumerate(cast(list[object], _field(obj, "files", list, where)), 1)
        ),
        prev=text("prev"),
    )
    _check_contents(entry, where)
    if _holds_private_key(entry):
        raise ChainError(f"{where} holds an age private key")
    return entry, text("hash")


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _check_contents(entry: Entry, where: str) -> None:
    """What a writer guarantees and a reader checks again: a UTC time in the one form and file
    paths that stay inside the repository (and, beside this, no private key anywhere)."""
    try:
        valid_time = bool(_TIME.match(entry.time)) and bool(
            datetime.strptime(entry.time, "%Y-%m-%dT%H:%M:%SZ")
        )
    except ValueError:
        valid_time = False
    if not valid_time:
        raise ChainError(f"{where}: time is not a UTC time like 2026-01-31T12:00:00Z")
    for number, record in enumerate(entry.files, start=1):
        parts = record.path.split("/")
        if (
            not record.path
            or record.path.startswith("/")
            or "\\" in record.path
            or "\0" in record.path
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise ChainError(f"{where}: file {number}: its path is not a path in the repository")


def parse_entries(data: bytes) -> list[Entry]:
    """Parse every line; ``ChainError`` naming the first malformed line (hashes not checked)."""
    return [_parse_line(line, number)[0] for number, line in enumerate(_lines(data), start=1)]


# ----------------------------------------------------------------------------- verifying


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A changelog prefix found intact: its size and sha256, its last seq, its last line's hash.

    ``read_chain`` trusts a prefix that a checkpoint covers byte for byte and checks only the
    lines after it. Whoever hands one in vouches that it was made by ``checkpoint_of`` from
    bytes that were verified (``changelog/verified.py`` keeps them per repository).
    """

    size: int
    sha256: str
    seq: int
    tail: str

    def covers(self, data: bytes) -> bool:
        """Whether ``data`` starts with exactly the bytes this checkpoint was made from."""
        return (
            len(data) >= self.size
            and (self.size == 0 or data[self.size - 1 : self.size] == b"\n")
            and hashlib.sha256(data[: self.size]).hexdigest() == self.sha256
        )


def checkpoint_of(data: bytes) -> Checkpoint:
    """The checkpoint of an intact changelog (``data`` as ``read_chain`` found it, or as
    ``append`` returned it); a missing final newline is left out of the prefix it covers."""
    size = len(data) if not data or data.endswith(b"\n") else data.rfind(b"\n") + 1
    seq, tail = _tail(data[:size])
    return Checkpoint(size, hashlib.sha256(data[:size]).hexdigest(), seq - 1, tail)


def read_chain(
    data: bytes, after: Checkpoint | None = None
) -> tuple[list[Entry], ChainBreak | None]:
    """The entries before the first broken one, and that break (None when the chain is intact).

    Line N must parse, be canonical, match its own ``hash``, have ``seq`` N and hold the sha256
    of line N-1 (``GENESIS`` for line 1) as ``prev``. Since every line before the break is
    intact, N is also the seq the broken entry should have. One pass: a caller that needs the
    entries of an intact chain parses nothing again.

    ``after``: a checkpoint of an intact prefix. When it covers ``data``, only the lines after
    it are checked, and only their entries are returned; otherwise it is ignored.
    """
    entries: list[Entry] = []
    prev, first = GENESIS, 1
    if after is not None and after.covers(data):
        data, prev, first = data[after.size :], after.tail, after.seq + 1
    for number, line in enumerate(_lines(data), start=first):
        try:
            entry, stored = _parse_line(line, number)
        except ChainError as exc:
            return entries, ChainBreak(number, exc.message)
        body_hash = hashlib.sha256(_canonical(_body(entry))).hexdigest()
        if stored != body_hash:
            return entries, ChainBreak(number, "the entry does not match its hash (it was edited)")
        if serialize(entry) != line:
            return entries, ChainBreak(number, "the line is not in canonical form (it was edited)")
        if entry.seq != number:
            return entries, ChainBreak(
                number,
                f"seq {entry.seq} found where {number} belongs "
                "(a line was deleted, inserted or reordered)",
            )
        if entry.prev != prev:
            return entries, ChainBreak(
                number,
                "prev does not match the previous line "
                "(a line was edited, deleted, inserted or reordered)",
            )
        entries.append(entry)
        prev = line_hash(line)
    return entries, None


def find_break(data: bytes, after: Checkpoint | None = None) -> ChainBreak | None:
    """The first broken entry and why, or None when the chain is intact (``read_chain``)."""
    return read_chain(data, after)[1]


def verify(data: bytes) -> int | None:
    """The seq of the first broken entry (its 1-based line), or None when the chain is intact."""
    found = find_break(data)
    return None if found is None else found.seq


State = tuple[str, str, str]  # (path, lastmodified, sha256 of the file's bytes)


def covered(entries: Sequence[Entry]) -> dict[State, list[FileRecord]]:
    """Every file state some entry records, with every record of it in changelog order.

    A state is the path, its sops ``lastmodified`` and the sha256 of its bytes (the record's
    ``sha256_after``): a line that names the right ``lastmodified`` but another content does
    not cover the file.
    """
    states: dict[State, list[FileRecord]] = {}
    for entry in entries:
        for f in entry.files:
            states.setdefault((f.path, f.lastmodified, f.sha256_after), []).append(f)
    return states


def latest_records(entries: Sequence[Entry]) -> dict[str, FileRecord]:
    """The last record of every path: the state the changelog says each file is in now.

    A file whose bytes are an earlier recorded state was rolled back (a rotated-away data key
    brought back), and is not covered by that earlier record.
    """
    return {f.path: f for entry in entries for f in entry.files}


def is_current(latest: Mapping[str, FileRecord], state: State) -> bool:
    """Whether ``state`` is the last state the changelog records for its path."""
    record = latest.get(state[0])
    return record is not None and (record.lastmodified, record.sha256_after) == state[1:]


class Coverage(Enum):
    """What the changelog says of a file's current state (SM013 and ``log --verify`` agree)."""

    CURRENT = "current"  # the last state recorded for the path
    ROLLED_BACK = "rolled back"  # an earlier recorded state: a later entry recorded other bytes
    OTHER_BYTES = "other bytes"  # path and lastmodified are recorded, these bytes are not
    UNRECORDED = "unrecorded"  # no entry names this lastmodified for the path


class RecordedStates:
    """The file states a changelog records, to judge files' current states against."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.records = covered(entries)
        self.latest = latest_records(entries)
        self._stated = {state[:2] for state in self.records}
        self._last_paths: dict[tuple[str, str], list[str]] = {}  # (lastmodified, bytes) -> paths
        for path, record in self.latest.items():
            if record.sha256_after:
                self._last_paths.setdefault((record.lastmodified, record.sha256_after), []).append(
                    path
                )

    def coverage(self, state: State) -> Coverage:
        """How the changelog covers ``state``."""
        if is_current(self.latest, state):
            return Coverage.CURRENT
        if state in self.records:
            return Coverage.ROLLED_BACK
        if state[:2] in self._stated:
            return Coverage.OTHER_BYTES
        return Coverage.UNRECORDED

    def moved_from(self, state: State, present: Collection[str]) -> str | None:
        """The path whose last recorded state has ``state``'s lastmodified and bytes, when that
        path is not among ``present``: the file was moved or renamed as it was (sweep 31: a
        ``git mv`` read as "changed outside secretsmgr")."""
        if state[0] in self.latest:
            return None
        paths = self._last_paths.get((state[1], state[2]), ())
        return next((p for p in paths if p not in present), None)

    def key_ids(self, state: State) -> set[str]:
        """The data key ids the records of ``state`` name (more than one: at most one of those
        records describes the file)."""
        return {r.datakey_id for r in self.records.get(state, ()) if r.datakey_id is not None}


# ----------------------------------------------------------------------------- appending


def _tail(data: bytes) -> tuple[int, str]:
    lines = _lines(data)
    return len(lines) + 1, (line_hash(lines[-1]) if lines else GENESIS)


_OPENED = re.compile(rb"(?m)^<{7,} ")
_CLOSED = re.compile(rb"(?m)^>{7,} ")


def has_conflict(data: bytes) -> bool:
    """Whether ``data`` holds git's conflict markers: both branches appended to it."""
    # seven marks or more: git's virtual base of a criss-cross merge nests them, with nine
    return bool(_OPENED.search(data)) and bool(_CLOSED.search(data))


def conflict_error(name: str) -> ChainError:
    """The error for a changelog that holds git's conflict markers (the write-side review of
    stop 53: it was "line 3 is not valid JSON", with a hint to restore it from git)."""
    return ChainError(
        f"{name} holds a merge conflict: both branches added entries to it",
        hints=(
            "secretsmgr log --merge keeps this branch's entries and adds the other branch's "
            "after them (nothing committed is changed); then git add it and go on",
        ),
    )


def broken_error(found: ChainBreak, data: bytes = b"") -> ChainError:
    """The error of a writer that found the changelog (``data``) broken at ``found``."""
    if has_conflict(data):
        return conflict_error("the changelog")
    return ChainError(
        f"changelog broken at seq {found.seq}: {found.reason}",
        hints=("restore the changelog from git before writing to it",),
    )


def next_entry(
    data: bytes,
    *,
    time: str,
    actor: str,
    action: str,
    reason: str,
    layers: Sequence[str],
    files: Sequence[FileRecord],
    verified: bool = False,
) -> Entry:
    """The entry that follows ``data``; ``ChainError`` if the chain in ``data`` is broken.

    ``verified``: the caller has just run ``find_break`` on these very bytes (a long changelog
    costs a parse of every line, not to be paid twice in one write).
    """
    found = None if verified else find_break(data)
    if found is not None:
        raise broken_error(found, data)
    seq, prev = _tail(data)
    return Entry(
        seq=seq,
        time=time,
        actor=actor,
        action=action,
        reason=reason,
        layers=tuple(layers),
        files=tuple(files),
        prev=prev,
    )


def _holds_private_key(entry: Entry) -> bool:
    texts = [entry.actor, entry.reason, *entry.layers]
    for f in entry.files:
        texts += [f.path, f.lastmodified, *f.recipients_before, *f.recipients_after]
        texts += [f.datakey_id] if f.datakey_id is not None else []
        texts += f.key_paths
    return any(_PRIVATE_KEY.search(t) for t in texts)


def _check_public(entry: Entry) -> None:
    if _holds_private_key(entry):
        raise ChainError("the changelog entry holds an age private key; nothing was written")
    _check_contents(entry, "the changelog entry")  # what a reader will check


def append(data: bytes, entry: Entry) -> bytes:
    """``data`` (newline-terminated if non-empty) plus the entry's line and a newline.

    ``ChainError`` when the entry does not follow ``data`` (seq or prev from another state of
    the changelog) or when it holds an age private key.
    """
    seq, prev = _tail(data)
    if entry.seq != seq or entry.prev != prev:
        raise ChainError(
            f"changelog entry seq {entry.seq} does not follow the changelog (next is seq {seq})"
        )
    _check_public(entry)
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data + serialize(entry) + b"\n"


def append_anew(data: bytes, entry: Entry, *, verified: bool = False) -> bytes:
    """``data`` followed by what ``entry`` says (time, actor, action, reason, layers, files)
    under the ``seq`` and ``prev`` that follow ``data``: an entry moved from another chain
    (``log --merge``). ``verified`` as for ``next_entry``."""
    follow = next_entry(
        data,
        time=entry.time,
        actor=entry.actor,
        action=entry.action,
        reason=entry.reason,
        layers=entry.layers,
        files=entry.files,
        verified=verified,
    )
    return append(data, follow)
