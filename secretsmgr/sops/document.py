"""Whole files: parse, encrypt, decrypt, verify and write, in YAML, JSON, dotenv or INI."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from secretsmgr.errors import AlreadyEncryptedError, ClearValueError, FormatError, IntegrityError
from secretsmgr.keys.protocols import Identity, Recipient
from secretsmgr.sops import cipher
from secretsmgr.sops.datakey import new_data_key, unwrap_data_key, wrap_data_key
from secretsmgr.sops.dotenvio import (
    META_PREFIX,
    emit_dotenv,
    flatten_metadata,
    parse_dotenv,
    unflatten_metadata,
)
from secretsmgr.sops.encvalue import is_enc, parse_enc
from secretsmgr.sops.iniio import (
    META_SECTION,
    emit_ini,
    metadata_section,
    metadata_section_for,
    parse_ini,
    unflatten_ini_metadata,
    without_metadata,
)
from secretsmgr.sops.jsonio import emit_json, parse_json
from secretsmgr.sops.limits import check_text_size
from secretsmgr.sops.mac import MacAccumulator, compute_mac, mac_aad, macs_equal
from secretsmgr.sops.metadata import (
    SOPS_KEY,
    WRITE_VERSION,
    format_metadata,
    parse_metadata,
)
from secretsmgr.sops.model import EncryptionRule, SopsMetadata
from secretsmgr.sops.rules import Leaf, map_with_rule
from secretsmgr.sops.tree import MapNode, Node, Path, SeqNode, aad_for
from secretsmgr.sops.values import Comment, parse_typed, serialize
from secretsmgr.sops.yamlio import emit_yaml, parse_yaml


class FileFormat(StrEnum):
    """The stores secretsmgr reads and writes."""

    YAML = "yaml"
    JSON = "json"
    DOTENV = "dotenv"
    INI = "ini"


def format_for_path(name: str) -> FileFormat:
    """The text store a file name points to, to read its text in: by extension, in any case
    (``X.JSON`` holding JSON is read as JSON), YAML for anything else.

    sops itself compares extensions case-sensitively: for ``X.YAML`` it uses its binary store.
    So this answers only for reading; a writer of a new file asks ``binary_store_name`` first
    (as encrypt and edit do), and a reader of an existing one ``format_for_text``.
    """
    lower = name.lower()
    if lower.endswith(".json"):
        return FileFormat.JSON
    if lower.endswith(".env"):
        return FileFormat.DOTENV
    if lower.endswith(".ini"):
        return FileFormat.INI
    return FileFormat.YAML


# sops keeps a file whose name has none of its text stores' extensions in its binary store:
# the whole file is one value, and the encrypted file is a JSON object of ``data`` and ``sops``,
# written as its JSON store writes (so it is read, rotated and written here as JSON).
_TEXT_STORE_SUFFIXES = (".yaml", ".yml", ".json", ".env", ".ini")
_BINARY_STORE = re.compile(rb'\A\s*\{\s*"data"\s*:')


def holds_binary_store(data: bytes) -> bool:
    """Whether ``data`` looks like an encrypted binary-store file: ``{"data": …, "sops": …}``."""
    return _BINARY_STORE.match(data) is not None and b'"sops"' in data


# The MAC line each text store writes into its metadata: how Flux's kustomize-controller tells
# an encrypted secretGenerator source (``envs:``, ``files:``) whatever its name.
_STORE_MARKS = (
    (FileFormat.DOTENV, re.compile(rb"(?m)^sops_mac=ENC\[")),
    (FileFormat.INI, re.compile(rb"(?m)^\[sops\][ \t]*\r?$")),
    (FileFormat.JSON, re.compile(rb'"mac"\s*:\s*"ENC\[')),
    (FileFormat.YAML, re.compile(rb"(?m)^[ \t]+mac:[ \t]*ENC\[")),
)


def sniff_store(data: bytes) -> FileFormat | None:
    """The text store whose SOPS metadata ``data`` holds (for a name that says no store, such
    as ``.env.secret.encrypted``), or None."""
    if b"ENC[" not in data:
        return None
    for fmt, mark in _STORE_MARKS:
        if mark.search(data):
            return fmt
    return None


def binary_store_name(name: str) -> bool:
    """Whether sops keeps a file of this name in its binary store (no text store's extension;
    sops compares extensions case-sensitively)."""
    return not name.endswith(_TEXT_STORE_SUFFIXES)


# A copy of a text store's SOPS file under another last extension (``app.sops.yaml.disabled``,
# ``db.enc.json.bak``): sops itself would need ``--input-type``; it is read in that store here.
_COPY_NAME = re.compile(r"(?i)[^/]+\.(?:enc|sops)\.(ya?ml|json|env|ini)\.[^./]+")


def copy_store(name: str) -> FileFormat | None:
    """The text store a copy's name carries (``x.sops.yaml.disabled``: YAML), or None."""
    found = _COPY_NAME.fullmatch(name.rpartition("/")[2])
    if found is None:
        return None
    word = found.group(1).lower()
    return {"env": FileFormat.DOTENV, "json": FileFormat.JSON, "ini": FileFormat.INI}.get(
        word, FileFormat.YAML
    )


def binary_plain(text: str) -> list[MapNode]:
    """A plaintext file as the binary store holds it: one document, the text as ``data``."""
    if holds_binary_store(text.encode("utf-8", "surrogateescape")):
        raise AlreadyEncryptedError("the file is already encrypted (it has sops metadata)")
    return [MapNode([("data", text)])]


def is_binary_store(name: str, text: str) -> bool:
    """Whether sops reads ``name`` in its binary store and ``text`` is that store's encrypted
    form (a ``*.sops``, ``*.sops.sh`` or ``*.conf`` file that sops encrypted)."""
    return binary_store_name(name) and holds_binary_store(text.encode("utf-8", "surrogateescape"))


def format_for_text(name: str, text: str) -> FileFormat:
    """``format_for_path``, except that an encrypted binary-store file is read as the JSON it is
    (never as YAML: written back as YAML, sops could no longer read it), a copy
    (``db.enc.json.bak``) in the store its name carries, and an encrypted file under a name that
    says no store (``.env.secret.encrypted``) in the store its metadata is written in. One answer
    for every reader and writer."""
    if is_binary_store(name, text):
        return FileFormat.JSON
    copy = copy_store(name)
    if copy is None and binary_store_name(name):
        sniffed = sniff_store(text.encode("utf-8", "surrogateescape"))
        if sniffed is not None:
            return sniffed  # encrypted in a text store under a name that says none
    return copy or format_for_path(name)


IvCache = dict[tuple[bytes, str, bytes], bytes]


@dataclass(slots=True)
class SopsFile:
    """An encrypted file: its documents (without the ``sops`` key) and its metadata."""

    format: FileFormat
    docs: list[MapNode]
    metadata: SopsMetadata
    # The ENC strings of a freshly sealed file, in file order (empty for a file read from disk).
    enc_values: tuple[str, ...] = ()


@dataclass(slots=True)
class Decrypted:
    """The plaintext of a file plus what is needed to write it back under the same key."""

    format: FileFormat
    docs: list[MapNode] = field(repr=False)
    metadata: SopsMetadata
    data_key: bytes = field(repr=False)
    ivs: IvCache = field(repr=False, default_factory=dict)


# ----------------------------------------------------------------------------- parsing


def parse_documents(text: str, fmt: FileFormat, *, max_bytes: int | None = None) -> list[Node]:
    """Parse any file (plain or encrypted) into document trees; ``TooLargeError`` over
    ``max_bytes``."""
    check_text_size(text, max_bytes)
    if fmt is FileFormat.JSON:
        return parse_json(text)
    if fmt is FileFormat.DOTENV:
        return parse_dotenv(text)
    if fmt is FileFormat.INI:
        return parse_ini(text)
    return parse_yaml(text)


def _metadata_node(doc: MapNode, fmt: FileFormat) -> Node:
    if fmt is FileFormat.DOTENV:
        pairs = [
            (i[0], i[1])
            for i in doc.items
            if not isinstance(i, Comment) and i[0].startswith(META_PREFIX) and isinstance(i[1], str)
        ]
        return unflatten_metadata(pairs) if pairs else None
    if fmt is FileFormat.INI:
        section = metadata_section(doc)
        return unflatten_ini_metadata(section) if section is not None else None
    return doc.get(SOPS_KEY)


def _strip_metadata(doc: MapNode, fmt: FileFormat) -> MapNode:
    if fmt is FileFormat.DOTENV:
        return MapNode(
            [i for i in doc.items if isinstance(i, Comment) or not i[0].startswith(META_PREFIX)]
        )
    if fmt is FileFormat.INI:
        return without_metadata(doc)
    return doc.without(SOPS_KEY)


def has_metadata(docs: Sequence[Node], fmt: FileFormat) -> bool:
    """Whether the first document carries a ``sops`` block with a version and a MAC."""
    if not docs or not isinstance(docs[0], MapNode):
        return False
    meta = _metadata_node(docs[0], fmt)
    return (
        isinstance(meta, MapNode)
        and meta.get("mac") not in (None, "")
        and (meta.get("version") not in (None, ""))
    )


def load(text: str, fmt: FileFormat, *, max_bytes: int | None = None) -> SopsFile:
    """Parse an encrypted file; ``FormatError`` when it has no (valid) sops metadata,
    ``TooLargeError`` when it is over ``max_bytes``."""
    docs = parse_documents(text, fmt, max_bytes=max_bytes)
    if not docs or not isinstance(docs[0], MapNode):
        raise FormatError("sops metadata not found")
    meta_node = _metadata_node(docs[0], fmt)
    if meta_node is None:
        raise FormatError("sops metadata not found")
    metadata = parse_metadata(meta_node)
    trees: list[MapNode] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, MapNode):
            raise FormatError("the top level of every document must be a mapping")
        trees.append(_strip_metadata(doc, fmt))
    return SopsFile(fmt, trees, metadata)


def parse_plain(text: str, fmt: FileFormat, *, max_bytes: int | None = None) -> list[MapNode]:
    """Parse a plaintext file to encrypt: mappings only, empty documents dropped."""
    if not text.strip():
        raise FormatError("the file is empty")
    docs = [d for d in parse_documents(text, fmt, max_bytes=max_bytes) if d is not None]
    if not docs:
        raise FormatError("the file has no document")
    out: list[MapNode] = []
    for doc in docs:
        if not isinstance(doc, MapNode):
            raise FormatError("the top level of every document must be a mapping")
        out.append(doc)
    if has_metadata(out, fmt):
        raise AlreadyEncryptedError("the file is already encrypted (it has sops metadata)")
    first = out[0]
    reserved = (
        [k for k, _ in _pairs(first) if k.startswith(META_PREFIX)]
        if fmt is FileFormat.DOTENV
        else [SOPS_KEY]
        if first.has(SOPS_KEY)
        else []
    )
    if reserved and fmt is FileFormat.INI:
        raise FormatError(f"the section [{META_SECTION}] is reserved for sops metadata; rename it")
    if reserved:
        raise FormatError(
            f"the top-level key {reserved[0]!r} is reserved for sops metadata; rename it"
        )
    return out


def _pairs(node: MapNode) -> list[tuple[str, Node]]:
    return [i for i in node.items if not isinstance(i, Comment)]


# ----------------------------------------------------------------------------- crypto


def _where(path: Path) -> str:
    return ".".join(path) if path else "(top level)"


def decrypt_docs(
    sf: SopsFile, data_key: bytes, *, verify: bool = True, audit: bool = False
) -> tuple[list[MapNode], IvCache]:
    """Decrypt every value and verify the MAC (unless ``verify`` is false), as ``sops -d``.

    ``IntegrityError`` when a value fails to authenticate (``key_path`` names it) or the MAC
    does not match; ``FormatError`` when a value is unreadable. ``audit`` is the auditor's
    reading of a file sops would refuse for another reason: a plain value where the rule wants
    ``ENC[…]`` (SM003's finding) is fed to the MAC as it stands, and an encrypted comment that
    fails to authenticate is an ``IntegrityError`` like a value (sops silently keeps it).
    """
    ivs: IvCache = {}
    rule = sf.metadata.rule
    mac = MacAccumulator(sf.metadata.mac_only_encrypted)

    def open_leaf(path: Path, leaf: Leaf, encrypted: bool) -> Leaf:
        value = _open_leaf(path, leaf, encrypted)
        mac.feed(value, encrypted)
        return value

    def _open_leaf(path: Path, leaf: Leaf, encrypted: bool) -> Leaf:
        if isinstance(leaf, Comment):
            text = leaf.text
            if encrypted and is_enc(text):
                # Comments are outside the MAC; like sops 3.11, one that does not decrypt
                # (hand-written, or copied from another file) is kept as it is.
                try:
                    return _open(path, text, comment=True)
                except (IntegrityError, FormatError):
                    if audit:
                        raise
                    return leaf
            return leaf
        if not encrypted or leaf is None or leaf == "":
            return leaf
        if isinstance(leaf, str) and is_enc(leaf):
            return _open(path, leaf, comment=False)
        if audit:
            return leaf
        raise ClearValueError(
            f"{_where(path)}: value is in clear where the file's rule encrypts it (sops: does "
            "not match sops' data format)",
            key_path=path,
        )

    def _open(path: Path, text: str, comment: bool) -> Leaf:
        aad = aad_for(path)
        try:
            enc = parse_enc(text)
        except FormatError as exc:
            raise FormatError(f"{_where(path)}: {exc.message}") from exc
        try:
            plain = cipher.open_enc(enc, data_key, aad)
        except IntegrityError as exc:
            raise IntegrityError(
                f"{_where(path)}: value fails to authenticate — the file was changed outside SOPS",
                key_path=path,
            ) from exc
        value = parse_typed(plain, enc.type)
        ivs[(plain, enc.type, aad)] = enc.iv
        return value

    docs = [map_with_rule(doc, rule, open_leaf) for doc in sf.docs]
    trees = [d for d in docs if isinstance(d, MapNode)]
    if verify and not macs_equal(stored_mac(sf.metadata, data_key), mac.hexdigest()):
        raise IntegrityError("MAC mismatch — the file was changed outside SOPS")
    return trees, ivs


def stored_mac(metadata: SopsMetadata, data_key: bytes) -> str:
    """Decrypt the stored MAC string."""
    try:
        enc = parse_enc(metadata.mac)
    except FormatError as exc:
        raise FormatError("sops metadata: mac does not match sops' data format") from exc
    try:
        plain = cipher.open_enc(enc, data_key, mac_aad(metadata.lastmodified))
    except IntegrityError as exc:
        raise IntegrityError(
            "the stored MAC fails to authenticate — the file was changed outside SOPS"
        ) from exc
    return plain.decode("utf-8", "replace")


def verify_mac(docs: Sequence[MapNode], metadata: SopsMetadata, data_key: bytes) -> None:
    """Raise ``IntegrityError`` unless the MAC over ``docs`` equals the stored one."""
    expected = stored_mac(metadata, data_key)
    actual = compute_mac(docs, metadata.rule, metadata.mac_only_encrypted)
    if not macs_equal(expected, actual):
        raise IntegrityError("MAC mismatch — the file was changed outside SOPS")


def decrypt(sf: SopsFile, identities: Sequence[Identity], *, verify: bool = True) -> Decrypted:
    """Recover the data key with ``identities`` and decrypt the whole file."""
    data_key = unwrap_data_key(sf.metadata, identities)
    docs, ivs = decrypt_docs(sf, data_key, verify=verify)
    return Decrypted(sf.format, docs, sf.metadata, data_key, ivs)


def now_lastmodified() -> str:
    """The current UTC time as sops writes ``lastmodified``: whole seconds with ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encrypt_docs(
    docs: Sequence[MapNode],
    data_key: bytes,
    rule: EncryptionRule,
    ivs: IvCache | None = None,
    mac: MacAccumulator | None = None,
    produced: list[str] | None = None,
) -> list[MapNode]:
    """Encrypt every leaf the rule selects; reuse an IV from ``ivs`` for unchanged values.

    ``mac`` is fed every plaintext leaf on the way; ``produced`` collects the ENC strings in
    file order (what ``splice`` writes into the original text).
    """

    def seal(path: Path, leaf: Leaf, encrypted: bool) -> Leaf:
        if mac is not None:
            mac.feed(leaf, encrypted)
        if not encrypted or leaf is None:
            return leaf
        if isinstance(leaf, Comment):
            if leaf.text == "":
                return leaf
        elif leaf == "":
            return leaf
        plain, type_name = serialize(leaf)
        aad = aad_for(path)
        iv = ivs.get((plain, type_name, aad)) if ivs else None
        text = cipher.encrypt_bytes(plain, type_name, data_key, aad, iv)
        if produced is not None:
            produced.append(text)
        return Comment(text) if isinstance(leaf, Comment) else text

    out = [map_with_rule(doc, rule, seal) for doc in docs]
    return [d for d in out if isinstance(d, MapNode)]


def seal(
    docs: Sequence[MapNode],
    *,
    fmt: FileFormat,
    data_key: bytes,
    metadata: SopsMetadata,
    ivs: IvCache | None = None,
    lastmodified: str | None = None,
) -> SopsFile:
    """Encrypt plaintext ``docs`` under ``data_key`` with fresh ``lastmodified`` and MAC.

    ``metadata`` supplies the key groups (already wrapping ``data_key``), rule and flags.
    """
    stamp = lastmodified or now_lastmodified()
    mac = MacAccumulator(metadata.mac_only_encrypted)
    produced: list[str] = []
    sealed_docs = encrypt_docs(docs, data_key, metadata.rule, ivs, mac, produced)
    digest = mac.hexdigest()
    mac_enc = cipher.encrypt_bytes(digest.encode("ascii"), "str", data_key, mac_aad(stamp))
    new_meta = SopsMetadata(
        key_groups=metadata.key_groups,
        lastmodified=stamp,
        mac=mac_enc,
        rule=metadata.rule,
        mac_only_encrypted=metadata.mac_only_encrypted,
        shamir_threshold=metadata.shamir_threshold,
        version=metadata.version,
    )
    return SopsFile(fmt, sealed_docs, new_meta, tuple(produced))


def encrypt(
    docs: Sequence[MapNode],
    *,
    fmt: FileFormat,
    groups: Sequence[Sequence[Recipient]],
    rule: EncryptionRule,
    mac_only_encrypted: bool = False,
    shamir_threshold: int = 0,
    data_key: bytes | None = None,
) -> SopsFile:
    """Encrypt a plaintext file for new: new data key wrapped per recipient."""
    if not any(groups):
        raise FormatError("no recipients to encrypt to")
    key = data_key if data_key is not None else new_data_key()
    key_groups, threshold = wrap_data_key(key, groups, shamir_threshold)
    template = SopsMetadata(
        key_groups=key_groups,
        lastmodified="",
        mac="",
        rule=rule,
        mac_only_encrypted=mac_only_encrypted,
        shamir_threshold=threshold,
        version=WRITE_VERSION,
    )
    return seal(docs, fmt=fmt, data_key=key, metadata=template)


def check_written(text: str, fmt: FileFormat, data_key: bytes) -> None:
    """Refuse to hand out file text that would not read back: it must parse, and every value
    and the MAC must check under ``data_key``. Guards every writer against emitter surprises."""
    try:
        decrypt_docs(load(text, fmt), data_key)
    except IntegrityError as exc:
        # the MAC of what was written fails: a value in clear reads back as another (the
        # interop review of stop 55: "changed outside SOPS" was said of a file being made)
        raise FormatError(
            "the encrypted output would not read back: a value the rule leaves in clear would "
            "read back as another (-0.0 is written -0, which reads as 0; sops writes such a "
            "file and then cannot open it); nothing was written",
            hints=("quote that value, or let the rule encrypt it",),
        ) from exc
    except FormatError as exc:
        raise FormatError(
            f"the encrypted output would not read back ({exc.message}); nothing was written"
        ) from exc


def same_data(a: Sequence[MapNode], b: Sequence[MapNode]) -> bool:
    """Whether two plaintext trees hold the same values, of the same types, and comments in the
    same order: ``1``, ``1.0`` and ``true`` differ (sops writes each with its type: an edit from
    one to another was taken for no change), and ``.nan`` is itself (a rotation of a file holding
    one was refused as not reading back: the interop review of stop 55)."""
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))


def _same(a: object, b: object) -> bool:
    if isinstance(a, MapNode | SeqNode) or isinstance(b, MapNode | SeqNode):
        if not (isinstance(a, MapNode | SeqNode) and isinstance(b, MapNode | SeqNode)):
            return False
        if type(a) is not type(b):
            return False
        items_a: list[object] = list(a.items)
        items_b: list[object] = list(b.items)
        return len(items_a) == len(items_b) and all(
            _same(x, y) for x, y in zip(items_a, items_b, strict=True)
        )
    if isinstance(a, tuple) and isinstance(b, tuple):  # a mapping's (key, value) item
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool | int | float) or isinstance(b, bool | int | float):
        if type(a) is not type(b):
            return False
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
    return a == b


# ----------------------------------------------------------------------------- writing


def dump(sf: SopsFile, indent: int = 4, json_indent: str = "\t") -> str:
    """Write an encrypted file in its format, metadata appended as sops does (``indent``: a
    YAML file's, ``json_indent``: a JSON file's)."""
    meta = format_metadata(sf.metadata)
    if sf.format is FileFormat.YAML:
        return emit_yaml([MapNode([*doc.items, (SOPS_KEY, meta)]) for doc in sf.docs], indent)
    if sf.format is FileFormat.JSON:
        return emit_json(MapNode([*sf.docs[0].items, (SOPS_KEY, meta)]), json_indent)
    if sf.format is FileFormat.INI:
        return emit_ini(MapNode([*sf.docs[0].items, (META_SECTION, metadata_section_for(meta))]))
    doc = MapNode([*sf.docs[0].items, *flatten_metadata(meta)])
    return emit_dotenv(doc)


def dump_plain(
    docs: Sequence[Node], fmt: FileFormat, indent: int = 4, json_indent: str = "\t"
) -> str:
    """Write plaintext documents in their format (what ``sops -d`` prints)."""
    if fmt is FileFormat.YAML:
        return emit_yaml(list(docs), indent)
    if not docs or not isinstance(docs[0], MapNode):
        raise FormatError("nothing to write")
    if fmt is FileFormat.JSON:
        return emit_json(docs[0], json_indent)
    if fmt is FileFormat.INI:
        return emit_ini(docs[0])
    return emit_dotenv(docs[0])
