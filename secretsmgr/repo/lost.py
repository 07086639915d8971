"""Files HEAD holds encrypted that this state holds without SOPS metadata.

Two shapes of one mistake: ``sops -d -i`` (the same path, its ``sops`` block gone), and a
decrypted copy under another name with the encrypted file deleted, or replaced by a link to the
copy, in the same change (``sops -d db.enc.yaml > db.yaml && git rm db.enc.yaml``). No name
says SOPS afterwards, so nothing but HEAD tells that the other file holds secrets.

A copy is paired with the deleted file by content, one document at a time (a multi-document
file may be split), not by git's rename detection (ciphertext and plaintext share too few lines
for it). AES-GCM keeps a value's length, so each ``ENC[…]`` value says how long its plaintext is
(a Secret's base64 ``data`` also decoded). The evidence is the payload, never a Kubernetes
object's envelope (``apiVersion``, ``kind``, ``metadata``: an ExternalSecret or a Service of the
same name and namespace is no copy): at least two thirds of the document's encrypted payload
values must be in the copy as literals of the same length (a long value, an embedded config
edited a little, within a quarter of its length), found at the same key path or, when the copy
changed its shape (a ConfigMap's ``data``, a ``.env`` file, Helm values), under the same last
key in any spelling (``API_TOKEN``, ``apiToken``; a container's ``{name: K, value: V}`` as K).
Where the document names a secret (``password``, ``token``…), one such value must be among
them: the settings beside a password are no copy of it, nor is what a split keeps encrypted in
another SOPS file. Of several deleted files a copy matches, the one named most like it is named.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from secretsmgr.errors import SecretsmgrError
from secretsmgr.repo import git
from secretsmgr.repo.placeholders import has_template
from secretsmgr.repo.scan import scan_file
from secretsmgr.repo.snapshot import FILE_MODES, BesideHead, Snapshot, WorktreeSnapshot
from secretsmgr.repo.sopsentry import is_named_sops, structured_format
from secretsmgr.sops.document import FileFormat, SopsFile, parse_documents
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Scalar

# HEAD copies of deleted files read to pair them (SOPS-named and structured ones first, then
# those in the folders of the new files): a change that deletes more is a reorganisation
_MAX_GONE = 5000
# a file no extension says is structured is parsed as one only up to this size
_MAX_UNTYPED = 4 * 1024 * 1024
_ENC_DATA = re.compile(r"^ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),")

KeyPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LostFile:
    """``path`` holds in clear what HEAD holds encrypted at ``was`` (the same path when it was
    decrypted in place); ``in_head``: HEAD has a file at ``path`` too."""

    path: str
    was: str
    in_head: bool = True
    # decrypted in place? No: the file no longer parses (its sops block may be intact); why
    unparsed: str | None = None


@dataclass(frozen=True, slots=True)
class _Shape:
    """One document of an encrypted file: its encrypted payload, as a copy in clear shows it."""

    encrypted: dict[KeyPath, frozenset[int]]  # key path -> the byte lengths of its plaintexts


def lost_since_head(
    snap: Snapshot, plain: Sequence[str], encrypted: Mapping[str, SopsFile]
) -> tuple[LostFile, ...]:
    """The files of ``plain`` (read, no SOPS metadata now) that hold what HEAD holds encrypted;
    ``encrypted``: the SOPS files the same run read, by path.

    One git call lists what the state changes since HEAD; HEAD's blobs are read only for the
    files of ``plain`` it changes and, when it deletes files, for those (and git lists the
    untracked files of a working tree then). A commit (HEAD itself, a past one) loses nothing.
    """
    if not plain or not isinstance(snap, BesideHead):
        return ()
    wanted = set(plain)
    regular_now = set(snap.paths) - snap.links
    same: dict[str, str] = {}
    added: list[str] = []
    gone: dict[str, str] = {}
    sealed: list[str] = []  # changed, not in ``plain``: maybe encrypted now (a split's half)
    for mode, blob, path in snap.changed_since_head():
        in_head = mode in FILE_MODES and set(blob) != {"0"}
        if path in wanted:
            if in_head:
                same[path] = blob
            elif set(blob) == {"0"}:
                added.append(path)
        elif in_head and path not in regular_now:
            gone[path] = blob  # deleted, or now a link
        elif path in regular_now:
            sealed.append(path)
    if gone and isinstance(snap, WorktreeSnapshot):
        known = set(added)
        added += [p for p in snap.untracked() if p in wanted and p not in known]
    if not same and not gone:
        return ()
    lost: list[LostFile] = []
    modified: list[str] = []  # in HEAD in clear, changed since: a copy may overwrite one
    reader = git.BlobReader(snap.root)
    try:
        for path, blob in same.items():
            data = _blob(reader, blob)
            if data is None:
                continue
            if _encrypted(path, data):
                lost.append(LostFile(path, path, unparsed=_parse_error(snap, path)))
            else:
                modified.append(path)
        if gone and (added or modified):
            kept = _sealed_payload(encrypted, sealed)
            lost.extend(_copies(snap, reader, added, modified, gone, kept))
    finally:
        reader.close()
    return tuple(sorted(lost, key=lambda f: f.path))


def _blob(reader: git.BlobReader, blob: str) -> bytes | None:
    try:
        return reader.read(blob)
    except OSError:
        return None  # a blob git cannot give (a shallow or partial clone): no answer


def _sealed_payload(
    encrypted: Mapping[str, SopsFile], paths: list[str]
) -> frozenset[tuple[str, int]]:
    """(key name, plaintext length) of every encrypted payload value of the SOPS files among
    ``paths`` (changed, encrypted now; ``encrypted`` holds the ones the inventory read): what
    a split kept encrypted (the review: a Secret split into an encrypted password and a
    ConfigMap of its host and user was called a copy)."""
    out: set[tuple[str, int]] = set()
    for path in paths:
        sf = encrypted.get(path)
        for doc in sf.docs if sf is not None else ():
            for key_path, sizes in _shape(doc).encrypted.items():
                out.update((_norm(key_path[-1]), size) for size in sizes)
    return frozenset(out)


def _parse_error(snap: Snapshot, path: str) -> str | None:
    """Why the file at ``path`` does not parse now, or None when it does (sweep 97,
    bergvandenp/flux-cluster: one line indented two too far in an encrypted file was
    "decrypted in place?", and the fix to encrypt it again failed on the YAML)."""
    try:
        data = snap.read(path)
        if b"ENC[AES256_GCM," not in data:
            return None  # decrypted (in place) and then broken: its values are in clear
        fmt = structured_format(path) or FileFormat.YAML
        parse_documents(data.decode("utf-8"), fmt)
    except (OSError, UnicodeDecodeError):
        return None
    except SecretsmgrError as exc:
        return exc.message
    return None


def _encrypted(path: str, data: bytes) -> bool:
    entry = scan_file(path, data).sops
    return entry is not None and entry.has_metadata


def _copies(
    snap: Snapshot,
    reader: git.BlobReader,
    added: list[str],
    modified: list[str],
    gone: dict[str, str],
    kept: frozenset[tuple[str, int]] = frozenset(),
) -> Iterator[LostFile]:
    """The added or modified files that hold a deleted encrypted file's values in clear
    (``kept``: the payload the change keeps encrypted elsewhere)."""
    near = {posixpath.dirname(p) for p in (*added, *modified)}

    def order(path: str) -> tuple[bool, bool, str]:
        typed = is_named_sops(path) or structured_format(path) is not None
        return (not typed, posixpath.dirname(path) not in near, path)

    shapes: list[tuple[str, FileFormat, _Shape]] = []
    # a payload's last key and one plaintext length, alone and with its file's folder (a
    # long value under its key alone) -> the shapes that have it
    by_name: dict[tuple[str | None, str, int | None], list[int]] = {}
    for was in sorted(gone, key=order)[:_MAX_GONE]:
        data = _blob(reader, gone[was])
        if data is None or b"ENC[AES256_GCM," not in data:
            continue  # no SOPS value: nothing to parse
        entry = scan_file(was, data).sops
        if entry is None or entry.sops_file is None:
            continue
        for doc in entry.sops_file.docs:
            shape = _shape(doc)
            if shape.encrypted:
                index = {
                    (_norm(p[-1]), size if size < _LONG else None)
                    for p, sizes in shape.encrypted.items()
                    for size in sizes
                }
                for name, size in index:
                    for where in (None, posixpath.dirname(was)):
                        by_name.setdefault((where, name, size), []).append(len(shapes))
                shapes.append((was, entry.sops_file.format, shape))
    if not shapes:
        return
    formats = list(dict.fromkeys(fmt for _, fmt, _ in shapes))
    for path, in_head in sorted([(p, False) for p in added] + [(p, True) for p in modified]):
        folder = posixpath.dirname(path)
        for docs in _plain_docs(snap, path, formats):
            source = _source(path, docs, shapes, by_name, folder, kept)
            if source is not None:
                yield LostFile(path, source, in_head)
                break


# shapes a document of a copy is compared with at most (the same folder's first): a change
# deleting thousands of files of one key layout costs no more than this per added file
_MAX_CANDIDATES = 64


def _source(
    path: str,
    docs: list[dict[KeyPath, list[Scalar]]],
    shapes: list[tuple[str, FileFormat, _Shape]],
    by_name: dict[tuple[str | None, str, int | None], list[int]],
    folder: str,
    kept: frozenset[tuple[str, int]],
) -> str | None:
    """The deleted file one of ``docs`` is a copy of, if any: compared with at most
    ``_MAX_CANDIDATES`` shapes holding one of its values' key and length, those of its own
    folder first."""
    for values in docs:
        names: dict[str, list[Scalar]] = {}
        for key_path, found in values.items():
            if key_path:
                names.setdefault(_norm(key_path[-1]), []).extend(found)
        ids: dict[int, None] = {}
        for where in (folder, None):
            for name, found in names.items():
                sizes = {size for v in found for size in _sizes(v)}
                for key in [(where, name, n) for n in sizes if n < _LONG] + [(where, name, None)]:
                    for i in by_name.get(key, ())[:_MAX_CANDIDATES]:
                        ids.setdefault(i)
                if len(ids) >= _MAX_CANDIDATES:
                    break
        held = [i for i in list(ids)[:_MAX_CANDIDATES] if _holds(values, names, shapes[i][2], kept)]
        if held:
            # lengths may fit several (3,000 Secrets of one layout): the likeliest by name
            stem = posixpath.basename(path)
            best = max(held, key=lambda i: _likeness(stem, posixpath.basename(shapes[i][0])))
            return shapes[best][0]
    return None


def _likeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _leaves(node: Node, path: KeyPath, *, named: bool = False) -> Iterator[tuple[KeyPath, Scalar]]:
    """Every leaf with its key path; with ``named``, a ``{name: K, value: V}`` item (a
    container's ``env``) also as V under key K (the review: a Secret's values inlined into a
    Deployment's env list)."""
    if isinstance(node, MapNode):
        if named:
            name, value = node.get("name"), node.get("value")
            if isinstance(name, str) and name and not isinstance(value, MapNode | SeqNode):
                yield (*path, name), value
        for item in node.items:
            if not isinstance(item, Comment):
                yield from _leaves(item[1], (*path, item[0]), named=named)
    elif isinstance(node, SeqNode):
        for element in node.items:
            if not isinstance(element, Comment):
                yield from _leaves(element, path, named=named)
    else:
        yield path, node


def _text(value: Scalar) -> str:
    """A value as sops encrypts it (YAML's ``true`` is ``True`` in Go's text of a bool: both
    are compared by length only, so the case does not matter)."""
    return "" if value is None else str(value)


# a Kubernetes object's envelope: the same name, namespace or kind says nothing of its payload
_ENVELOPE = frozenset(("apiVersion", "kind", "metadata"))


def _shape(doc: Node) -> _Shape:
    encrypted: dict[KeyPath, set[int]] = {}
    for path, value in _leaves(doc, ()):
        found = _ENC_DATA.match(value) if isinstance(value, str) else None
        if found is None or not path or path[0] in _ENVELOPE:
            continue
        try:
            size = len(base64.b64decode(found.group(1), validate=True))
        except (binascii.Error, ValueError):
            continue
        encrypted.setdefault(path, set()).add(size)
        if path[0] == "data" and size and size % 4 == 0:
            # a Secret's data is base64: a copy may hold it decoded (`kubectl create secret`
            # output turned into a ConfigMap; the review), 3/4 as long less its padding
            encrypted[path].update({size * 3 // 4, size * 3 // 4 - 1, size * 3 // 4 - 2})
    return _Shape({p: frozenset(v) for p, v in encrypted.items()})


def _values(doc: Node) -> dict[KeyPath, list[Scalar]]:
    values: dict[KeyPath, list[Scalar]] = {}
    for path, value in _leaves(doc, (), named=True):
        values.setdefault(path, []).append(value)
    return values


def _plain_docs(
    snap: Snapshot, path: str, formats: list[FileFormat]
) -> Iterator[list[dict[KeyPath, list[Scalar]]]]:
    """The documents of ``path`` as leaf values by key path: read in its extension's format, or
    (no extension says one) in each format of the deleted files."""
    fmt = structured_format(path)
    try:
        data = snap.read(path)
        if fmt is None and len(data) > _MAX_UNTYPED:
            return
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return
    for each in [fmt] if fmt is not None else formats:
        try:
            docs = parse_documents(text, each)
        except (SecretsmgrError, ValueError, RecursionError):
            continue
        yield [_values(d) for d in docs if d is not None]


def _holds(
    values: dict[KeyPath, list[Scalar]],
    names: dict[str, list[Scalar]],
    shape: _Shape,
    kept: frozenset[tuple[str, int]] = frozenset(),
) -> bool:
    """Whether a document (``values`` by key path, ``names`` by last key) is ``shape``'s
    document decrypted: two thirds of its encrypted payload values there in clear, each at
    its key path or else under its last key in any spelling, of the same length (a long one
    within a quarter of it). A split is none: what the copy lacks, the change keeps encrypted
    in another SOPS file (``kept``)."""
    matched = 0
    matched_bytes = 0  # the plaintext the matches account for
    missing: list[tuple[str, frozenset[int]]] = []
    for path, sizes in shape.encrypted.items():
        found = values.get(path) or names.get(_norm(path[-1]), [])
        fits = [n for v in found if _literal(v) for n in _sizes(v) if _sized(n, sizes)]
        if fits:
            matched += 1
            matched_bytes += max(fits)
        else:
            missing.append((_norm(path[-1]), sizes))
    if matched == 0 or 3 * matched < 2 * len(shape.encrypted):
        return False
    secret = {_norm(p[-1]) for p in shape.encrypted if _SECRET_NAME.search(_norm(p[-1]))}
    if secret and secret <= {name for name, _ in missing}:
        # the settings beside a password without it (a user, a host): the secret is not
        # there, and lengths alone pair thousands of settings by chance (the review: 3,000)
        return False
    if not secret and matched_bytes < _MIN_EVIDENCE:
        # no key says secret, and the lengths that fit are a few short settings (a user, a
        # host, a port: the attack review of stop 52, an unrelated ConfigMap was a copy of a
        # deleted Secret, and the fix took the new file away)
        return False
    split = bool(missing) and all(any((n, z) in kept for z in zs) for n, zs in missing)
    return not split


def _norm(name: str) -> str:
    """A key's name in any spelling: ``API_TOKEN``, ``apiToken`` and ``api-token`` alike (sweep
    33: a Secret's API_TOKEN moved into Helm values as apiToken), ``export API_TOKEN`` too."""
    name = name.lower()
    name = name.removeprefix("export ") if name.startswith("export ") else name
    return "".join(c for c in name if c.isalnum())


def _sizes(value: Scalar) -> set[int]:
    """The byte lengths ``value`` may have had encrypted: as it is, and without quotes a
    dotenv line keeps (``KEY="value"``; the review)."""
    text = _text(value)
    sizes = {len(text.encode("utf-8", "surrogateescape"))}
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        sizes.add(len(text[1:-1].encode("utf-8", "surrogateescape")))
    return sizes


_LONG = 64  # bytes from which a value may be an embedded config, edited a little
# bytes of plaintext the lengths that fit must add up to when no key names a secret
_MIN_EVIDENCE = 16
# a key whose name says it holds the secret itself (in any spelling, see _norm)
_SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|apikey|key$|cred|auth|cert|private|salt|jwt|cookie|session|dsn|psk"
)


def _sized(size: int, sizes: frozenset[int]) -> bool:
    return any(size == old or (old >= _LONG and abs(size - old) <= old // 4) for old in sizes)


def _literal(value: Scalar) -> bool:
    """Whether ``value`` is a value in clear: no placeholder, not empty."""
    if value is None or value == "":
        return False
    return not (isinstance(value, str) and has_template(value))


def deleted_yet_listed(
    snap: Snapshot, missing: Mapping[str, str]
) -> tuple[tuple[str, str, str], ...]:
    """(path, layer, named) for each SOPS file HEAD holds encrypted that this state deletes
    while a live layer's build still names it, or the folder it was in (``named``; ``missing``:
    each path a layer's build names and this state lacks, with that layer): the build fails,
    and Flux applies nothing of the layer
    (sweep 37, Osman-SK/home-cluster: `git rm` of one listed Secret passed check). One git call,
    and only where some layer names a missing file."""
    if not missing or not isinstance(snap, BesideHead):
        return ()
    regular_now = set(snap.paths) - snap.links
    gone: dict[str, tuple[str, str]] = {}  # path -> (its blob in HEAD, what a layer names)
    for mode, blob, path in snap.changed_since_head():
        if mode not in FILE_MODES or set(blob) == {"0"} or path in regular_now:
            continue
        # the file itself, or a folder above it (`git rm -r apps/db` with `- db` left behind:
        # the attack review)
        named = next((p for p in _and_folders(path) if p in missing), None)
        if named is not None:
            gone[path] = (blob, named)
    if not gone:
        return ()
    found: list[tuple[str, str, str]] = []
    reader = git.BlobReader(snap.root)
    try:
        for path, (blob, named) in sorted(gone.items()):
            data = _blob(reader, blob)
            if data is not None and _encrypted(path, data):
                found.append((path, missing[named], named))
    finally:
        reader.close()
    return tuple(found)


def _and_folders(path: str) -> Iterator[str]:
    """``path``, then each folder above it."""
    while path:
        yield path
        path = posixpath.dirname(path)
