"""The file operations behind ``encrypt``, ``decrypt``, ``edit``, ``set`` and ``unset``.

Each one that writes inside a repository holds its write lock while it reads what it replaces,
writes and records the change, so it never overwrites another writer's result. Targets that are
symlinks or lie under symlinked folders of the repository are refused (``target``).
"""

from __future__ import annotations

import base64
import binascii
import enum
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from secretsmgr.errors import (
    AlreadyEncryptedError,
    FormatError,
    InputFileError,
    RefusedError,
    SecretsmgrError,
    UsageError,
)
from secretsmgr.fileops import keypath
from secretsmgr.fileops.editor import EditorFn
from secretsmgr.fileops.target import (
    check_write_target,
    is_special_output,
    locked,
    write_output,
    write_special,
)
from secretsmgr.fileops.text import (
    EncryptPolicy,
    Written,
    decrypt_file_text,
    decrypt_text,
    decrypt_to_change,
    encrypt_text,
    example_text,
    parse_edited,
    reseal,
    resolve_policy,
    store_indents,
    with_pending_key,
    yaml_indent,
)
from secretsmgr.fsutil import decode_text, read_bounded, read_text, refuse_over, write_atomic
from secretsmgr.keys.protocols import Identity
from secretsmgr.repo.settings import load_settings
from secretsmgr.shellword import sh_path
from secretsmgr.sops import FileFormat, dump_plain, format_for_path, load
from secretsmgr.sops.document import (
    binary_plain,
    binary_store_name,
    format_for_text,
    has_metadata,
    is_binary_store,
    parse_documents,
    same_data,
)
from secretsmgr.sops.encvalue import PREFIX as ENC
from secretsmgr.sops.iniio import META_SECTION, reads_back
from secretsmgr.sops.jsonio import indent_of
from secretsmgr.sops.limits import limit_text, max_file_bytes
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment

# (path written, action, the file's text before, what was written, key paths changed)
Recorder = Callable[[Path, str, str, Written, tuple[str, ...]], None]
Notify = Callable[[str], None]
MAX_REOPEN = 3  # times edit re-opens the editor on a file another writer changed


def _nothing(*_args: object) -> None:
    return None


# ----------------------------------------------------------------------------- encrypt


def policy_for(
    root: Path | None, path: Path, age: Sequence[str] = (), *, takes_age: bool = True
) -> EncryptPolicy:
    """The creation rule for ``path``; during a cluster-key rotation, the pending key too."""
    policy = resolve_policy(path, age, takes_age=takes_age)
    if not age and root is not None:
        settings = load_settings(root)
        for _cluster, current, pending in settings.pending_rotations:
            policy = with_pending_key(policy, current, pending)
    return policy


def _encrypt(file: Path, text: str, as_path: Path, policy: EncryptPolicy) -> Written:
    try:
        name = as_path.name
        return encrypt_text(text, format_for_path(name), policy, binary=binary_store_name(name))
    except AlreadyEncryptedError as exc:
        raise AlreadyEncryptedError(
            exc.message, hints=(f"to change its values: secretsmgr edit {sh_path(file)}",)
        ) from exc


def _text(file: Path, *, exact: bool = False) -> str:
    """``fsutil.read_text`` of a file the user named, within the run's file-size limit."""
    limit = max_file_bytes()
    return read_text(file, exact=exact, limit=limit, shown=limit_text(limit))


def _bytes(file: Path) -> bytes:
    """The bytes of a file the user named, within the run's file-size limit (``/dev/zero``
    filled the memory: the attack review of stop 50)."""
    limit = max_file_bytes()
    data = read_bounded(file, limit)
    refuse_over(file, data, limit, limit_text(limit))
    return data


def _holds_metadata(name: str, text: str) -> bool:
    """Whether ``text``, the content of a file called ``name``, is an encrypted file."""
    try:
        fmt = format_for_text(name, text)
        return has_metadata(parse_documents(text, fmt), fmt)
    except FormatError:
        return False


def _sops_text(path: Path) -> str:
    """The text of ``path`` when it is an encrypted file (the changelog's "before"), else ""."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    return text if _holds_metadata(path.name, text) else ""


def _plaintext_of(file: Path, exact: bool) -> str:
    """The text to encrypt; an encrypted file is refused before any question of recipients."""
    text = _text(file, exact=exact)
    if _holds_metadata(file.name, text):
        try:
            load(text, format_for_text(file.name, text))
        except FormatError as exc:
            # a sops: block that no sops reads (pasted, or cut short): edit fails on it too
            # (the attack review of stop 52: the edit hint failed, "no lastmodified")
            raise FormatError(
                f"the file has a sops: block that sops cannot read ({exc.message}), so it is "
                "neither a plaintext file nor a SOPS file",
                hints=(
                    "if its values are in clear, delete the sops: block and encrypt it again; "
                    "if it was encrypted, take it back from git "
                    f"(git checkout HEAD -- {sh_path(file)})",
                ),
            ) from exc
        raise AlreadyEncryptedError(
            "the file is already encrypted (it has sops metadata)",
            hints=(f"to change its values: secretsmgr edit {sh_path(file)}",),
        )
    return text


def encrypt_file(
    file: Path,
    *,
    root: Path | None,
    in_place: bool = False,
    output: Path | None = None,
    age: Sequence[str] = (),
    filename_override: Path | None = None,
    record: Recorder = _nothing,
) -> str | None:
    """Encrypt ``file``: over itself, to ``output``, or (returned) for stdout."""
    if in_place and output is not None:
        raise UsageError("-i and -o cannot be used together")
    target = file if in_place else output
    special = output is not None and is_special_output(output)
    if target is not None and not special:
        check_write_target(root, target)
    as_path = filename_override or file
    exact = binary_store_name(as_path.name)  # kept whole: every byte as it is
    if target is None or special:
        plain = _plaintext_of(file, exact)
        text = _encrypt(file, plain, as_path, policy_for(root, as_path, age)).text
        if target is None:
            return text
        write_special(target, text)
        return None
    with locked(root, target):
        plain = _plaintext_of(file, exact)
        written = _encrypt(file, plain, as_path, policy_for(root, as_path, age))
        before = "" if in_place else _sops_text(target)  # a plaintext is never hashed
        write_atomic(target, written.text)
        record(target, "encrypt", before, written, ())
    return None


# ----------------------------------------------------------------------------- decrypt


def decrypt_file(
    file: Path,
    *,
    root: Path | None,
    identities: Sequence[Identity],
    in_place: bool = False,
    output: Path | None = None,
    extract: str | None = None,
) -> str | None:
    """Decrypt ``file`` (MAC verified): over itself, into ``output``, or (returned) for stdout."""
    if in_place and output is not None:
        raise UsageError("-i and -o cannot be used together")
    if in_place and extract is not None:
        raise UsageError("--extract cannot be used with -i (it would replace the file)")
    if output is not None and _same_file(file, output):
        # the write-side review of stop 53: `decrypt F -o F` put the plaintext over the
        # encrypted file with no word; -i says so on purpose
        raise UsageError(
            f"-o {output} is the file being decrypted: its plaintext would replace it",
            hints=(f"to decrypt it in place on purpose: secretsmgr decrypt -i {sh_path(file)}",),
        )
    if not in_place:
        result = _decrypted(file, identities, extract)
        if output is None:
            return result
        write_output(root, output, result)
        return None
    check_write_target(root, file)
    with locked(root, file):
        write_atomic(file, _decrypted(file, identities))
    return None


def _same_file(file: Path, output: Path) -> bool:
    """Whether ``output`` names ``file`` itself (the same path, or a link to it)."""
    try:
        return output.exists() and output.samefile(file)
    except OSError:
        return False


def _decrypted(file: Path, identities: Sequence[Identity], extract: str | None = None) -> str:
    """What ``sops -d`` prints for ``file``: a binary-store file's ``data`` as it is."""
    text = _text(file)
    fmt = format_for_text(file.name, text)
    binary = is_binary_store(file.name, text)
    return decrypt_text(text, fmt, identities, extract, binary=binary, indents=store_indents(file))


# ----------------------------------------------------------------------------- edit


class EditOutcome(enum.StrEnum):
    """What ``edit`` did."""

    SAVED = "saved"
    CREATED = "created"
    UNCHANGED = "unchanged"


def _current(file: Path) -> bytes | None:
    return _bytes(file) if file.exists() else None


def _lost(file: Path, paths: Sequence[str], why: str) -> RefusedError:
    redo = ", ".join(paths) if paths else "(no key path: comments or order only)"
    return RefusedError(
        f"{file} {why}; your changes were not saved",
        hints=(f"run secretsmgr edit {sh_path(file)} again and redo your changes to: {redo}",),
    )


def _create(file: Path, root: Path | None, editor: EditorFn, record: Recorder) -> EditOutcome:
    """Edit a new file from sops's example and encrypt it with its creation rule."""
    if not file.parent.is_dir():
        raise InputFileError(f"{file}: no such folder {file.parent}")
    policy = policy_for(root, file, takes_age=False)  # edit has no --age
    fmt = format_for_path(file.name)
    binary = binary_store_name(file.name)  # kept whole, as sops does: no example to start from
    example = "" if binary else example_text(fmt, policy.indent, policy.json_indent)
    edited = editor(example)
    if edited == example:
        raise RefusedError(f"{file} was not created: the example was saved unchanged")
    if not binary:
        parse_edited(edited, fmt)
    with locked(root, file):
        if file.exists() or file.is_symlink():
            raise RefusedError(
                f"{file} was created by another writer while the editor was open; "
                "your text was not saved",
                hints=(f"secretsmgr edit {sh_path(file)}",),
            )
        check_write_target(root, file)
        written = encrypt_text(edited, fmt, policy, binary=binary)
        write_atomic(file, written.text)
        record(file, "edit", "", written, ())
    return EditOutcome.CREATED


def edit_file(
    file: Path,
    *,
    root: Path | None,
    identities: Sequence[Identity],
    editor: EditorFn,
    notify: Notify = _nothing,
    record: Recorder = _nothing,
) -> EditOutcome:
    """Open ``file`` decrypted in the editor; save only what changed, never over a newer file.

    At save, under the write lock, a file whose bytes changed since it was opened (another
    rotate, set or edit saved it) is not overwritten: the user's changes are applied to the new
    version where their key paths still exist and the editor re-opens on the result, which is
    saved under the new version's data key and recipients. A missing file is created from the
    matching ``.sops.yaml`` rule, starting from sops's example document.
    """
    check_write_target(root, file)
    if not file.exists():
        return _create(file, root, editor, record)
    original = _bytes(file)
    text = decode_text(file, original)  # the bytes just read, not a second read
    fmt = format_for_text(file.name, text)
    decrypted = decrypt_file_text(text, fmt, identities)
    indent = yaml_indent(file)
    unit = indent_of(text)  # a JSON file's indent, as it was written
    whole = is_binary_store(file.name, text) and isinstance(decrypted.docs[0].get("data"), str)

    def plain(docs: Sequence[MapNode]) -> str:  # a binary-store file: its content, as sops shows
        data = docs[0].get("data") if whole else None
        return data if isinstance(data, str) else dump_plain(docs, fmt, indent, unit)

    def parsed(edited: str) -> list[MapNode]:
        return binary_plain(edited) if whole else parse_edited(edited, fmt)

    buffer = plain(decrypted.docs)
    edited = editor(buffer)
    if edited == buffer:
        return EditOutcome.UNCHANGED
    docs = parsed(edited)
    for attempt in range(MAX_REOPEN + 1):
        if same_data(docs, decrypted.docs):
            return EditOutcome.UNCHANGED
        with locked(root, file):
            current = _current(file)
            if current == original:
                written = reseal(decrypted, docs, indent, json_indent=unit)
                write_atomic(file, written.text)
                changed = tuple(_shown(c.path) for c in keypath.diff(decrypted.docs, docs))
                record(file, "edit", text, written, changed)
                return EditOutcome.SAVED
        changes = keypath.diff(decrypted.docs, docs)
        shown = [_shown(c.path) for c in changes]
        if current is None:
            raise _lost(file, shown, "was removed while the editor was open")
        if attempt == MAX_REOPEN:
            raise _lost(file, shown, "keeps changing while the editor is open")
        try:
            text = current.decode("utf-8")
            newer = decrypt_file_text(text, fmt, identities)
        except (UnicodeDecodeError, SecretsmgrError):
            raise _lost(
                file, shown, "changed while the editor was open and cannot be decrypted now"
            ) from None
        merged, skipped = keypath.apply(newer.docs, changes)
        notify(
            f"{file} changed while the editor was open (another writer saved it); "
            "re-opening it with your changes applied to the new version"
        )
        if skipped:
            notify(f"not applied (their key paths are gone): {', '.join(skipped)}")
        original, decrypted = current, newer
        buffer = plain(merged)
        docs = parsed(editor(buffer))
    raise AssertionError("unreachable")  # pragma: no cover


def _shown(path: keypath.KeyPath) -> str:
    keys = path[1:]
    return keypath.format_key_path(keys) if keys else f"document {int(path[0]) + 1}"


# ----------------------------------------------------------------------------- set / unset


@dataclass(frozen=True, slots=True)
class ValueChange:
    """What ``set``/``unset`` did: the key path as recorded, and whether the file changed."""

    key_path: str
    changed: bool


def _check_set(fmt: FileFormat, doc: MapNode, path: keypath.KeyPath, value: Node) -> None:
    shown = keypath.format_key_path(path)
    if fmt is FileFormat.DOTENV:
        key = path[0]
        if len(path) != 1 or not isinstance(key, str):
            raise UsageError(f"{shown}: a dotenv file holds only top-level keys")
        if not key or "=" in key or "\n" in key or key.startswith(("#", "sops_")):
            raise UsageError(f"{shown}: not a valid dotenv key")
        if not isinstance(value, str):
            raise UsageError(f"{shown}: a dotenv file holds only strings")
        return
    if fmt is FileFormat.INI:
        _check_ini_set(path, value)
        return
    if path[0] == "sops":
        raise UsageError("the top-level key sops is reserved for sops metadata")
    if doc.get("kind") != "Secret" or path[0] not in ("data", "stringData"):
        return
    if len(path) > 2:  # stringData.tls.crt split at its dots: the key name held them
        raise UsageError(
            f"{shown}: a Secret's {path[0]} holds only strings",
            hints=(
                f'for a key whose name holds dots, write it as ["{path[0]}"]["name.with.dots"]',
            ),
        )
    if len(path) == 1:
        # the whole mapping replaced by one value: every key gone, a Secret the API server
        # refuses (the attack review of stop 53: `set FILE stringData` exited 0)
        raise UsageError(
            f"{shown}: a Secret's {path[0]} is a mapping of keys, not one value",
            hints=(f"set one key under it: {path[0]}.NAME",),
        )
    if not isinstance(value, str):
        raise UsageError(
            f"{shown}: a Secret's {path[0]} holds only strings",
            hints=("leave out --json: the value is then stored as the string it is",)
            if len(path) == 2
            else (f"set one key under it: {path[0]}.NAME",),
        )
    if path[0] == "data" and not _is_base64(value):
        # the API server refuses the Secret, so Flux's apply of the whole layer fails
        key = path[1] if len(path) > 1 else "NAME"
        raise UsageError(
            f"{shown}: a Secret's data holds base64, and this value is not",
            hints=(
                f"set the text under stringData instead: secretsmgr set FILE stringData.{key}",
                "or give it base64-encoded (base64 -w0 < FILE)",
            ),
        )


def _json_numbers(value: Node) -> Node:
    """``value`` with every integer a float: sops 3.11 reads each number of a JSON file as one
    (``sops set F '["p"]' 7`` writes ``type:float``; set --json wrote ``type:int``, the interop
    review of stop 55)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, MapNode):
        return MapNode(
            [i if isinstance(i, Comment) else (i[0], _json_numbers(i[1])) for i in value.items]
        )
    if isinstance(value, SeqNode):
        return SeqNode([i if isinstance(i, Comment) else _json_numbers(i) for i in value.items])
    return value


def _is_base64(value: str) -> bool:
    """Whether the API server reads ``value`` as base64 (Go's decoder skips line breaks)."""
    try:
        base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _check_ini_set(path: keypath.KeyPath, value: Node) -> None:
    shown = keypath.format_key_path(path)
    if len(path) != 2 or not all(isinstance(p, str) for p in path):
        raise UsageError(
            f"{shown}: an INI file holds keys in sections; name one as SECTION.KEY",
            hints=("keys before any [section] are in DEFAULT: DEFAULT.KEY",),
        )
    section, key = str(path[0]), str(path[1])
    if section == META_SECTION:
        raise UsageError(f"the section [{META_SECTION}] is reserved for sops metadata")
    if not reads_back(section, key):
        raise UsageError(f"{shown}: not a section and key name an INI file reads back")
    if not isinstance(value, str):
        raise UsageError(f"{shown}: an INI file holds only strings")


def _in_plaintext(node: Node | keypath.MISSING_TYPE) -> bool:
    """Whether a sealed subtree holds a value sops left unencrypted (null and "" never are)."""
    return any(
        leaf is not None and not (isinstance(leaf, str) and (leaf == "" or leaf.startswith(ENC)))
        for leaf in keypath.scalar_leaves(node)
    )


def read_value_file(path: Path) -> bytes:
    """The bytes of ``--value-file`` (exactly: no newline translation), up to the file-size
    limit."""
    return _bytes(path)


def _refuse_other_clear(
    file: Path, path: keypath.KeyPath, clear: Sequence[tuple[int | str, ...]]
) -> None:
    """Refuse to re-seal a file holding a value added in clear by hand (SM003) that the change
    at ``path`` (in the first document, as ``set`` and ``unset`` act) neither replaces nor
    removes: sealing would encrypt it unasked, as if it were no leak (the review of sweep 16:
    another list item's or another document's value was sealed)."""
    other = [c for c in clear if not (c[0] == 0 and c[1 : 1 + len(path)] == tuple(path))]
    if not other:
        return
    document, *keys = other[0]
    where = keypath.format_key_path(keys)
    if document != 0:
        raise RefusedError(
            f"{file}: {where} in document {int(document) + 1} is in clear although the file's rule "
            "encrypts it; nothing was changed",
            hints=(
                "set and unset act on the first document: delete that line in a text editor, "
                f"then give the value anew with secretsmgr edit {sh_path(file)}",
            ),
        )
    raise RefusedError(
        f"{file}: {where} is in clear although the file's rule encrypts it; nothing was changed",
        hints=(
            f"set it first (it reads the value from stdin): secretsmgr set {sh_path(file)} "
            f"{shlex.quote(where)}",
            f"or remove it: secretsmgr unset {sh_path(file)} {shlex.quote(where)}",
        ),
    )


def _rewrite(
    file: Path,
    root: Path | None,
    identities: Sequence[Identity],
    action: str,
    change: Callable[[FileFormat, list[MapNode]], tuple[list[MapNode], keypath.KeyPath]],
    record: Recorder,
) -> ValueChange:
    """Decrypt, change, re-seal and record ``file`` under the lock (one read-modify-write)."""
    check_write_target(root, file)
    with locked(root, file):
        text = _text(file)
        fmt = format_for_text(file.name, text)
        decrypted, clear = decrypt_to_change(text, fmt, identities)
        docs, path = change(fmt, decrypted.docs)
        shown = keypath.format_key_path(path)
        _refuse_other_clear(file, path, clear)
        if is_binary_store(file.name, text) and (action != "set" or path != ("data",)):
            # sops reads nothing but one string at data: anything else leaves a file it cannot
            raise RefusedError(
                f"{file} is kept whole by sops (its binary store): only its data can be "
                f"{'set' if action == 'set' else 'changed, never removed'}; nothing was changed",
                hints=(f"secretsmgr edit {sh_path(file)}",),
            )
        if not clear and same_data(docs, decrypted.docs):
            return ValueChange(shown, changed=False)
        written = reseal(
            decrypted, docs, yaml_indent(file), keep_version=True, json_indent=indent_of(text)
        )
        if action == "set":
            sealed = keypath.get(load(written.text, fmt).docs[0], path)
            if _in_plaintext(sealed):
                raise RefusedError(
                    f"{file}: its encryption rule leaves {shown} in plaintext; nothing was changed",
                    hints=(f"set a key the rule encrypts, or secretsmgr edit {sh_path(file)}",),
                )
        write_atomic(file, written.text)
        record(file, action, text, written, (shown,))
    return ValueChange(shown, changed=True)


def set_value(
    file: Path,
    spec: str,
    value: Node,
    *,
    root: Path | None,
    identities: Sequence[Identity],
    record: Recorder = _nothing,
) -> ValueChange:
    """Set one value of an encrypted file (keys on the way created, as ``sops set`` does).

    Only that value's ciphertext, ``lastmodified`` and the MAC change; every other ciphertext
    stays byte-identical. A value the file's rule would leave in plaintext is refused.
    """

    def change(fmt: FileFormat, docs: list[MapNode]) -> tuple[list[MapNode], keypath.KeyPath]:
        first = docs[0] if docs else MapNode()
        path = keypath.resolve_for_set(first, spec)
        if not keypath.holds(first, path):
            _in_another_document(docs, spec, "set", file)
        _check_set(fmt, first, path, value)
        updated = keypath.set_at(
            first, path, _json_numbers(value) if fmt is FileFormat.JSON else value
        )
        assert isinstance(updated, MapNode)
        return [updated, *docs[1:]], path

    return _rewrite(file, root, identities, "set", change, record)


def _in_another_document(docs: Sequence[MapNode], spec: str, command: str, file: Path) -> None:
    """Refuse a key path that the first document lacks and a later one holds: set and unset
    change the first document only, as sops's do, and would add the key to another Secret, or
    find nothing (sweep 95, Vikaspogu/k8s-gitops: `set … stringData.token` on a two-Secret file
    added a token to the first Secret and left the second's as it was, with exit 0)."""
    for number, doc in enumerate(docs[1:], start=2):
        try:
            keypath.resolve(doc, spec)
        except UsageError:
            continue
        raise UsageError(
            f"{spec} is in document {number} of the file, not in the first, the one {command} "
            f"changes (as sops {command} does)",
            hints=(
                f"change document {number} in your editor: secretsmgr edit {sh_path(file)}; or "
                "keep each Secret in a file of its own",
            ),
        )


def unset_value(
    file: Path,
    spec: str,
    *,
    root: Path | None,
    identities: Sequence[Identity],
    record: Recorder = _nothing,
) -> ValueChange:
    """Remove one key (or list item) of an encrypted file; its parent stays, as in sops."""

    def change(fmt: FileFormat, docs: list[MapNode]) -> tuple[list[MapNode], keypath.KeyPath]:
        first = docs[0] if docs else MapNode()
        try:
            path = keypath.resolve(first, spec)
        except UsageError:
            _in_another_document(docs, spec, "unset", file)
            raise
        if not path:
            raise UsageError("the key path is empty")
        updated = keypath.unset_at(first, path, spec)
        assert isinstance(updated, MapNode)
        return [updated, *docs[1:]], path

    return _rewrite(file, root, identities, "unset", change, record)
