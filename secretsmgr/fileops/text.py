"""encrypt / decrypt / edit of one file: policy from ``.sops.yaml``, text in, text out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from secretsmgr.errors import (
    ClearValueError,
    ConfigError,
    FormatError,
    IntegrityError,
    RefusedError,
)
from secretsmgr.fileops.keypath import MISSING_TYPE, get, resolve
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.keys.bech32 import short_key
from secretsmgr.keys.protocols import Identity
from secretsmgr.plural import plural
from secretsmgr.repo.placeholders import is_placeholder
from secretsmgr.repo.sopsconfig import (
    CreationRule,
    age_keys_under_pgp,
    find_sops_config,
    load_sops_config,
    match_rule,
)
from secretsmgr.repo.sopsentry import secret_text, values_left_clear
from secretsmgr.sops import (
    Decrypted,
    EncryptionRule,
    FileFormat,
    RuleKind,
    decrypt,
    dump,
    dump_plain,
    encrypt,
    load,
    parse_plain,
    seal,
)
from secretsmgr.sops.datakey import new_data_key, unwrap_data_key
from secretsmgr.sops.document import binary_plain, check_written, decrypt_docs, stored_mac
from secretsmgr.sops.encvalue import is_enc, parse_enc
from secretsmgr.sops.jsonio import emit_json, json_indent
from secretsmgr.sops.mac import MacAccumulator, macs_equal
from secretsmgr.sops.metadata import WRITE_VERSION
from secretsmgr.sops.model import SopsMetadata
from secretsmgr.sops.rules import Leaf, iter_leaves, map_with_rule
from secretsmgr.sops.tree import MapNode, Node, SeqNode
from secretsmgr.sops.values import Comment, Timestamp, format_float_g


@dataclass(frozen=True, slots=True)
class EncryptPolicy:
    """Who a new file is encrypted to and which leaves get encrypted."""

    groups: tuple[tuple[str, ...], ...]
    rule: EncryptionRule
    mac_only_encrypted: bool = False
    shamir_threshold: int = 0
    indent: int = 4
    source: str = ""
    json_indent: str = "\t"  # stores.json.indent


def resolve_policy(
    path: Path, age_override: Sequence[str] = (), *, takes_age: bool = True
) -> EncryptPolicy:
    """The creation rule for ``path`` (first ``.sops.yaml`` found from its folder upwards).

    ``--age`` recipients replace the rule's keys. No rule and no ``--age`` is a ``ConfigError``
    (whose hint offers ``--age`` only to a command that ``takes_age``).
    """
    config_path = find_sops_config(path.resolve().parent)
    config = load_sops_config(config_path) if config_path is not None else None
    rule = match_rule(config, path.resolve()) if config is not None else None
    enc_rule = EncryptionRule()
    mac_only = False
    threshold = 0
    groups: tuple[tuple[str, ...], ...] = ()
    if rule is not None:
        if rule.encryption_rule is not None:
            enc_rule = EncryptionRule(
                RuleKind(rule.encryption_rule.kind), rule.encryption_rule.value
            )
        mac_only = rule.mac_only_encrypted
        threshold = rule.shamir_threshold
        groups = tuple(g.age for g in rule.key_groups if g.age)
    if age_override:
        keys = tuple(k.strip() for a in age_override for k in a.split(",") if k.strip())
        groups = (keys,)
    elif rule is not None and groups:
        _refuse_keys_left_out(path, rule, takes_age)
    if not groups:
        where = f"{config_path}" if config_path else "no .sops.yaml found"
        if config is not None and rule is None:
            # init's "encrypt -i PATH/secret.enc.yaml" where the rules match *-secret.yaml only
            # (sweep 19, falterfriday/fluxcd): say that no rule matches, and what they match
            patterns = [r.path_regex for r in config.rules if r.path_regex][:3]
            shown = f" (its rules match: {', '.join(patterns)})" if patterns else ""
            age = ", or pass --age age1…" if takes_age else ""
            raise ConfigError(
                f"{path}: no creation rule of {config_path} matches it{shown}",
                hints=(f"name the file so that a rule matches it, or add a rule for it{age}",),
            )
        raise ConfigError(
            f"{path}: no age recipients to encrypt to ({where})",
            hints=(_no_age_hint(rule, takes_age),),
        )
    indent = config.yaml_indent if config is not None else 4
    unit = json_indent(config.json_indent if config is not None else -1)
    return EncryptPolicy(
        groups, enc_rule, mac_only, threshold, indent, str(config_path or ""), unit
    )


def _refuse_keys_left_out(path: Path, rule: CreationRule, takes_age: bool) -> None:
    """A rule that names PGP, KMS or Vault keys beside its age keys: it encrypts to
    age keys only, and a file without the others is one their holders (a PGP-decrypting Flux,
    a YubiKey) cannot read, which SM011 reports at once (sweep 19: dcplaya, SVendittelli)."""
    misplaced = set(age_keys_under_pgp(rule))
    kinds = [
        kind
        for kind, present in (
            ("PGP", any(k not in misplaced for g in rule.key_groups for k in g.pgp)),
            ("KMS or Vault", any(g.other for g in rule.key_groups)),
        )
        if present
    ]
    if not kinds:
        return
    age = ("or encrypt to age keys only: --age age1…",) if takes_age else ()
    raise ConfigError(
        f"{path}: the matching creation rule also names {' and '.join(kinds)} keys, which "
        "secretsmgr cannot encrypt to; nothing was written",
        hints=("encrypt it with sops, which encrypts to every key of the rule", *age),
    )


def _no_age_hint(rule: CreationRule | None, takes_age: bool) -> str:
    """What to do when no age key is at hand: a rule, an age key in the rule that matched (it
    named PGP keys only, or an age key under ``pgp:``: sweep 18), or ``--age``."""
    age = ", or pass --age age1…" if takes_age else ""
    if rule is None:
        return "add a creation rule whose path_regex matches the file" + (age or " to .sops.yaml")
    misplaced = age_keys_under_pgp(rule)
    if misplaced:
        key = short_key(misplaced[0])
        return f"the matching rule lists the age key {key} under pgp:; move it under age:"
    return (
        "the matching rule names no age key (only PGP, KMS or Vault keys, which only sops "
        f"encrypts to): add one to it (age: age1…){age}, or encrypt with sops"
    )


def with_pending_key(policy: EncryptPolicy, current: str, pending: str) -> EncryptPolicy:
    """During a cluster-key rotation, every group naming the current key also gets the new one.

    A file created mid-rotation from a ``.sops.yaml`` that still names only the old key would
    otherwise be the one file ``key rotate --finish`` has to refuse.
    """
    groups = tuple((*g, pending) if current in g and pending not in g else g for g in policy.groups)
    return replace(policy, groups=groups)


@dataclass(frozen=True, slots=True)
class Written:
    """New encrypted file text, and the data key under which it was written (for the log)."""

    text: str
    data_key: bytes = field(repr=False)


def secret_values_left_clear(docs: Sequence[Node], rule: EncryptionRule) -> list[str]:
    """Key paths of Kubernetes Secret values (``data``/``stringData``) that ``rule`` leaves in
    clear: what SM003 would report in the file written. Empty values and placeholders
    (``${DB_PASSWORD}``) hide nothing."""
    found: list[str] = []
    for doc in docs:
        if not isinstance(doc, MapNode) or doc.get("kind") != "Secret":
            continue
        if doc.get("apiVersion") != "v1":
            continue
        for path, leaf, encrypted in iter_leaves(doc, rule):
            if encrypted or not path or path[0] not in ("data", "stringData"):
                continue
            if isinstance(leaf, Comment) or leaf is None or leaf == "":
                continue
            if isinstance(leaf, str) and is_placeholder(leaf):
                continue
            found.append(".".join(str(part) for part in path))
    return found


def refuse_clear_secret_values(docs: Sequence[Node], rule: EncryptionRule) -> None:
    """``RefusedError`` when ``rule`` would write a Secret value in clear (nothing is written):
    sops would, without a word; a narrow ``encrypted_regex`` in `.sops.yaml` is the usual cause."""
    if rule.kind not in (RuleKind.ENCRYPTED_REGEX, RuleKind.ENCRYPTED_SUFFIX):
        return  # an unencrypted_* rule (sops's default `_unencrypted` too) names what stays clear
    left = secret_values_left_clear(docs, rule)
    if left:
        raise RefusedError(
            f"the encryption rule ({rule.kind.value}: {rule.value}) would leave {left[0]} of a "
            f"Secret in clear ({plural(len(left), 'such value')}); nothing was written",
            hints=(
                "make the .sops.yaml creation rule for this file encrypt the Secret's values "
                "(for example encrypted_regex: ^(data|stringData)$)",
            ),
        )
    clear = values_left_clear(docs, rule)
    if clear is not None:
        # a Helm values file under a Secret rule (sweep 12): sops writes it, all in clear
        raise RefusedError(
            f"the encryption rule ({rule.kind.value}: {rule.value}) would encrypt no value of "
            f"this file: {clear[0]} and every other value would stay in clear; nothing was "
            "written",
            hints=(
                "give this file a .sops.yaml creation rule of its own, above the one that "
                "matches it now: a path_regex for its name and no encrypted_regex (every value "
                "encrypted)",
            ),
        )


def _comment_leaks(docs: Sequence[MapNode], rule: EncryptionRule) -> set[tuple[str, str]]:
    """``(where, value)`` for each comment ``rule`` leaves in clear that holds a value it
    encrypts (or, under a Secret's ``data``, the text that value is base64 of)."""
    values: set[str] = set()
    comments: list[tuple[str, str]] = []
    for doc in docs:
        for path, leaf, encrypted in iter_leaves(doc, rule):
            if isinstance(leaf, Comment):
                if not encrypted and len(leaf.text.strip()) >= 6:
                    comments.append((".".join(str(p) for p in path), leaf.text))
            elif encrypted and isinstance(leaf, str) and len(leaf.strip()) >= 6:
                decoded = secret_text(".".join(str(p) for p in path), leaf)
                for text in (leaf, decoded or ""):
                    if len(text.strip()) >= 6:
                        values.add(text.strip())
                    # a line of a value of several lines that is one word (a key's, a
                    # token's: the write-side review of stop 55), never a line of words
                    lines = text.strip().splitlines()
                    values.update(
                        line.strip()
                        for line in (lines if len(lines) > 1 else ())
                        if len(line.strip()) >= 8 and " " not in line.strip()
                    )
    return {(where, value) for where, text in comments for value in values if value in text}


def refuse_values_in_clear_comments(
    docs: Sequence[MapNode],
    rule: EncryptionRule,
    before: Sequence[MapNode] = (),
    again: str = "encrypt the file again",
) -> None:
    """``RefusedError`` when a comment ``rule`` leaves in clear holds a value it encrypts that
    it did not hold in ``before``: sops writes the comment as it is, and the value stays
    readable in git (sweep 106, Tim275/pi-cluster: `# this Secret sets the password "…"
    everywhere` above the Secret; `edit` and `set` wrote such a comment too). A leak ``before``
    already held is left to SM003's neighbours, so a file can still be changed to mend it."""
    new = sorted(_comment_leaks(docs, rule) - _comment_leaks(before, rule))
    if new:
        where = new[0][0]
        raise RefusedError(
            f"a comment {'at ' + where if where else 'outside any key'} holds a value this file "
            "encrypts, and sops leaves that comment in clear; nothing was written",
            hints=(f"take the value out of the comment, then {again}",),
        )


def encrypt_text(
    text: str, fmt: FileFormat, policy: EncryptPolicy, *, binary: bool = False
) -> Written:
    """Encrypt a plaintext file; refuses a file that already has sops metadata.

    ``binary``: keep the whole text as one value, as sops's binary store does for a name with
    no text store's extension (written as the JSON object ``{"data": …, "sops": …}``).
    """
    rule, mac_only = policy.rule, policy.mac_only_encrypted
    if binary:  # sops ignores the rule here: the one value is always encrypted
        docs, fmt, rule, mac_only = binary_plain(text), FileFormat.JSON, EncryptionRule(), False
    else:
        docs = parse_plain(text, fmt)
        refuse_clear_secret_values(docs, rule)
        refuse_values_in_clear_comments(docs, rule)
    groups = [[AgeRecipient(k) for k in group] for group in policy.groups]
    key = new_data_key()
    sf = encrypt(
        docs,
        fmt=fmt,
        groups=groups,
        rule=rule,
        mac_only_encrypted=mac_only,
        shamir_threshold=policy.shamir_threshold,
        data_key=key,
    )
    out = dump(sf, policy.indent, policy.json_indent)
    check_written(out, fmt, key)
    return Written(out, key)


def extract(
    docs: Sequence[MapNode], spec: str, fmt: FileFormat, indents: tuple[int, str] = (4, "\t")
) -> str:
    """The value at a key path, printed as sops ``--extract`` prints it (with ``indents``, the
    YAML and JSON ones of the file's ``.sops.yaml``)."""
    root: Node = docs[0] if docs else MapNode()
    found = get(root, resolve(root, spec))
    if isinstance(found, MapNode) and fmt is FileFormat.INI:  # a section: its keys, no header
        return dump_plain([MapNode([("DEFAULT", found)])], fmt)
    if isinstance(found, MapNode):
        shown = fmt if fmt is not FileFormat.DOTENV else FileFormat.YAML
        return dump_plain([found], shown, *indents)
    if isinstance(found, SeqNode):
        # at the top level, as sops prints it (inside a mapping's key it was indented, and an
        # empty list printed nothing: the interop review of stop 55); JSON's in JSON
        if fmt is FileFormat.JSON:
            return emit_json(found, indents[1]).removesuffix("\n")  # no line end after it
        return dump_plain([found], FileFormat.YAML, indents[0])
    assert not isinstance(found, MISSING_TYPE)  # resolve() found it
    # a string as it is; any other value as YAML writes it, with a line end (not from JSON)
    end = "\n" if fmt is FileFormat.YAML and not isinstance(found, str) else ""
    return _scalar_text(found) + end


def _scalar_text(value: Node) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float_g(value)
    if isinstance(value, Timestamp):
        return value.text
    return str(value)


def decrypt_text(
    text: str,
    fmt: FileFormat,
    identities: Sequence[Identity],
    key_path: str | None = None,
    *,
    binary: bool = False,
    indents: tuple[int, str] = (4, "\t"),
) -> str:
    """Decrypt a file (MAC verified) to what ``sops -d`` prints, or one extracted value.

    ``binary``: a binary-store file (read as JSON); ``sops -d`` prints its ``data`` as it is.
    ``indents``: the YAML and JSON indents its ``.sops.yaml`` sets (``sops -d`` prints with
    them).
    """
    decrypted = decrypt(load(text, fmt), identities)
    if key_path is not None:
        return extract(decrypted.docs, key_path, fmt, indents)
    if binary:
        value = decrypted.docs[0].get("data") if decrypted.docs else None
        if isinstance(value, str):
            return value
    return dump_plain(decrypted.docs, fmt, *indents)


def parse_edited(text: str, fmt: FileFormat) -> list[MapNode]:
    """The documents of an edited plaintext; ``FormatError`` saying nothing was changed."""
    try:
        return parse_plain(text, fmt)
    except FormatError as exc:
        raise FormatError(
            f"the edited text is not valid: {exc.message}; nothing was changed"
        ) from exc


def reseal(
    decrypted: Decrypted,
    docs: Sequence[MapNode],
    indent: int = 4,
    *,
    keep_version: bool = False,
    json_indent: str = "\t",
) -> Written:
    """Encrypt ``docs`` under the data key and recipients of ``decrypted``, with a new MAC.

    Unchanged values keep their ciphertext (their IVs are reused), so a diff shows only what
    changed. The result is checked to read back before it is handed out. ``keep_version``: the
    file's ``sops.version`` stays, as ``sops set`` and ``unset`` keep it (``sops edit`` raises it
    to the running version: the interop review of stop 55).
    """
    meta = decrypted.metadata
    refuse_values_in_clear_comments(docs, meta.rule, decrypted.docs, "make the change again")
    template = SopsMetadata(
        key_groups=meta.key_groups,
        lastmodified="",
        mac="",
        rule=meta.rule,
        mac_only_encrypted=meta.mac_only_encrypted,
        shamir_threshold=meta.shamir_threshold,
        version=meta.version if keep_version and meta.version else WRITE_VERSION,
    )
    sealed = seal(
        docs,
        fmt=decrypted.format,
        data_key=decrypted.data_key,
        metadata=template,
        ivs=decrypted.ivs,
    )
    out = dump(sealed, indent, json_indent)
    check_written(out, decrypted.format, decrypted.data_key)
    return Written(out, decrypted.data_key)


def decrypt_file_text(text: str, fmt: FileFormat, identities: Sequence[Identity]) -> Decrypted:
    """Load and decrypt (MAC verified) an encrypted file's text."""
    return decrypt(load(text, fmt), identities)


def _in_clear(leaf: object) -> bool:
    """A value where sops writes ``ENC[…]`` that is not one (nor empty, which sops leaves)."""
    if leaf is None or leaf == "" or isinstance(leaf, Comment):
        return False
    return not (isinstance(leaf, str) and is_enc(leaf))


def decrypt_to_change(
    text: str, fmt: FileFormat, identities: Sequence[Identity]
) -> tuple[Decrypted, tuple[tuple[int | str, ...], ...]]:
    """An encrypted file's text decrypted for ``set``/``unset``, and the exact places (document
    index, then keys and list indexes) of values its rule encrypts that someone added in clear
    by hand (SM003).

    sops refuses such a file whole. Here it opens when everything else is what sops wrote: the
    MAC over the other values matches (sops never counted the added ones). The caller replaces
    or removes the values in clear; they are returned as they stand meanwhile.
    """
    sf = load(text, fmt)
    data_key = unwrap_data_key(sf.metadata, identities)
    try:
        docs, ivs = decrypt_docs(sf, data_key)
        return Decrypted(sf.format, docs, sf.metadata, data_key, ivs), ()
    except ClearValueError:
        rule = sf.metadata.rule
        marked = [map_with_rule(doc, rule, _mark_clear) for doc in sf.docs]
        places = tuple(p for n, doc in enumerate(marked) for p in _marked_places(doc, (n,)))
        if not places:
            raise
    docs, ivs = decrypt_docs(sf, data_key, verify=False, audit=True)
    mac = MacAccumulator(sf.metadata.mac_only_encrypted)
    for doc, mark in zip(docs, marked, strict=True):
        # the same walk over both trees: the values added in clear are left out
        for (_path, leaf, enc), (_, marker, _) in zip(
            iter_leaves(doc, rule), iter_leaves(mark, rule), strict=True
        ):
            if not isinstance(marker, _InClear):
                mac.feed(leaf, enc)
    if not macs_equal(stored_mac(sf.metadata, data_key), mac.hexdigest()):
        raise IntegrityError("MAC mismatch — the file was changed outside SOPS")
    return Decrypted(sf.format, docs, sf.metadata, data_key, ivs), places


class _InClear(str):
    """Stands in for a value added in clear while its place in the tree is looked up."""


def _mark_clear(_path: tuple[str, ...], leaf: Leaf, encrypted: bool) -> Leaf:
    if isinstance(leaf, str) and is_enc(leaf) and _enc_type(leaf) == "comment":
        # sops writes a comment in a list as an item (``- ENC[…,type:comment]``); decrypted it
        # is a comment again, and key paths count list items without comments (the second
        # review: every index after one was off by one, and another value was sealed)
        return Comment(leaf)
    return _InClear() if encrypted and _in_clear(leaf) else leaf


def _enc_type(text: str) -> str | None:
    try:
        return parse_enc(text).type
    except FormatError:
        return None


def _marked_places(node: Node, at: tuple[int | str, ...]) -> Iterator[tuple[int | str, ...]]:
    """The exact place of each marked value: (document, key or list index, …), list items
    counted without comments, as key paths count them."""
    if isinstance(node, _InClear):
        yield at
    elif isinstance(node, MapNode):
        for item in node.items:
            if not isinstance(item, Comment):
                yield from _marked_places(item[1], (*at, item[0]))
    elif isinstance(node, SeqNode):
        items = [e for e in node.items if not isinstance(e, Comment)]
        for index, element in enumerate(items):
            yield from _marked_places(element, (*at, index))


def yaml_indent(path: Path) -> int:
    """The YAML indent of the nearest ``.sops.yaml`` (``stores.yaml.indent``), else 4."""
    return store_indents(path)[0]


def store_indents(path: Path) -> tuple[int, str]:
    """The YAML and JSON indents of the nearest ``.sops.yaml`` (``stores.yaml.indent``, else 4;
    ``stores.json.indent``, else a tab)."""
    config_path = find_sops_config(path.resolve().parent)
    if config_path is None:
        return 4, "\t"
    config = load_sops_config(config_path)
    return config.yaml_indent, json_indent(config.json_indent)


# What sops 3.11 puts in the editor for a file that does not exist yet (its stores'
# EmitExample): the complex example for YAML and JSON, the flat one for dotenv, and for INI
# one section.
_EXAMPLE = MapNode(
    [
        ("hello", "Welcome to SOPS! Edit this file as you please!"),
        ("example_key", "example_value"),
        Comment(" Example comment"),
        ("example_array", SeqNode(["example_value1", "example_value2"])),
        ("example_number", 1234.56789),
        ("example_booleans", SeqNode([True, False])),
    ]
)
_FLAT_EXAMPLE = MapNode(
    [
        Comment(" This is an example file."),
        ("hello", "Welcome to SOPS! Edit this file as you please!"),
        ("example_key", "example_value"),
        ("example_multiline", "foo\nbar\nbaz"),
    ]
)


# sops's INI example, as its editor buffer shows it: sops writes the example, reads it back
# (the comment loses its leading space) and writes that.
_INI_EXAMPLE = MapNode(
    [("Welcome!", MapNode([Comment("This is an example file."), *_FLAT_EXAMPLE.items[1:3]]))]
)


def example_text(fmt: FileFormat, indent: int = 4, json_unit: str = "\t") -> str:
    """The editor buffer for a new file, exactly as sops 3.11 writes it."""
    example = {FileFormat.DOTENV: _FLAT_EXAMPLE, FileFormat.INI: _INI_EXAMPLE}.get(fmt, _EXAMPLE)
    return dump_plain([example], fmt, indent, json_unit)
