"""Files HEAD holds encrypted that this state holds without SOPS metadata.

Two shapes of one mistake: ``sops -d -i`` (the same path, its ``sops`` block gone), and a
decrypted copy under a new name with the encrypted file deleted, or replaced by a link to the
copy, in the same change (``sops -d db.enc.yaml > db.yaml && git rm db.enc.yaml``). No name
says SOPS afterwards, so nothing but HEAD tells that the new file held secrets.

A rename is paired by content, not by git's rename detection (ciphertext and plaintext share
too few lines for it): the deleted file's key paths all appear in the new file, and a value it
encrypted is a literal there (no ``${VAR}``, not empty).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from secretsmgr.errors import SecretsmgrError
from secretsmgr.repo import git
from secretsmgr.repo.placeholders import has_template
from secretsmgr.repo.scan import scan_file
from secretsmgr.repo.snapshot import FILE_MODES, BesideHead, Snapshot
from secretsmgr.repo.sopsentry import structured_format
from secretsmgr.sops.document import parse_documents
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Scalar

# HEAD copies of deleted files read to pair them: a change that deletes more is a big
# reorganisation, and the folders of the new files are read first
_MAX_GONE = 1000
_ENC = "ENC["


@dataclass(frozen=True, slots=True)
class LostFile:
    """``path`` holds in clear what HEAD holds encrypted at ``was`` (the same path when it was
    decrypted in place)."""

    path: str
    was: str


@dataclass(frozen=True, slots=True)
class _Shape:
    paths: frozenset[tuple[str, ...]]  # every leaf's key path, the sops block left out
    encrypted: frozenset[tuple[str, ...]]  # the leaves holding ENC[…] values


def lost_since_head(snap: Snapshot, plain: Sequence[str]) -> tuple[LostFile, ...]:
    """The files of ``plain`` (read, no SOPS metadata now) that hold what HEAD holds encrypted.

    One git call lists what the state changes since HEAD; HEAD's blobs are read only for the
    files of ``plain`` it changes and, when it adds such a file, for the files it deletes. A
    commit (HEAD itself, a past one) loses nothing.
    """
    if not plain or not isinstance(snap, BesideHead):
        return ()
    wanted = set(plain)
    regular_now = set(snap.paths) - snap.links
    same: dict[str, str] = {}
    added: list[str] = []
    gone: dict[str, str] = {}
    for mode, blob, path in snap.changed_since_head():
        in_head = mode in FILE_MODES and set(blob) != {"0"}
        if path in wanted:
            if in_head:
                same[path] = blob
            elif set(blob) == {"0"}:
                added.append(path)
        elif in_head and path not in regular_now:
            gone[path] = blob  # deleted, or now a link
    if not same and not (added and gone):
        return ()
    lost: list[LostFile] = []
    reader = git.BlobReader(snap.root)
    try:
        for path, blob in same.items():
            data = _blob(reader, blob)
            if data is not None and _encrypted(path, data):
                lost.append(LostFile(path, path))
        if added and gone:
            lost.extend(_renamed(snap, reader, added, gone))
    finally:
        reader.close()
    return tuple(sorted(lost, key=lambda f: f.path))


def _blob(reader: git.BlobReader, blob: str) -> bytes | None:
    try:
        return reader.read(blob)
    except OSError:
        return None  # a blob git cannot give (a shallow or partial clone): no answer


def _encrypted(path: str, data: bytes) -> bool:
    entry = scan_file(path, data).sops
    return entry is not None and entry.has_metadata


def _renamed(
    snap: Snapshot, reader: git.BlobReader, added: list[str], gone: dict[str, str]
) -> Iterator[LostFile]:
    """The added files that hold a deleted encrypted file's values in clear."""
    near = {posixpath.dirname(p) for p in added}
    order = sorted(gone, key=lambda p: (posixpath.dirname(p) not in near, p))[:_MAX_GONE]
    shapes: list[tuple[str, _Shape]] = []
    for was in order:
        data = _blob(reader, gone[was])
        entry = scan_file(was, data).sops if data is not None else None
        if entry is None or entry.sops_file is None:
            continue
        shape = _shape(entry.sops_file.docs)
        if shape.encrypted:
            shapes.append((was, shape))
    if not shapes:
        return
    for path in sorted(added):
        values = _plain_values(snap, path)
        if values is None:
            continue
        for was, shape in shapes:
            if shape.paths <= values.keys() and any(_literal(values[p]) for p in shape.encrypted):
                yield LostFile(path, was)
                break


def _leaves(node: Node, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Scalar]]:
    if isinstance(node, MapNode):
        for item in node.items:
            if not isinstance(item, Comment):
                yield from _leaves(item[1], (*path, item[0]))
    elif isinstance(node, SeqNode):
        for element in node.items:
            if not isinstance(element, Comment):
                yield from _leaves(element, path)
    else:
        yield path, node


def _shape(docs: Sequence[Node]) -> _Shape:
    paths: set[tuple[str, ...]] = set()
    encrypted: set[tuple[str, ...]] = set()
    for doc in docs:
        for path, value in _leaves(doc, ()):
            paths.add(path)
            if isinstance(value, str) and value.startswith(_ENC):
                encrypted.add(path)
    return _Shape(frozenset(paths), frozenset(encrypted))


def _plain_values(snap: Snapshot, path: str) -> dict[tuple[str, ...], list[Scalar]] | None:
    """Every leaf value of the structured file ``path`` by key path; None when it is none."""
    fmt = structured_format(path)
    if fmt is None:
        return None
    try:
        text = snap.read(path).decode("utf-8")
        docs = parse_documents(text, fmt)
    except (OSError, UnicodeDecodeError, SecretsmgrError, ValueError):
        return None
    values: dict[tuple[str, ...], list[Scalar]] = {}
    for doc in docs:
        if doc is not None:
            for key_path, value in _leaves(doc, ()):
                values.setdefault(key_path, []).append(value)
    return values


def _literal(values: list[Scalar]) -> bool:
    """Whether one of ``values`` is a value in clear: no placeholder, not empty."""
    return any(
        v is not None and v != "" and not (isinstance(v, str) and has_template(v)) for v in values
    )
