"""Regeneration: new random values shaped like the old ones, and where a value sits in a tree.

``regenerate`` makes the value (same length, same alphabet class, padding kept; bounded: it
never loops forever, even on ``"=="``). The tree helpers find the slots a ``--regenerate``
key path names and every other encrypted leaf holding the same old value, which is how a
shared password is found in other files (``--linked``) or refused (without it). A Secret's
``data`` value is base64 of the credential: it is compared, and made anew, as the text it
encodes.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from secretsmgr.changelog.chain import document_key_path
from secretsmgr.errors import RefusedError, UsageError
from secretsmgr.fileops.keypath import KeyPath as Place  # keys and list indexes
from secretsmgr.fileops.keypath import get as get_at
from secretsmgr.fileops.keypath import resolve, set_at
from secretsmgr.repo.sopsentry import SopsEntry
from secretsmgr.sops.model import EncryptionRule
from secretsmgr.sops.rules import Leaf, iter_leaves, map_with_rule
from secretsmgr.sops.tree import MapNode, Node
from secretsmgr.sops.tree import Path as KeyPath

# Smallest class first: a value is regenerated from the first class holding all its characters.
ALPHABETS: tuple[tuple[str, str], ...] = (
    ("digits", string.digits),
    ("hex", "0123456789abcdef"),
    ("HEX", "0123456789ABCDEF"),
    ("lower-alnum", string.ascii_lowercase + string.digits),
    ("alnum", string.ascii_letters + string.digits),
    ("base64url", string.ascii_letters + string.digits + "-_"),
    ("base64", string.ascii_letters + string.digits + "+/="),
    ("printable", "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"'\\`$")),
)
MAX_ATTEMPTS = 64  # a draw equal to the old value is retried; 64 equal draws never happen


@dataclass(frozen=True, slots=True)
class Regeneration:
    """One value replaced by a new random one (the value itself is never kept here)."""

    path: str
    key_path: str
    linked: bool = False
    inside: bool = False  # linked: the old value was part of this value (a URL's password)
    # linked, where the run regenerated several values: the one it holds ("KEY in FILE")
    same_as: str = ""
    document: int = 0  # 1-based, in a file of several documents (key_path names it too)
    # the cluster key's line in a key Secret the repository ships, swapped by ``key rotate``
    # (``keymanifests``): no random value
    cluster_key: bool = False


def alphabet_for(value: str) -> tuple[str, str]:
    """The (name, characters) of the smallest class that holds every character of ``value``."""
    used = set(value)
    for name, chars in ALPHABETS:
        if used <= set(chars):
            return name, chars
    return ALPHABETS[5]


def regenerate(value: object, where: str) -> str:
    """A fresh random string shaped like ``value``; never equal to it.

    Base64 padding (``=`` at the end) is kept and not randomized. A value with nothing left to
    randomize (empty, or padding only such as ``"=="``) is refused, as is the impossible case
    of ``MAX_ATTEMPTS`` draws all equal to the old value.
    """
    if not isinstance(value, str) or not value:
        raise UsageError(f"{where}: only non-empty string values can be regenerated")
    _name, chars = alphabet_for(value)
    if value.endswith("=") and set(value) <= set(ALPHABETS[6][1]):
        body = value.rstrip("=")
        pad = value[len(body) :]
        chars = ALPHABETS[6][1].replace("=", "")
    else:
        body, pad = value, ""
    if not body:
        raise UsageError(f"{where}: the value is padding only; there is nothing to regenerate")
    for _ in range(MAX_ATTEMPTS):
        fresh = "".join(secrets.choice(chars) for _ in body) + pad
        if fresh != value:
            return fresh
    raise UsageError(f"{where}: could not draw a value different from the old one")


def _encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _text_of(value: str, where: str) -> tuple[str, str]:
    """The credential a Secret's ``data`` value encodes: a new one is made like it and encoded
    again (regenerating the base64 text made random bytes, no usable password: sweep 16)."""
    text = _decoded(value)
    if text is None:
        raise UsageError(
            f"{where}: holds base64 of binary content (a key, a certificate?), not a password "
            "that can be drawn at random; make the new one where it is issued and set it",
            hints=("secretsmgr set FILE KEY_PATH --value-file NEW (base64 of the new content)",),
        )
    return text


def _place(doc: Node, spec: str) -> Place | None:
    """Where ``spec`` names a value of ``doc`` (dotted, keys may hold dots, numbers index
    lists; or sops's bracket form), or None when ``doc`` has no such path."""
    try:
        return resolve(doc, spec)
    except UsageError:
        return None


def _keys(place: Place) -> KeyPath:
    """A place as the encryption rules see it: mapping keys only (list items add nothing)."""
    return tuple(k for k in place if isinstance(k, str))


def _refuse_plaintext_slot(entry: SopsEntry, spec: str, doc: MapNode, place: Place) -> None:
    """A new credential never goes where the file's encryption rule leaves values in plaintext
    (``metadata.name``, ``kind`` under ``encrypted_regex: ^(data|stringData)$``). ``doc`` is
    decrypted: key paths count list items as they stand there (in the encrypted text sops keeps
    a list's comment as an item: the second review's value in clear)."""
    sf = entry.sops_file
    assert sf is not None
    clear = {path for path, _leaf, encrypted in iter_leaves(doc, sf.metadata.rule) if not encrypted}
    if _keys(place) in clear:
        raise RefusedError(
            f"{entry.path}: its encryption rule leaves {spec} in plaintext: a new "
            "value there would be committed in clear; nothing was changed",
            hints=("regenerate a key path the rule encrypts (data.*, stringData.*)",),
        )


def dotted(path: KeyPath) -> str:
    """A key path as the CLI names it: ``stringData.password``."""
    return ".".join(path)


def _encoded(doc: MapNode, path: KeyPath | Place) -> bool:
    """Whether the value at ``path`` is a Kubernetes Secret's ``data`` value: base64 of the
    credential, never the credential itself."""
    return len(path) == 2 and path[0] == "data" and doc.get("kind") == "Secret"


def _decoded(value: str) -> tuple[str, str] | None:
    """The text a Secret's ``data`` value encodes and its final line break (``echo pw | base64``
    keeps one), or None: not base64, or no one-line printable text (a key, a certificate)."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    body = text.removesuffix("\n")
    return (body, text[len(body) :]) if body and body.isprintable() else None


def _held(doc: MapNode, path: KeyPath, leaf: str) -> tuple[str, str | None]:
    """The credential a leaf holds, and for a Secret's ``data`` value (decoded, when it is
    text) the line break after it; None for a value held as it stands."""
    found = _decoded(leaf) if _encoded(doc, path) else None
    return found if found else (leaf, None)


# an old value this long found inside another value (a connection URL's password) is part of
# it: the attack review of stop 52, --linked left `postgres://admin:OLD@db` with the old one
MIN_EMBEDDED = 8


def _text(doc: MapNode, path: KeyPath, leaf: str) -> tuple[str, bool]:
    """The text a leaf holds, decoded from base64 for a Secret's ``data`` value when that is
    UTF-8, and whether it was decoded."""
    if _encoded(doc, path):
        try:
            return base64.b64decode(leaf.strip(), validate=True).decode("utf-8"), True
        except (binascii.Error, ValueError):
            pass
    return leaf, False


def _inside(old: str) -> re.Pattern[str]:
    """``old`` as a whole word inside a longer text (not part of a longer run of letters and
    digits: ``postgres`` is not inside ``postgresql``)."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])")


def _count_inside(text: str, old: str) -> int:
    if len(old) < MIN_EMBEDDED or old == text or old not in text:
        return 0
    return len(_inside(old).findall(text))


def _embeds(text: str, values: Collection[str]) -> bool:
    return any(_count_inside(text, v) for v in values)


def _paths_where(doc: MapNode, rule: EncryptionRule, holds: Callable[[str], bool]) -> list[str]:
    """Dotted key paths of the encrypted string leaves whose text ``holds`` accepts."""
    return [
        dotted(path)
        for path, leaf, encrypted in iter_leaves(doc, rule)
        if encrypted and isinstance(leaf, str) and holds(_text(doc, path, leaf)[0])
    ]


def held_more_than_once(doc: MapNode, rule: EncryptionRule, values: Collection[str]) -> list[str]:
    """Dotted key paths of the encrypted leaves holding one of ``values`` more than once inside
    a longer value: which of them is the password cannot be told (the review of stop 52:
    ``postgres://postgres:postgres@postgres…`` lost its scheme, user, host and database)."""
    return _paths_where(doc, rule, lambda text: any(_ambiguous(text, v) for v in values))


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")
# what a new value may hold to stand inside a URL or a config line as it is: a value drawn from
# a wider alphabet (``@``, ``#``, ``/``, ``:``, ``*``…) changes what the text around it means
_SAFE_INSIDE = re.compile(r"[A-Za-z0-9._~-]+")


def _drawn_safely(old: str) -> bool:
    """Whether the new value for ``old``, drawn from the alphabet ``old`` is of, holds only
    characters that stand inside a URL or a config line as they are (the review of stop 52:
    an old ``s3cr.et~pass`` made a new value of printable characters, ``@`` and ``?`` among
    them)."""
    return _SAFE_INSIDE.fullmatch(alphabet_for(old)[1]) is not None


def risky_characters(values: Collection[str]) -> list[str]:
    """The characters the new values of ``values`` may hold that the text around them could
    read otherwise (``+``, ``/``, ``=`` for base64; ``@``, ``#``, ``:`` for printable)."""
    chars = {c for v in values if not v.endswith("\n") for c in alphabet_for(v)[1]}
    return sorted(c for c in chars if not _SAFE_INSIDE.fullmatch(c))[:6]


def held_unsafely(doc: MapNode, rule: EncryptionRule, values: Collection[str]) -> list[str]:
    """Dotted key paths of the encrypted leaves holding one of ``values`` inside a longer
    value where its new value, drawn from the same alphabet, would need escaping (the review
    of stop 52: ``g}A{d1#=…`` cut a connection string's host off at the ``#``). The forms a
    value is also looked for in (with its final line break) are no values of their own."""
    risky = [v for v in values if not v.endswith("\n") and not _drawn_safely(v)]
    if not risky:
        return []
    return _paths_where(doc, rule, lambda text: any(_count_inside(text, v) for v in risky))


def _ambiguous(text: str, old: str) -> bool:
    """Whether ``old`` is inside ``text`` more than once, or once in clear and once more in
    base64 (a docker config's ``auth`` beside its ``password``: the review of stop 52)."""
    count = _count_inside(text, old)
    if count > 1:
        return True
    if count == 0:
        return False
    for run in _BASE64_RUN.findall(text):
        try:
            decoded = base64.b64decode(run, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if old in decoded:
            return True
    return False


def paths_holding(doc: MapNode, rule: EncryptionRule, values: Collection[str]) -> list[str]:
    """Dotted key paths of the encrypted string leaves of ``doc`` holding any of ``values``, as
    the whole value or inside it (a Secret's ``data`` value compared decoded, so
    ``stringData`` elsewhere finds it)."""
    return [
        dotted(path)
        for path, leaf, encrypted in iter_leaves(doc, rule)
        if encrypted
        and isinstance(leaf, str)
        and (_held(doc, path, leaf)[0] in values or _embeds(_text(doc, path, leaf)[0], values))
    ]


def replace_equal(
    doc: MapNode, rule: EncryptionRule, replacements: Mapping[str, str]
) -> tuple[MapNode, list[tuple[str, bool, str]]]:
    """``doc`` with every encrypted leaf holding an old value given its new value (base64 in a
    Secret's ``data``), an old value inside a leaf replaced there, and the dotted key paths
    that changed, each with whether the old value was inside it."""
    hits: list[tuple[str, bool, str]] = []

    def swap(path: KeyPath, leaf: Leaf, encrypted: bool) -> Leaf:
        if not (encrypted and isinstance(leaf, str)):
            return leaf
        plain, newline = _held(doc, path, leaf)
        if plain in replacements:
            hits.append((dotted(path), False, plain))
            new = replacements[plain]
            return new if newline is None else _encode(new + newline)
        text, encoded = _text(doc, path, leaf)
        changed, held = text, ""
        for old, new in replacements.items():
            if _count_inside(changed, old) == 1:
                changed = _inside(old).sub(new.replace("\\", "\\\\"), changed)
                held = held or old
        if changed == text:
            return leaf
        hits.append((dotted(path), True, held))
        return _encode(changed) if encoded else changed

    out = map_with_rule(doc, rule, swap)
    assert isinstance(out, MapNode)
    return out, hits


def regenerate_named(
    specs: Sequence[str], targets: Sequence[SopsEntry], opened: Mapping[str, list[MapNode]]
) -> tuple[dict[str, str], list[Regeneration], dict[str, str]]:
    """Give every ``--regenerate`` key path of the targets a new value, in ``opened`` (changed
    in place). One old value gets one new value wherever it is regenerated. Returns
    {old: new}, what was regenerated where, and {old: where it was regenerated}."""
    replacements: dict[str, str] = {}
    sources: dict[str, str] = {}  # old value -> where it was regenerated, as a label
    done: dict[Regeneration, None] = {}
    for spec in dict.fromkeys(specs):
        hit = False
        for entry in targets:
            docs = opened[entry.path]
            # a file of several documents holding the key path: each gets its own new value,
            # named with its document (the sweep of stop 52: three Secrets' passwords changed
            # and one was named)
            several = len(docs) > 1
            for number, doc in enumerate(docs):
                place = _place(doc, spec)
                if place is None:
                    continue
                document = number + 1 if several else 0
                label = document_key_path(spec, document) if document else spec
                _refuse_plaintext_slot(entry, spec, doc, place)
                old = get_at(doc, place)
                if not isinstance(old, str) or not old:
                    raise UsageError(f"{entry.path}: {spec} is not a non-empty string")
                hit = True
                stored, encoded = old, _encoded(doc, place)
                if encoded:
                    old, newline = _text_of(old, f"{entry.path}: {spec}")
                else:  # a block scalar's final line break is layout, not the credential
                    body = old.removesuffix("\n") or old
                    old, newline = body, old[len(body) :]
                if old in replacements.values():
                    continue  # already regenerated under another name of the same slot
                new = replacements.setdefault(old, regenerate(old, f"{entry.path}: {spec}"))
                written = _encode(new + newline) if encoded else new + newline
                # the same credential kept otherwise elsewhere (the review of sweep 16): the
                # base64 text itself, or the text with a final line break (`pw: |`)
                if encoded:
                    replacements.setdefault(stored, written)
                replacements.setdefault(f"{old}\n", f"{new}\n")
                changed = set_at(doc, place, written)
                assert isinstance(changed, MapNode)
                docs[number] = changed
                done[Regeneration(entry.path, label, document=document)] = None
                sources.setdefault(old, f"{label} in {entry.path}")
        if not hit:
            raise UsageError(f"--regenerate {spec}: no target file has that key path")
    return replacements, list(done), sources
